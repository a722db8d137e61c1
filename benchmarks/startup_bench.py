"""Start-up: time from process start to the app's first rendered frame (target < 1 s on 2 cores).

    python benchmarks/startup_bench.py [--runs 5]

Runs ``depthnet-tui`` headless in a fresh interpreter each time (imports included), and prints, side by side,
the bare cost of starting Python and importing Textual, so the app's own share is visible.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

PROBE = r"""
import time, asyncio
t0 = time.perf_counter()
from tui.app import DepthnetApp
t_import = time.perf_counter() - t0
async def main():
    app = DepthnetApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
    return time.perf_counter() - t0
total = asyncio.run(main())
print(f"{t_import:.4f} {total:.4f}")
"""

BARE = "import textual.app, time; print(0)"


def run(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    bare = [run(BARE) for _ in range(args.runs)]
    first_frames, imports, walls = [], [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", PROBE], check=True, capture_output=True, text=True).stdout.split()
        walls.append(time.perf_counter() - t0)
        imports.append(float(out[0]))
        first_frames.append(float(out[1]))
    med = statistics.median
    print(f"{'what':<48} | {'median':>8}")
    print(f"{'python + import textual (bare)':<48} | {med(bare) * 1e3:>5.0f} ms")
    print(f"{'import tui.app (in-process)':<48} | {med(imports) * 1e3:>5.0f} ms")
    print(f"{'in-process: import → first frame':<48} | {med(first_frames) * 1e3:>5.0f} ms")
    print(f"{'whole process: start → first frame → exit':<48} | {med(walls) * 1e3:>5.0f} ms")
    print(f"ratio whole/bare: {med(walls) / med(bare):.2f}x; target: first frame < 1 s")


if __name__ == "__main__":
    main()
