"""Start-up: ``depthnet-tui`` to its first frame against a minimal Textual app (Header + OptionList + Footer),
all in fresh interpreters, side by side in one run. Targets (issues #14, #26): CPU time and peak RSS ≤ 1.5× the
minimal app's, for a later start (Welcome) and for the first start (the Setup screen over Welcome).

    python benchmarks/startup_bench.py [--runs 7]

Each probe runs the app headless (``run_test`` at 80×24) to its first frame (the screen it opens on, painted: the
first callback that screen queues for after its paint) and reports, there, the process's CPU
time (user + sys of all its threads, imports included) and peak RSS from ``getrusage``. The Setup screen starts its
checks (the Docker SDK, NVML) once its frame is drawn: what they cost afterwards is not the first frame's. Bytecode
is compiled once into a private cache (``PYTHONPYCACHEPREFIX``) before the runs, for every probe alike, so no probe
pays for compiling (a user's installation has its bytecode).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

MEASURE = r"""
import asyncio
import resource

measured = asyncio.Event()


def measure() -> None:
    u = resource.getrusage(resource.RUSAGE_SELF)
    print(f"{u.ru_utime + u.ru_stime:.4f} {u.ru_maxrss / 1024:.1f}", flush=True)
    measured.set()


def at_first_frame(screen_class) -> None:
    # the measure is the first callback the screen queues for after its first paint: ahead of its own (the
    # Setup screen starts its checks there)
    own = getattr(screen_class, "on_mount", None)

    def on_mount(self):
        self.call_after_refresh(measure)
        if own is not None:
            own(self)

    screen_class.on_mount = on_mount


async def run(app) -> None:
    async with app.run_test(size=(80, 24)):
        await measured.wait()
"""

OURS = (
    MEASURE
    + r"""
from tui.app import DepthnetApp
from tui.screens.setup import SetupScreen
from tui.screens.welcome import WelcomeScreen
at_first_frame(SetupScreen if SETUP else WelcomeScreen)
asyncio.run(run(DepthnetApp(show_setup=SETUP)))
"""
)

MINIMAL = (
    MEASURE
    + r"""
from textual.app import App
from textual.widgets import Footer, Header, OptionList
class Minimal(App):
    def compose(self):
        yield Header()
        yield OptionList("New setup", "Resume", "Try it with sample data")
        yield Footer()
    def on_mount(self):  # its default screen is mounted before the app runs: the app queues the measure
        self.call_after_refresh(measure)
asyncio.run(run(Minimal()))
"""
)

PROBES = {
    "minimal Textual app": MINIMAL,
    "depthnet-tui, later start (Welcome)": OURS.replace("SETUP", "False").replace(
        "SCREEN", "'WelcomeScreen'"
    ),
    "depthnet-tui, first start (Setup)": OURS.replace("SETUP", "True").replace("SCREEN", "'SetupScreen'"),
}


def probe(code: str, env: dict[str, str]) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env
    ).stdout.split()
    return float(out[-2]), float(out[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="startup_bench_") as tmp:
        env = {**os.environ, "PYTHONPYCACHEPREFIX": os.path.join(tmp, "pyc"), "XDG_CONFIG_HOME": tmp}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        for code in PROBES.values():  # compile every module once, for all probes alike
            probe(code, env)
        got: dict[str, list[tuple[float, float]]] = {name: [] for name in PROBES}
        for _ in range(args.runs):  # interleaved, so drift in the machine's load hits all alike
            for name, code in PROBES.items():
                got[name].append(probe(code, env))
    med = statistics.median
    base = got["minimal Textual app"]
    print(
        f"{'first frame at 80x24':<38} | {'CPU (median)':>12} | {'peak RSS':>10} | {'ratio CPU':>9} | {'ratio RSS':>9}"
    )
    for name, runs in got.items():
        cpu = med(c for c, _ in runs)
        rss = med(r for _, r in runs)
        cpu_ratio = med(c / b for (c, _), (b, _) in zip(runs, base, strict=True))
        rss_ratio = med(r / b for (_, r), (_, b) in zip(runs, base, strict=True))
        print(
            f"{name:<38} | {cpu * 1e3:>9.0f} ms | {rss:>6.1f} MiB | {cpu_ratio:>8.2f}x | {rss_ratio:>8.2f}x"
        )
    print(
        f"targets: ratios ≤ 1.5x; medians of {args.runs} interleaved runs (python {sys.version.split()[0]})"
    )


if __name__ == "__main__":
    main()
