"""SVG snapshots of every wizard screen at 80×24 and 120×40 (pytest-textual-snapshot).

Paths are fixed under /tmp/depthnet-snap so the pictures are the same on every machine.
Regenerate after an intended change: pytest tests/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import settle

from specgen.convert import ConvertOptions, build_index, plan, write_annotations
from specgen.sample_data import make_sample_dataset
from tui.app import DepthnetApp
from tui.state import WizardState

BASE = Path("/tmp/depthnet-snap")
SIZES = [(80, 24), (120, 40)]
STEPS = ["data_root", "convert", "data_check", "model", "recipe", "spec"]


@pytest.fixture(scope="module")
def dataset() -> tuple[Path, Path]:
    shutil.rmtree(BASE, ignore_errors=True)
    data = make_sample_dataset(BASE / "root" / "nyu")
    out = BASE / "work"
    opts = ConvertOptions(image_patterns=["rgb_"], depth_patterns=["sync_depth_"])
    write_annotations(plan(build_index(str(data)), opts), out / "annotations")
    return data, out


def state_for(step: str, data: Path, out: Path) -> WizardState:
    ann = out / "annotations"
    return WizardState(step=step, data_root=str(data), output_dir=str(out), dataset_name="MetricMonoDataset",
                       train_file=str(ann / "train.txt"), val_file=str(ann / "val.txt"))


async def _settle(pilot) -> None:
    await settle(pilot, 0.3)
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_welcome(snap_compare, monkeypatch, dataset, size):
    monkeypatch.chdir(BASE)
    assert snap_compare(DepthnetApp(), terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("step", STEPS)
def test_step(snap_compare, monkeypatch, dataset, step, size):
    monkeypatch.chdir(BASE)
    data, out = dataset
    assert snap_compare(DepthnetApp(state_for(step, data, out)), terminal_size=size, run_before=_settle)


RUN_ID = "20261124-101500-train-snap"


def finished_run(tmp_data_home: Path):
    """A finished local train run, as its folder holds it after the fact: run.json, log.txt, exit_code, status.json."""
    import subprocess

    from tui.run import registry
    from tui.run.backends import RunRecord

    results = BASE / "run" / "results" / "train"
    shutil.rmtree(BASE / "run", ignore_errors=True)
    results.mkdir(parents=True)
    spec = BASE / "run" / "train.yaml"
    spec.write_text(f"results_dir: {BASE / 'run' / 'results'}\n")
    emulator = Path(__file__).parent / "emulator" / "depth_net"
    log = subprocess.run(["sh", str(emulator), "train", "-e", str(spec)], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "EMU_DELAY": "0"}, check=True).stdout
    folder = registry.run_dir(RUN_ID)
    folder.mkdir(parents=True)
    (folder / "log.txt").write_text(log)
    (folder / "exit_code").write_text("0\n")
    record = RunRecord(run_id=RUN_ID, backend="local", action="train", spec_path=str(spec), results_dir=str(results),
                       started="2026-11-24T10:15:00+00:00", exit_file=str(folder / "exit_code"))
    registry.save(record)
    return record


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_run_screen_finished(snap_compare, monkeypatch, tmp_path, size):
    from tui.screens.run import RunScreen

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    record = finished_run(tmp_path)

    async def open_run(pilot) -> None:
        pilot.app.push_screen(RunScreen(record, None))
        for _ in range(100):
            await pilot.pause(0.05)
            if isinstance(pilot.app.screen, RunScreen) and pilot.app.screen.progress.verdict is not None:
                break
        await pilot.pause(0.3)

    assert snap_compare(DepthnetApp(WizardState(step="spec")), terminal_size=size, run_before=open_run)


def test_runs_screen(snap_compare, monkeypatch, tmp_path):
    from tui.run import registry

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    record = finished_run(tmp_path)
    record.verdict = {"passed": False, "reason": "train_loss is NaN from step 1 although TAO printed PASS",
                      "exit_code": 0}
    registry.save(record)

    async def open_runs(pilot) -> None:
        await pilot.press("f2")
        await settle(pilot, 0.3)

    assert snap_compare(DepthnetApp(WizardState(step="spec")), terminal_size=(120, 24), run_before=open_runs)
