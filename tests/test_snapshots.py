"""SVG snapshots of every wizard screen at 80×24 and 120×40 (pytest-textual-snapshot).

Each module draws from its own folder (conftest's ``snap_dir``, named like /tmp/depthnet-snap, which the pictures
show in its place), so the pictures are the same on every machine and parallel runs never share a folder.
Regenerate after an intended change: pytest tests/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import SHARED, require, settle, wait_for
from depthgen import sample_dataset, write_pfm

from specgen.data.convert import ConvertOptions, build_index, plan, write_annotations
from tui.app import DepthnetApp
from tui.state import WizardState

SIZES = [(80, 24), (120, 40)]
STEPS = ["data_root", "convert", "data_check", "model", "weights", "recipe", "spec"]


@pytest.fixture(scope="module")
def dataset(snap_dir) -> tuple[Path, Path]:
    data = sample_dataset(snap_dir / "root" / "nyu")
    out = snap_dir / "work"
    opts = ConvertOptions(image_patterns=["rgb_"], depth_patterns=["sync_depth_"])
    write_annotations(plan(build_index(str(data)), opts), out / "annotations")
    return data, out


def state_for(step: str, data: Path, out: Path) -> WizardState:
    ann = out / "annotations"
    return WizardState(
        step=step,
        data_root=str(data),
        output_dir=str(out),
        dataset_name="MetricMonoDataset",
        train_file=str(ann / "train.txt"),
        val_file=str(ann / "val.txt"),
    )


async def _settle(pilot) -> None:
    await settle(pilot, 0.3)
    screen = pilot.app.screen
    if hasattr(screen, "shown_generation"):  # the Convert step: index worker → debounce timer → plan worker
        for _ in range(
            100
        ):  # under load that chain outlasts a fixed pause: wait until the latest plan is shown
            if getattr(screen, "latest", None) is not None and screen.shown_generation == screen.generation:
                break
            await pilot.pause(0.05)
        await settle(pilot, 0.1)
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_welcome(snap_compare, monkeypatch, snap_dir, dataset, size):
    monkeypatch.chdir(snap_dir)
    assert snap_compare(DepthnetApp(), terminal_size=size, run_before=_settle)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("step", STEPS)
def test_step(snap_compare, monkeypatch, snap_dir, dataset, step, size):
    monkeypatch.chdir(snap_dir)
    data, out = dataset
    assert snap_compare(DepthnetApp(state_for(step, data, out)), terminal_size=size, run_before=_settle)


RUN_ID = "20261124-101500-train-snap"


def finished_run(base: Path):
    """A finished local train run, as its folder holds it after the fact: run.json, log.txt, exit_code, status.json."""
    import subprocess

    from specgen.engine import registry
    from specgen.engine.records import RunRecord

    results = base / "run" / "results" / "train"
    shutil.rmtree(base / "run", ignore_errors=True)
    results.mkdir(parents=True)
    spec = base / "run" / "train.yaml"
    spec.write_text(f"results_dir: {base / 'run' / 'results'}\n")
    emulator = Path(__file__).parent / "emulator" / "depth_net"
    log = subprocess.run(
        ["sh", str(emulator), "train", "-e", str(spec)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "EMU_SPEED": "0"},
        check=True,
    ).stdout
    folder = registry.run_dir(RUN_ID)
    folder.mkdir(parents=True)
    (folder / "log.txt").write_text(log)
    (folder / "exit_code").write_text("0\n")
    record = RunRecord(
        run_id=RUN_ID,
        backend="local",
        action="train",
        spec_path=str(spec),
        results_dir=str(results),
        started="2026-11-24T10:15:00+00:00",
        exit_file=str(folder / "exit_code"),
    )
    registry.save(record)
    return record


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_run_screen_finished(snap_compare, monkeypatch, snap_dir, size):
    from tui.screens.run import RunScreen

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    record = finished_run(snap_dir)

    async def open_run(pilot) -> None:
        from tui.widgets.charts import Chart

        screen = RunScreen(record, None)
        pilot.app.push_screen(screen)

        def drawn() -> bool:  # the verdict drawn (the chart's last drawing with it), and that figure built
            return screen.is_mounted and screen.sub_title == "finished" and screen.query_one(Chart).is_current

        await wait_for(pilot, drawn, seconds=10)
        await pilot.pause(0.3)

    assert snap_compare(DepthnetApp(WizardState(step="spec")), terminal_size=size, run_before=open_run)


def test_runs_screen(snap_compare, monkeypatch, snap_dir):
    from specgen.engine import registry
    from specgen.engine.events import Verdict

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    record = finished_run(snap_dir)
    record.verdict = Verdict(
        passed=False, reason="train_loss is NaN from step 1 although TAO printed PASS", exit_code=0
    )
    registry.save(record)

    async def open_runs(pilot) -> None:
        await pilot.press("f2")
        await settle(pilot, 0.3)

    assert snap_compare(DepthnetApp(WizardState(step="spec")), terminal_size=(120, 24), run_before=open_runs)


def inference_results(shared: Path, base: Path) -> Path:
    """An inference results folder as TAO leaves it, for real RGB samples (shared/realdata, copied under ``base``, a
    ``snap_dir``, so the picture is the same everywhere): the picture (input | coloured prediction) mirrored under inference_images,
    and the raw prediction as PFM. The "prediction" is each sample's own measured depth in metres."""
    import numpy as np
    from PIL import Image

    from specgen.data.colormap import colorize
    from specgen.data.doctor.readers import read_image_array
    from specgen.data.inference_outputs import output_for, pfm_path_for

    base = base / "infer"
    shutil.rmtree(base, ignore_errors=True)
    results = base / "results" / "inference"
    samples = [
        ("redwood/scene_a/rgb_00000.jpg", "redwood/scene_a/sync_depth_00000.png", 1000.0),
        ("redwood/scene_a/rgb_00001.jpg", "redwood/scene_a/sync_depth_00001.png", 1000.0),
        ("tum/fr1/rgb_00000.png", "tum/fr1/depth_00000.png", 5000.0),
    ]
    for rgb_rel, depth_rel, scale in samples:
        require((shared / "realdata" / rgb_rel).is_file(), "shared/realdata is not beside the repo")
        image = base / "data" / rgb_rel
        image.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared / "realdata" / rgb_rel, image)
        metres = read_image_array(str(shared / "realdata" / depth_rel)).astype(np.float32) / scale
        metres[metres == 0] = np.inf  # no measurement: a prediction has a value everywhere, keep it visible
        metres[~np.isfinite(metres)] = float(np.nanmedian(metres[np.isfinite(metres)]))
        picture = output_for(str(image), str(results))
        Path(picture).parent.mkdir(parents=True, exist_ok=True)
        with Image.open(image) as im:
            rgb = np.asarray(im.convert("RGB"))
        side = np.concatenate([rgb, colorize(metres)[: rgb.shape[0], : rgb.shape[1]]], axis=1)
        Image.fromarray(side).save(picture)
        write_pfm(Path(pfm_path_for(picture)), metres)
    return results


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_inference_viewer_on_real_rgb(snap_compare, monkeypatch, snap_dir, size):
    from tui.screens.inference_results import InferenceResultsScreen

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    results = inference_results(SHARED, snap_dir)

    async def open_viewer(pilot) -> None:
        pilot.app.push_screen(InferenceResultsScreen(str(results), title="Inference 20261124-snap"))
        await settle(pilot, 0.3)
        await pilot.press("down")  # the second sample: the viewer follows the cursor
        await settle(pilot, 0.3)
        screen = pilot.app.screen
        for _ in range(50):  # under load the swap can take longer than a fixed pause: wait for it, then draw
            if (
                screen.current == 1
                and screen.query("#infer-preview DepthPreview")
                and screen.items[1].input.rsplit("/", 1)[-1]
                in str(screen.query_one("#infer-caption").render())
            ):
                break
            await pilot.pause(0.1)
        await pilot.pause(0.3)

    assert snap_compare(DepthnetApp(WizardState(step="spec")), terminal_size=size, run_before=open_viewer)


def test_next_step_export(snap_compare, monkeypatch, snap_dir):
    from specgen.engine.results import from_record
    from tui.screens.next_step import NextStepScreen

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    record = finished_run(snap_dir)

    async def open_next(pilot) -> None:
        pilot.app.push_screen(NextStepScreen(from_record(record), "export"))
        await settle(pilot, 0.3)
        await pilot.pause(0.3)

    assert snap_compare(DepthnetApp(WizardState(step="spec")), terminal_size=(120, 40), run_before=open_next)
