"""The Run and Runs screens, driven as a person would: ctrl+r on the Spec step, options, preflight, live monitor."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

from conftest import settle, wait_for
from depthgen import sample_dataset
from runkit import EMU_LOSSES
from textual.widgets import DataTable, Input, Log, Static

from specgen.data.convert import ConvertOptions, build_index, plan, write_annotations
from tui.app import DepthnetApp
from tui.screens.modals import ConfirmScreen, ProblemsScreen, RunOptionsScreen
from tui.screens.run import RunScreen
from tui.state import WizardState


def spec_state(tmp_path: Path, dataset_name: str = "NYUDV2") -> WizardState:
    data = sample_dataset(tmp_path / "nyu", per_scene=2)
    out = tmp_path / "work"
    opts = ConvertOptions(image_patterns=["rgb_"], depth_patterns=["sync_depth_"])
    write_annotations(plan(build_index(str(data)), opts), out / "annotations")
    # MetricMonoDataset on these millimetre PNGs is the NaN trap: as if the override had been typed at the Model step
    return WizardState(
        step="spec",
        data_root=str(data),
        output_dir=str(out),
        dataset_name=dataset_name,
        recipe="sanity",
        train_file=str(out / "annotations/train.txt"),
        val_file=str(out / "annotations/val.txt"),
        allow_known_failure=dataset_name == "MetricMonoDataset",
    )


async def fill_options(pilot, backend: str, image: str = "", gpus: str = "none", network: str = "") -> None:
    from textual.widgets import Select

    await wait_for(
        pilot, lambda: isinstance(pilot.app.screen, RunOptionsScreen) and pilot.app.screen.is_mounted
    )
    screen = pilot.app.screen
    screen.query_one("#opt-backend", Select).value = backend
    screen.query_one("#opt-image", Input).value = image
    screen.query_one("#opt-gpus", Input).value = gpus
    screen.query_one("#opt-network", Input).value = network
    screen.query_one("#opt-network", Input).focus()
    await pilot.press("enter")


async def test_launch_from_the_spec_step_on_docker_and_watch_it_pass(tmp_path, emu_image):
    app = DepthnetApp(spec_state(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, 0.3)
        await pilot.press("ctrl+r")
        await fill_options(pilot, "docker", image=emu_image, network="none")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
        run = app.screen
        await wait_for(pilot, lambda: run.progress.verdict is not None)
        await pilot.pause(0.3)
        assert [run.progress.step_loss[i] for i in sorted(run.progress.step_loss)] == EMU_LOSSES
        assert run.progress.epoch_train == {
            12: 7.502853870391846,
            24: 0.1651688665151596,
        }  # the real capture's epoch means
        assert run.progress.verdict.passed
        banner = str(run.query_one("#verdict", Static).render())
        assert banner.startswith("PASS — train finished with val/loss 0.09538")
        assert any(
            line.endswith("Execution status: PASS (entrypoint.py:518)")
            for line in run.query_one("#log", Log).lines
        )
        assert run.query_one("#kpi", DataTable).row_count == 6
        assert "step 24/24" in str(run.query_one("#run-progress-line", Static).render())
        spec_file = Path(app.state.output_dir) / "specs" / "train.yaml"
        assert spec_file.is_file() and app.state.last_run_id == run.record.run_id
        # Search the log.
        await pilot.press("slash")
        for ch in "validated":  # Hydra: "… is validated against ConfigStore schema …"
            await pilot.press(ch)
        await pilot.press("enter")
        assert run.query_one("#search", Input).border_subtitle.startswith("line ")
        await pilot.press("escape", "escape")  # close search, leave the screen
        assert not isinstance(app.screen, RunScreen)


async def test_nan_alert_offers_stop_and_runs_screen_reopens(tmp_path, monkeypatch, depth_net_on_path):
    monkeypatch.setenv("EMU_SPEED", "0.1")
    app = DepthnetApp(
        spec_state(tmp_path, "MetricMonoDataset")
    )  # raw NYU millimetres: the emulator gives NaN
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, 0.3)
        await pilot.press("ctrl+r")
        await fill_options(pilot, "local")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.is_mounted)
        assert "val/loss is not finite in status.json" in str(app.screen.query_one("#question").render())
        await pilot.press("y")
        await wait_for(
            pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.progress.verdict is not None
        )
        run = app.screen
        v = run.progress.verdict
        assert not v.passed and len(run.progress.step_loss) < 8  # stopped early
        assert v.reason.startswith(("train_loss is NaN", "val/loss is NaN")) and "use NYUDV2" in v.reason
        assert v.stopped_by == "you (ctrl+x on the Run screen)" and any(
            r.startswith("stopped by you (ctrl+x") for r in v.reasons
        )
        assert all(math.isnan(x) for x in run.progress.step_loss.values())
        await pilot.press("escape")
        await pilot.press("f2")
        await settle(pilot, 0.3)
        table = app.screen.query_one("#runs", DataTable)
        run_id = run.record.run_id
        await wait_for(pilot, lambda: run_id in [k.value for k in table.rows])
        row = table.get_row_index(run_id)
        assert "FAIL" in str(table.get_row_at(row)[5]) and table.get_row_at(row)[2] == "local"
        table.focus()
        table.move_cursor(row=row)
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.progress.verdict is not None
        )
        assert (
            app.screen.progress.step_loss.keys() == run.progress.step_loss.keys()
        )  # rebuilt from the saved log


async def test_a_finished_train_says_where_its_tensorboard_curves_are(tmp_path, depth_net_on_path):
    app = DepthnetApp(spec_state(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, 0.3)
        await pilot.press("ctrl+r")
        await fill_options(pilot, "local")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
        run = app.screen
        logdir = Path(run.record.results_dir) / "lightning_logs"
        line = f"» curves: tensorboard --logdir {logdir}"
        await wait_for(pilot, lambda: line in run.query_one("#log", Log).lines)
        assert run.progress.verdict is not None and run.progress.verdict.passed


async def test_preflight_problems_are_shown_before_anything_starts(tmp_path):
    state = spec_state(tmp_path)
    Path(state.train_file).write_text("nyu/kitchen/rgb_00000.jpg nyu/kitchen/sync_depth_00000.png\n")
    app = DepthnetApp(state)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, 0.3)
        await pilot.press("ctrl+r")
        await fill_options(pilot, "script")
        await wait_for(pilot, lambda: isinstance(app.screen, ProblemsScreen) and app.screen.is_mounted)
        text = " ".join(str(label.render()) for label in app.screen.query(".problem"))
        assert "lists relative paths" in text and "absolute data root" in text
        assert not app.screen.query("#yes")  # nothing to confirm: it must be fixed
        await pilot.press("escape")
        await asyncio.sleep(0)
        assert not isinstance(app.screen, RunScreen)
