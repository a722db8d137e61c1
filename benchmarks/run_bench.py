"""Run monitor speed, measured side by side in one run (targets from the run & monitor issue):

1. status.json line → chart point: time from a line's append to RunProgress holding the point (watchfiles inotify,
   and the polling fallback). Target ≤ 250 ms.
2. Log parsing throughput (LogParser + RunProgress) against a bare ``str.splitlines`` of the same text.
   Target ≥ 20k lines/s.
3. The Run screen under a log flood: (a) a live run whose log grows at 20,000 lines/s for 5 s (TAO-shaped lines,
   appended by a writer in *another process*, as TAO's would be: a writer thread would share the screen's GIL and
   never reach the rate) — targets (issue #26): no event-loop stall > 33 ms (two frames at 60 Hz), each chart
   render ≤ 10 ms. Twice: TAO-shaped (nine lines in ten ``\r``-relayed progress updates: chart points) and
   ``--plain`` (every line an ordinary line: the log pane shows all 20,000 a second); (b) a 200k-line finished log
   replayed as fast as it can be read.
4. Memory over a 1M-line log: traced peak after 100k lines vs after 1M lines (flat = ratio near 1).

    python benchmarks/run_bench.py
    python benchmarks/run_bench.py --screen --against ../main --repeat 3   # 3(a) only: this tree vs another
    python benchmarks/run_bench.py --screen --plain                        # 3(a), every line an ordinary line

Section 3(a) reports the loop's largest stall twice: by the clock (what a person sees: a 5 ms sleep's overshoot,
the box's load included) and by the loop thread's own CPU time between two such ticks (what the app computed at a
stretch, whatever the load). "Chart render" is the Run screen's chart as the compositor draws it each frame on the
loop (``Widget._render_content``: the widget's ``render()``, its conversion to a visual, the strips); plotext's own
builds are timed apart, with the thread each ran on (or asked from, for a build in the charts' helper process).
``--against TREE`` measures 3(a) for another checkout of this repository (say main's) and for this one,
alternately, ``--repeat`` times each in fresh processes, and prints the medians side by side: one run, one box,
one load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

#: The tree measured: this one, or the checkout given as ``--tree`` (a child of ``--against``), first on the path.
TREE = Path(sys.argv[sys.argv.index("--tree") + 1] if "--tree" in sys.argv else Path(__file__).parent.parent)
sys.path.insert(0, str(TREE.resolve()))

from specgen.engine.backend import Backend, Ending, tail  # noqa: E402
from specgen.engine.events import StatusLine  # noqa: E402
from specgen.engine.logparse import LogParser  # noqa: E402
from specgen.engine.progress import RunProgress  # noqa: E402
from specgen.engine.status import watch_status  # noqa: E402


def synthetic_log(lines: int, steps: int = 1000) -> str:
    """TAO-shaped output: one ordinary line per 10, the rest \\r-relayed Lightning progress updates."""
    out = []
    for i in range(lines):
        if i % 10 == 0:
            out.append(f"\n[INFO] iteration {i}: data loader ok\n")
        else:
            e, s = divmod(i, steps)
            out.append(
                f"\rEpoch {e}: {s * 100 // steps}%|#####| {s + 1}/{steps} [00:01<00:09, 4.00it/s, v_num=0, "
                f"train_loss_step={1.0 / (1 + i):.5f}]"
            )
    return "".join(out)


async def status_latency(force_polling: bool, n: int = 40) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train" / "status.json"
        path.parent.mkdir()
        progress = RunProgress()
        seen = asyncio.Event()
        stop = asyncio.Event()

        async def consume() -> None:
            async for batch in watch_status(path, stop, force_polling=force_polling, poll_delay_ms=100):
                for data in batch:
                    progress.apply(StatusLine(data=data))
                seen.set()

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.5)
        delays = []
        with open(path, "a", encoding="utf-8") as f:
            for epoch in range(n):
                seen.clear()
                t0 = time.perf_counter()
                f.write(
                    json.dumps(
                        {
                            "status": "RUNNING",
                            "epoch": epoch,
                            "step": epoch + 1,
                            "kpi": {"train_loss": 1.0 / (epoch + 1)},
                        }
                    )
                    + "\n"
                )
                f.flush()
                while epoch + 1 not in progress.epoch_train:
                    await asyncio.wait_for(seen.wait(), 5)
                    seen.clear()
                delays.append((time.perf_counter() - t0) * 1000)
                await asyncio.sleep(0.05)
        stop.set()
        await task
        return delays


def parse_throughput(text: str, lines: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    text.replace("\r", "\n").splitlines()
    bare = time.perf_counter() - t0
    parser, progress = LogParser(), RunProgress()
    t0 = time.perf_counter()
    for i in range(0, len(text), 65536):
        for event in parser.feed(text[i : i + 65536]):
            progress.apply(event)
    ours = time.perf_counter() - t0
    return lines / ours, ours / bare


def memory(lines: int) -> tuple[float, float]:
    """Traced peak (MiB) after 10% and after all of ``lines``, fed in 64 KiB chunks generated on the fly."""
    parser, progress = LogParser(), RunProgress()
    tracemalloc.start()
    peaks = []
    block = max(1, lines // 10)
    for start in range(0, lines, block):
        chunk = synthetic_log(block).replace("Epoch 0", f"Epoch {start // block}")
        for i in range(0, len(chunk), 65536):
            for event in parser.feed(chunk[i : i + 65536]):
                progress.apply(event)
        if start + block in (lines // 10, lines):
            peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
    tracemalloc.stop()
    return peaks[0], peaks[-1]


async def stall_ticks(screen, tick: float) -> list[tuple[float, float]]:
    """Sleep ``tick`` at a time until the run's verdict: each sleep's overshoot (ms), with its time (s from the
    start) — the loop's stalls as a person would see them."""
    ticks, start = [], time.perf_counter()
    last = start
    while screen.progress.verdict is None:
        await asyncio.sleep(tick)
        now = time.perf_counter()
        ticks.append((now - start, (now - last - tick) * 1000))
        last = now
    return ticks


