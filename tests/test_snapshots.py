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
