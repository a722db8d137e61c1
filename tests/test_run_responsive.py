"""The Run screen stays usable while the run floods its log: a person's keys are answered during the flood, not
after it. The flood comes from another process (as TAO's does), followed by the real local backend; the times
themselves are ``benchmarks/run_bench.py``'s (stall ≤ 33 ms, chart render ≤ 10 ms)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import wait_for
from textual.widgets import Input, Log

from specgen.engine.backends import LocalBackend, process_start
from specgen.engine.records import RunRecord
from tui.app import DepthnetApp
from tui.screens.run import RunScreen
from tui.state import WizardState

#: TAO-shaped lines (Lightning's \r progress updates, an ordinary line among them), ~20,000 a second, until the
#: stop file appears; then TAO's last line and the exit code where the local backend's wrapper leaves it.
FLOOD = r"""
import os, sys, time
log, stop, exit_file = sys.argv[1:4]
i = 0
with open(log, "a", encoding="utf-8") as f:
    while not os.path.exists(stop):
        t0 = time.perf_counter()
        chunk = []
        for _ in range(200):
            i += 1
            if i % 10 == 0:
                chunk.append(f"\n[INFO] iteration {i}: data loader ok\n")
            else:
                chunk.append(f"\rEpoch 0: {i % 100}%|#####| {i % 1000}/1000 [00:01<00:09, 4.00it/s, v_num=0]")
        f.write("".join(chunk))
        f.flush()
        time.sleep(max(0.0, 0.01 - (time.perf_counter() - t0)))
    f.write("\nExecution status: PASS\n")
with open(exit_file + ".tmp", "w") as f:
    f.write("0\n")
os.replace(exit_file + ".tmp", exit_file)
"""


async def test_keys_are_answered_while_another_process_floods_the_log(tmp_path: Path):
    log, stop, exit_file = tmp_path / "log.txt", tmp_path / "stop", tmp_path / "exit_code"
    log.touch()
    writer = subprocess.Popen(
        [sys.executable, "-c", FLOOD, str(log), str(stop), str(exit_file)], start_new_session=True
    )
    try:
        record = RunRecord(
            run_id="flood",
            backend="local",
            action="train",
            spec_path=str(tmp_path / "none.yaml"),
            results_dir=str(tmp_path / "results" / "train"),
            started="now",
            pid=writer.pid,
            pid_start=process_start(writer.pid),
            exit_file=str(exit_file),
            log_file=str(log),
        )
        app = DepthnetApp(WizardState(step="spec"))
        async with app.run_test(size=(120, 40)) as pilot:
            screen = RunScreen(record, LocalBackend.observe())
            await app.push_screen(screen)
            pane = screen.query_one("#log", Log)
            await wait_for(pilot, lambda: pane.line_count > 100)  # the flood is on the screen
            await pilot.press("slash")  # search the log, mid-flood
            search = screen.query_one("#search", Input)
            await wait_for(pilot, lambda: search.has_focus and not search.has_class("hidden"))
            await pilot.press(*"iter", "enter")
            await wait_for(pilot, lambda: "line" in str(search.border_subtitle or ""))
            assert writer.poll() is None  # all of it answered while the flood went on
            stop.touch()
            await wait_for(
                pilot, lambda: screen.progress.verdict is not None, seconds=60
            )  # followed to its end
    finally:
        stop.touch()
        writer.wait(30)