async def largest_stall(screen, tick: float) -> float:
    """The largest overshoot (ms) of ``stall_ticks``: the loop's worst stall."""
    return max((ms for _, ms in await stall_ticks(screen, tick)), default=0.0)


def worst_after(ticks: list[tuple[float, float]], after: float = 0.0) -> float:
    return max((ms for t, ms in ticks if t >= after), default=0.0)


async def ui_stall(lines: int) -> tuple[float, float]:
    """Replay a ``lines``-line log into the Run screen; return (lines/s absorbed, largest loop stall in ms)."""

    from specgen.engine import registry
    from specgen.engine.records import RunRecord
    from tui.app import DepthnetApp
    from tui.screens.run import RunScreen
    from tui.state import WizardState

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_DATA_HOME"] = tmp
        os.environ["XDG_CONFIG_HOME"] = tmp
        folder = registry.run_dir("bench")
        folder.mkdir(parents=True)
        (folder / "log.txt").write_text(synthetic_log(lines) + "\nExecution status: PASS\n")
        (folder / "exit_code").write_text("0\n")
        record = RunRecord(
            run_id="bench",
            backend="local",
            action="train",
            spec_path=str(Path(tmp) / "none.yaml"),
            results_dir=str(Path(tmp) / "results" / "train"),
            started="now",
            exit_file=str(folder / "exit_code"),
        )
        app = DepthnetApp(WizardState(step="spec"))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.5)
            worst = 0.0
            screen = RunScreen(record, None)
            t0 = time.perf_counter()
            app.push_screen(screen)
            worst = await largest_stall(screen, 0.01)
            took = time.perf_counter() - t0
        return lines / took, worst


#: The writer's process, standing in for TAO's: appends the prepared log to the run's log at ``rate`` lines/s, 100
#: appends a second, byte for byte (its ``\r``-relayed progress updates stay ``\r``: read without newline
#: translation — read with it, as until #26's last round, every update reached the log as an ordinary line), and with each append Lightning's ``train_loss_step`` scalars (one per 20 lines: 1,000 chart
#: points a second) to a TensorBoard event file, TFRecord-framed with masked CRC-32C as Lightning writes them; then
#: TAO's last line. It prints the lines/s it reached.
WRITER = r"""
import os, struct, sys, time
source, log, events, rate = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
TABLE = []
for n in range(256):
    c = n
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    TABLE.append(c)
def masked_crc(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    c ^= 0xFFFFFFFF
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF
def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)
def record(step, loss):
    tag = b"train_loss_step"
    value = b"\x0a" + varint(len(tag)) + tag + b"\x15" + struct.pack("<f", loss)
    summary = b"\x0a" + varint(len(value)) + value
    event = b"\x09" + struct.pack("<d", time.time()) + b"\x10" + varint(step) + b"\x2a" + varint(len(summary)) + summary
    head = struct.pack("<Q", len(event))
    return head + struct.pack("<I", masked_crc(head)) + event + struct.pack("<I", masked_crc(event))
pieces = open(source, encoding="utf-8", newline="").read().splitlines(keepends=True)  # \r kept, as written
batch = max(1, rate // 100)
os.makedirs(os.path.dirname(events), exist_ok=True)
t0 = time.perf_counter()
with open(log, "a", encoding="utf-8", newline="") as f, open(events, "ab") as tb:
    for i in range(0, len(pieces), batch):
        f.write("".join(pieces[i : i + batch]))
        f.flush()
        tb.write(b"".join(record(s, 1.0 / (1 + s)) for s in range(i // 20, (i + batch) // 20)))
        tb.flush()
        delay = t0 + (i + batch) / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    f.write("\nExecution status: PASS\n")
print(len(pieces) / (time.perf_counter() - t0))
"""


