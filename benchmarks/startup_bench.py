"""Start-up: ``depthnet-tui`` to its first frame against a minimal Textual app (Header + OptionList + Footer),
both in fresh interpreters, side by side in one run. Target (issue #14): CPU time and peak RSS ≤ 1.5× the
minimal app's.

    python benchmarks/startup_bench.py [--runs 7]

Each probe runs the app headless (``run_test`` at 80×24) to its first frame, then reports the process's CPU time
(user + sys, imports included) and peak RSS from ``getrusage``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

MEASURE = r"""
import resource
u = resource.getrusage(resource.RUSAGE_SELF)
print(f"{u.ru_utime + u.ru_stime:.4f} {u.ru_maxrss / 1024:.1f}")
"""

OURS = (
    r"""
import asyncio
from tui.app import DepthnetApp
async def main():
    async with DepthnetApp().run_test(size=(80, 24)) as pilot:
        await pilot.pause()
asyncio.run(main())
"""
    + MEASURE
)

MINIMAL = (
    r"""
import asyncio
from textual.app import App
from textual.widgets import Footer, Header, OptionList
class Minimal(App):
    def compose(self):
        yield Header()
        yield OptionList("New setup", "Resume", "Try it with sample data")
        yield Footer()
async def main():
    async with Minimal().run_test(size=(80, 24)) as pilot:
        await pilot.pause()
asyncio.run(main())
"""
    + MEASURE
)


def probe(code: str) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.split()
    return float(out[-2]), float(out[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    ours, minimal = [], []
    for _ in range(args.runs):  # interleaved, so drift in the machine's load hits both alike
        minimal.append(probe(MINIMAL))
        ours.append(probe(OURS))
    med = statistics.median
    cpu_o, cpu_m = med(c for c, _ in ours), med(c for c, _ in minimal)
    rss_o, rss_m = med(r for _, r in ours), med(r for _, r in minimal)
    print(f"{'first frame at 80x24':<34} | {'CPU (median)':>12} | {'peak RSS':>10}")
    print(f"{'minimal Textual app':<34} | {cpu_m * 1e3:>9.0f} ms | {rss_m:>6.1f} MiB")
    print(f"{'depthnet-tui':<34} | {cpu_o * 1e3:>9.0f} ms | {rss_o:>6.1f} MiB")
    print(f"ratio CPU {cpu_o / cpu_m:.2f}x (target ≤ 1.5x) · ratio RSS {rss_o / rss_m:.2f}x (target ≤ 1.5x)")


if __name__ == "__main__":
    main()
