"""Run monitor speed, measured side by side in one run (targets from the run & monitor issue):

1. status.json line → chart point: time from a line's append to RunProgress holding the point (watchfiles inotify,
   and the polling fallback). Target ≤ 250 ms.
2. Log parsing throughput (LogParser + RunProgress) against a bare ``str.splitlines`` of the same text.
   Target ≥ 20k lines/s.
3. The Run screen under a log flood: (a) a live run whose log grows at 20,000 lines/s for 5 s (TAO-shaped lines,
   a writer thread appending to the file the monitor tails) — target: no event-loop stall > 50 ms; (b) a
   200k-line finished log replayed as fast as it can be read.
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


class _Streaming(Backend):
    """Stands in for a local process in this benchmark only: the run 'ends' when the writer has written it all."""

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


async def ui_stall_stream(rate: int = 20_000, seconds: float = 5.0) -> tuple[float, float, int]:
    """A live log growing at ``rate`` lines/s into the Run screen; (lines/s written, largest loop stall ms, lines)."""
    import os
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
        text = synthetic_log(total)
        pieces = text.splitlines(keepends=True)

        def writer() -> None:
            batch = max(1, rate // 100)  # 100 appends a second
            t0 = time.perf_counter()
            with open(log, "a", encoding="utf-8") as f:
                for i in range(0, len(pieces), batch):
                    f.write("".join(pieces[i : i + batch]))
                    f.flush()
                    delay = t0 + (i + batch) / rate - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                f.write("\nExecution status: PASS\n")
            done.set()

        app = DepthnetApp(WizardState(step="spec"))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause(0.5)
            screen = RunScreen(record, _Streaming(done))
            app.push_screen(screen)
            await pilot.pause(0.3)
            t0 = time.perf_counter()
            threading.Thread(target=writer, daemon=True).start()
            worst = await largest_stall(screen, 0.005)
            took = time.perf_counter() - t0
        return total / took, worst, total


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
    rate, worst, total = asyncio.run(ui_stall_stream())
    print(
        f"Run screen, live log at 20,000 lines/s: {total:,} lines at {rate:,.0f} lines/s, largest loop stall "
        f"{worst:.0f} ms (target ≤ 50 ms)"
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