class _Streaming(Backend):
    """Stands in for a local process in this benchmark only: the run ends when the writer's process does."""

    name = "local"
    label = "benchmark stand-in"
    gpus_here = False

    def __init__(self, done) -> None:
        super().__init__()
        self.done = done

    @classmethod
    def observe(cls) -> Backend:
        raise NotImplementedError

    def launch(self, req, run_dir, *, lock_fd=None):
        raise NotImplementedError

    def output(self, record, log_path, ended):
        return tail(log_path, ended)

    def wait(self, record, on_state) -> Ending:
        self.done.wait()
        return Ending(0)

    def stop(self, record, timeout=10):
        raise NotImplementedError

    def state(self, record) -> str:
        return "running"


class ChartTimes:
    """The chart's cost, from now on: each render the compositor makes of the Run screen's chart on the loop
    (``Widget._render_content`` of ``#chart``: ``render()``, the visual, the strips), and each plotext ``build()``
    with whether it ran on the loop's thread. The same hooks whatever the chart widget is (a ``PlotextPlot`` that
    builds in ``render()``, a ``Chart`` that builds in a thread, or one whose builds go to the helper process of
    ``tui/widgets/figures.py``, timed from the request to the answer), so two trees are measured alike."""

    def __init__(self) -> None:
        from textual.widget import Widget
        from textual_plotext.plot import Plot

        self.renders: list[float] = []  # by the clock: waits for the GIL (a build thread holds it) included
        self.renders_cpu: list[float] = []  # the loop thread's own CPU in them
        self.builds: list[float] = []
        self.builds_on_loop = 0
        loop_thread = threading.get_ident()
        render, build = Widget._render_content, Plot.build

        def timed_render(widget: Widget) -> None:
            t0, c0 = time.perf_counter(), time.thread_time()
            try:
                render(widget)
            finally:
                if widget.id == "chart":
                    self.renders.append((time.perf_counter() - t0) * 1000)
                    self.renders_cpu.append((time.thread_time() - c0) * 1000)

        def timed_build(plot: Plot) -> str:
            t0 = time.perf_counter()
            try:
                return build(plot)
            finally:
                self.builds.append((time.perf_counter() - t0) * 1000)
                self.builds_on_loop += threading.get_ident() == loop_thread

        Widget._render_content = timed_render  # type: ignore[method-assign,assignment]
        Plot.build = timed_build  # type: ignore[method-assign,assignment]
        try:  # a tree whose charts build their figures in a helper process: each request, sent to answered
            from tui.widgets.figures import FigureProcess
        except ImportError:
            return
        remote = FigureProcess.build

        def timed_remote(helper: FigureProcess, *args: Any, **kwargs: Any) -> str | None:
            t0 = time.perf_counter()
            try:
                return remote(helper, *args, **kwargs)
            finally:
                self.builds.append((time.perf_counter() - t0) * 1000)
                self.builds_on_loop += threading.get_ident() == loop_thread

        FigureProcess.build = timed_remote  # type: ignore[method-assign]

    def clear(self) -> None:
        self.renders.clear()
        self.renders_cpu.clear()
        self.builds.clear()
        self.builds_on_loop = 0


async def loop_cpu_ticks(stop: asyncio.Event, tick: float = 0.005) -> list[tuple[float, float]]:
    """The CPU (ms) the loop's thread computed between two ``tick`` sleeps until ``stop``, with its time (s from
    the start): the stalls the app itself caused, which a loaded box's scheduling does not lengthen
    (``time.thread_time``)."""
    ticks, start, last = [], time.perf_counter(), time.thread_time()
    while not stop.is_set():
        await asyncio.sleep(tick)
        now = time.thread_time()
        ticks.append((time.perf_counter() - start, (now - last) * 1000))
        last = now
    return ticks


