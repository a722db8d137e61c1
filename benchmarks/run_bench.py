"""Run monitor speed, measured side by side in one run (targets from the run & monitor issue):

1. status.json line → chart point: time from a line's append to RunProgress holding the point (watchfiles inotify,
   and the polling fallback). Target ≤ 250 ms.
2. Log parsing throughput (LogParser + RunProgress) against a bare ``str.splitlines`` of the same text.
   Target ≥ 20k lines/s.
3. The Run screen under a log flood: (a) a live run whose log grows at 20,000 lines/s for 5 s (TAO-shaped lines,
   appended by a writer in *another process*, as TAO's would be: a writer thread would share the screen's GIL and
   never reach the rate) — targets (issue #26): no event-loop stall > 33 ms (two frames at 60 Hz), each chart
   render ≤ 10 ms; (b) a 200k-line finished log replayed as fast as it can be read.
4. Memory over a 1M-line log: traced peak after 100k lines vs after 1M lines (flat = ratio near 1).

    python benchmarks/run_bench.py
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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
    block = 10_000
    for start in range(0, lines, block):
        chunk = synthetic_log(block).replace("Epoch 0", f"Epoch {start // block}")
        for i in range(0, len(chunk), 65536):
            for event in parser.feed(chunk[i : i + 65536]):
                progress.apply(event)
        if start + block in (lines // 10, lines):
            peaks.append(tracemalloc.get_traced_memory()[1] / 2**20)
    tracemalloc.stop()
    return peaks[0], peaks[-1]


async def largest_stall(screen, tick: float) -> float:
    """Sleep ``tick`` at a time until the run's verdict; the largest overshoot (ms) is the loop's worst stall."""
    worst, last = 0.0, time.perf_counter()
    while screen.progress.verdict is None:
        await asyncio.sleep(tick)
        now = time.perf_counter()
        worst = max(worst, (now - last - tick) * 1000)
        last = now
    return worst


async def ui_stall(lines: int) -> tuple[float, float]:
    """Replay a ``lines``-line log into the Run screen; return (lines/s absorbed, largest loop stall in ms)."""
    import os

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
#: appends a second, and with each append Lightning's ``train_loss_step`` scalars (one per 20 lines: 1,000 chart
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
pieces = open(source, encoding="utf-8").read().splitlines(keepends=True)
batch = max(1, rate // 100)
os.makedirs(os.path.dirname(events), exist_ok=True)
t0 = time.perf_counter()
with open(log, "a", encoding="utf-8") as f, open(events, "ab") as tb:
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


def timed_charts() -> list[float]:
    """Every chart render from now on, in ms (the Run screen's loss chart is a ``PlotextPlot``: plotext builds the
    figure in its ``render``, on the event loop)."""
    from textual_plotext import PlotextPlot

    times: list[float] = []
    render = PlotextPlot.render

    def timed(self):
        t0 = time.perf_counter()
        try:
            return render(self)
        finally:
            times.append((time.perf_counter() - t0) * 1000)

    PlotextPlot.render = timed  # type: ignore[method-assign]
    return times


async def ui_stall_stream(rate: int = 20_000, seconds: float = 5.0) -> tuple[float, float, int, list[float]]:
    """A live log growing at ``rate`` lines/s into the Run screen, written by another process; (lines/s the writer
    reached, largest loop stall ms, lines, each chart render's ms)."""
    import os
    import subprocess
    import threading

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
        source.write_text(synthetic_log(total), encoding="utf-8")
        charts = timed_charts()
        app = DepthnetApp(WizardState(step="spec"))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.5)
            screen = RunScreen(record, _Streaming(done))
            app.push_screen(screen)
            await pilot.pause(0.3)
            charts.clear()
            writer = subprocess.Popen(
                [sys.executable, "-c", WRITER, str(source), str(log), str(events), str(rate)],
                stdout=subprocess.PIPE,
                text=True,
            )
            reached: list[float] = []

            def wait_writer() -> None:
                out, _ = writer.communicate()
                reached.append(float(out.split()[-1]))
                done.set()

            threading.Thread(target=wait_writer, daemon=True).start()
            worst = await largest_stall(screen, 0.005)
        return reached[0], worst, total, list(charts)


def main() -> None:
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
    rate, worst, total, charts = asyncio.run(ui_stall_stream())
    print(
        f"Run screen, live log at 20,000 lines/s from another process: {total:,} lines, the writer reached "
        f"{rate:,.0f} lines/s; largest loop stall {worst:.0f} ms (target ≤ 33 ms); chart render median "
        f"{statistics.median(charts) if charts else 0:.1f} ms, max {max(charts, default=0):.1f} ms over "
        f"{len(charts)} renders (target ≤ 10 ms)"
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