async def ui_stall_stream(rate: int = 20_000, seconds: float = 5.0, plain: bool = False) -> dict[str, object]:
    """A live log growing at ``rate`` lines/s into the Run screen, written by another process (its pid is not
    ours: checked); the writer's reached rate, the loop's largest stall by the clock and by its own CPU, the chart's
    renders and plotext's builds (``ChartTimes``). The log is ``synthetic_log``'s: nine lines in ten are
    ``\r``-relayed progress updates (chart points, not log-pane lines); ``plain``: every ``\r`` a ``\n``, so all
    20,000 lines a second are ordinary lines for the log pane (what this section measured until #26's last round)."""
    from specgen.engine import registry
    from specgen.engine.records import RunRecord
    from tui.app import DepthnetApp
    from tui.screens.run import RunScreen
    from tui.state import WizardState

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_DATA_HOME"] = tmp
        os.environ["XDG_CONFIG_HOME"] = tmp
        folder = registry.run_dir("stream")
        folder.mkdir(parents=True)
        log = folder / "log.txt"
        log.touch()
        record = RunRecord(
            run_id="stream",
            backend="local",
            action="train",
            spec_path=str(Path(tmp) / "none.yaml"),
            results_dir=str(Path(tmp) / "results" / "train"),
            started="now",
        )
        done = threading.Event()
        total = int(rate * seconds)
        events = Path(record.results_dir) / "lightning_logs" / "version_1" / "events.out.tfevents.0.bench.1.0"
        source = Path(tmp) / "source.txt"
        text = synthetic_log(total)
        source.write_text(text.replace("\r", "\n") if plain else text, encoding="utf-8", newline="")
        charts = ChartTimes()
        app = DepthnetApp(WizardState(step="spec"))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.5)
            screen = RunScreen(record, _Streaming(done))
            app.push_screen(screen)
            await pilot.pause(0.3)
            charts.clear()
            load = os.getloadavg()[0]
            writer = subprocess.Popen(
                [sys.executable, "-c", WRITER, str(source), str(log), str(events), str(rate)],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert writer.pid != os.getpid()  # the lines come from another process, with its own GIL
            reached: list[float] = []

            def wait_writer() -> None:
                out, _ = writer.communicate()
                reached.append(float(out.split()[-1]))
                done.set()

            threading.Thread(target=wait_writer, daemon=True).start()
            stop = asyncio.Event()
            cpu = asyncio.create_task(loop_cpu_ticks(stop))
            wall = await stall_ticks(screen, 0.005)
            stop.set()
            own = await cpu
            points = len(screen.progress.step_loss)
        import tui

        return {
            "tree": str(Path(tui.__file__).resolve().parent.parent),
            "plain": plain,
            "load": load,
            "lines": total,
            "reached": reached[0],
            "points": points,
            "stall_ms": worst_after(wall),
            "stall_cpu_ms": worst_after(own),
            # after the first second: the follower's one-time start (its first imports) left out
            "steady_ms": worst_after(wall, 1.0),
            "steady_cpu_ms": worst_after(own, 1.0),
            "renders": list(charts.renders),
            "renders_cpu": list(charts.renders_cpu),
            "builds": list(charts.builds),
            "builds_on_loop": charts.builds_on_loop,
        }


def stream_line(r: dict[str, Any]) -> str:
    renders, builds = r["renders"], r["builds"]
    return (
        f"{r['lines']:,} {'ordinary ' if r.get('plain') else 'TAO-shaped '}lines, the writer reached {r['reached']:,.0f} lines/s ({r['points']} chart points); "
        f"largest loop stall {r['stall_ms']:.0f} ms by the clock, {r['stall_cpu_ms']:.0f} ms of the loop's CPU; "
        f"after the first second {r['steady_ms']:.0f} ms, {r['steady_cpu_ms']:.0f} ms (target ≤ 33 ms); chart render per frame median {statistics.median(renders) if renders else 0:.1f} ms, "
        f"max {max(renders, default=0):.1f} ms over {len(renders)} frames, the loop's CPU in them max "
        f"{max(r['renders_cpu'], default=0):.1f} ms (target ≤ 10 ms); plotext builds "
        f"median {statistics.median(builds) if builds else 0:.1f} ms × {len(builds)}, {r['builds_on_loop']} of "
        f"them on the loop; load average {r['load']:.1f} at the start"
    )


def side_by_side(against: Path, repeat: int, plain: bool = False) -> None:
    """Section 3(a) for ``against`` and for this tree, alternately, ``repeat`` times each, each in a fresh
    process; every run's line, then the medians side by side."""
    trees = {"other": against.resolve(), "this": TREE.resolve()}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    for i in range(repeat):
        for name, tree in trees.items():
            done = subprocess.run(
                [sys.executable, __file__, "--tree", str(tree), "--json", *(["--plain"] if plain else [])],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(done.stdout.splitlines()[-1])
            assert Path(r["tree"]) == tree, (r["tree"], tree)  # the tree asked for was the one imported
            runs[name].append(r)
            print(f"{name} ({tree}) #{i + 1}: {stream_line(r)}", flush=True)
    lines = "ordinary lines" if plain else "TAO-shaped lines"
    print(f"medians of {repeat}, Run screen at 20,000 {lines}/s from another process:")
    print("| | " + " | ".join(f"{n} ({trees[n].name})" for n in trees) + " | target |")
    print("|---|" + "---|" * len(trees) + "---|")

    def row(what: str, fig: Any, target: str) -> None:
        print(f"| {what} | " + " | ".join(fig(runs[n]) for n in trees) + f" | {target} |")

    def med(key: str) -> Any:
        return lambda rs: f"{statistics.median(r[key] for r in rs):.0f} ms"

    def med_of(key: str, pick: Any) -> Any:
        return lambda rs: f"{statistics.median(pick(r[key]) if r[key] else 0 for r in rs):.1f} ms"

    row("largest loop stall, by the clock", med("stall_ms"), "≤ 33 ms")
    row("largest loop stall, the loop's own CPU", med("stall_cpu_ms"), "≤ 33 ms")
    row("the same after the first second, by the clock", med("steady_ms"), "≤ 33 ms")
    row("the same after the first second, the loop's CPU", med("steady_cpu_ms"), "≤ 33 ms")
    row("chart render per frame, median", med_of("renders", statistics.median), "≤ 10 ms")
    row("chart render per frame, max", med_of("renders", max), "≤ 10 ms")
    row("chart render per frame, max of the loop's CPU", med_of("renders_cpu", max), "≤ 10 ms")
    row("plotext build, median", med_of("builds", statistics.median), "")
    row("plotext builds on the loop", lambda rs: "/".join(f"{r['builds_on_loop']}" for r in rs), "0")
    row(
        "writer reached (lines/s)", lambda rs: f"{statistics.median(r['reached'] for r in rs):,.0f}", "20,000"
    )
    row("load average at the start", lambda rs: "/".join(f"{r['load']:.1f}" for r in rs), "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--screen", action="store_true", help="section 3(a) only: the Run screen under a live flood"
    )
    ap.add_argument("--against", type=Path, help="another checkout: 3(a) for it and this tree, side by side")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each tree with --against (medians)")
    ap.add_argument(
        "--plain",
        action="store_true",
        help="3(a) with every line an ordinary line (no \\r-relayed progress updates): the log pane gets them all",
    )
    ap.add_argument("--tree", type=Path, help=argparse.SUPPRESS)  # read at import: the tree on the path
    ap.add_argument(
        "--json", action="store_true", help=argparse.SUPPRESS
    )  # one 3(a) run as JSON, for --against
    args = ap.parse_args()
    if args.json:
        print(json.dumps(asyncio.run(ui_stall_stream(plain=args.plain))))
        return
    if args.against is not None:
        side_by_side(args.against, args.repeat, args.plain)
        return
    if args.screen:
        print(
            "Run screen, live log at 20,000 lines/s from another process: "
            + stream_line(asyncio.run(ui_stall_stream(plain=args.plain)))
        )
        return
    inotify = asyncio.run(status_latency(False))
    polling = asyncio.run(status_latency(True))
    for name, d in (("inotify", inotify), ("polling", polling)):
        q = statistics.quantiles(d, n=20)
        print(
            f"status.json line → chart point ({name}): median {statistics.median(d):.1f} ms, p95 {q[18]:.1f} ms, "
            f"max {max(d):.1f} ms (target ≤ 250 ms)"
        )
    n = 1_000_000
    text = synthetic_log(n)
    rate, ratio = parse_throughput(text, n)
    print(
        f"log parsing: {rate:,.0f} lines/s over {n:,} lines ({ratio:.1f}× a bare splitlines) (target ≥ 20,000)"
    )
    del text
    for plain in (False, True):
        print(
            "Run screen, live log at 20,000 lines/s from another process: "
            + stream_line(asyncio.run(ui_stall_stream(plain=plain)))
        )
    absorbed, stall = asyncio.run(ui_stall(200_000))
    print(
        f"Run screen, finished 200,000-line log replayed: {absorbed:,.0f} lines/s absorbed, largest loop stall "
        f"{stall:.0f} ms"
    )
    small, big = memory(n)
    print(
        f"memory: traced peak {small:.1f} MiB after {n // 10:,} lines, {big:.1f} MiB after {n:,} "
        f"({big / small:.2f}×; flat ≈ 1)"
    )


if __name__ == "__main__":
    main()
