"""After training, driven as a person would: ctrl+n on a finished run → the next spec → ctrl+r → its verdict →
metrics, depth maps, a comparison from the Runs screen; refusals of a failed run and of an existing ONNX."""

from __future__ import annotations

from pathlib import Path

from conftest import settle
from test_run_screen import fill_options, spec_state, wait_for
from textual.widgets import DataTable, Input, Select, Static

from tui.app import DepthnetApp
from tui.screens.inference_results import InferenceResultsScreen
from tui.screens.metrics import MetricsScreen
from tui.screens.modals import ConfirmScreen
from tui.screens.next_step import NextStepScreen
from tui.screens.run import RunScreen


async def train_and_finish(pilot, app) -> RunScreen:
    await settle(pilot, 0.3)
    await pilot.press("ctrl+r")
    await fill_options(pilot, "local")
    await wait_for(
        pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.progress.verdict is not None
    )
    await pilot.pause(0.2)
    return app.screen


async def next_screen_ready(pilot, app) -> NextStepScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, NextStepScreen))
    screen = app.screen
    await wait_for(
        pilot,
        lambda: (
            screen.derived is not None
            or any("Cannot derive" in str(w.render()) for w in screen.query("#next-problems"))
        ),
    )
    return screen


async def test_train_then_evaluate_then_metrics_then_inference_viewer(tmp_path, depth_net_on_path):
    app = DepthnetApp(spec_state(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        train = await train_and_finish(pilot, app)
        assert train.progress.verdict.passed
        await pilot.press("ctrl+n")
        nxt = await next_screen_ready(pilot, app)
        assert nxt.derived.action == "evaluate"
        ckpt = str(Path(app.state.results_dir) / "train" / "model_epoch_001_step_00024.pth")
        assert nxt.derived.spec.evaluate.checkpoint == ckpt
        assert f"checkpoint: {ckpt}" in str(nxt.query_one("#next-notes", Static).render())
        spec_path = nxt.query_one("#next-path", Input).value
        assert spec_path == str(Path(app.state.results_dir) / "specs" / "evaluate.yaml")
        await pilot.press("ctrl+r")
        await fill_options(pilot, "local")
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, RunScreen)
                and app.screen is not train
                and app.screen.progress.verdict is not None
            ),
        )
        evaluate = app.screen
        assert evaluate.record.action == "evaluate" and evaluate.progress.verdict.passed
        assert Path(spec_path).read_text().startswith("# depth_net evaluate spec — derived by depthnet next")
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, MetricsScreen))
        table = app.screen.query_one("#metrics", DataTable)
        rows = {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[1]) for i in range(table.row_count)}
        assert rows["AbsRel"] == "0.2810" and rows["δ1 (<1.25)"] == "0.2643"
        await pilot.press("escape", "escape")
        # Back on the train run: the next step is inference; its depth maps open with v.
        await wait_for(pilot, lambda: app.screen is train)
        await pilot.press("ctrl+n")
        nxt = await next_screen_ready(pilot, app)
        nxt.query_one("#next-action", Select).value = "inference"
        await wait_for(pilot, lambda: nxt.derived is not None and nxt.derived.action == "inference")
        await pilot.press("ctrl+r")
        await fill_options(pilot, "local")
        await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, RunScreen)
                and app.screen.record.action == "inference"
                and app.screen.progress.verdict is not None
            ),
        )
        assert app.screen.progress.verdict.passed
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, InferenceResultsScreen))
        viewer = app.screen
        await wait_for(
            pilot,
            lambda: (
                "median 2" in str(viewer.query("DepthPreview Label").last().render())
                if viewer.query("DepthPreview Label")
                else False
            ),
        )
        assert viewer.query_one("#infer-list", DataTable).row_count == 2
        assert "2 pictures, 2 with a raw PFM" in str(viewer.query_one("#infer-title", Static).render())


async def test_compare_two_evaluations_from_the_runs_screen(tmp_path, depth_net_on_path, monkeypatch):
    from runkit import depthnet

    app = DepthnetApp(spec_state(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        train = await train_and_finish(pilot, app)
        ids = []
        for abs_rel in ("0.11", "0.09"):
            done = depthnet("next", train.record.run_id, "evaluate")
            assert done.returncode == 0, done.stderr
            spec = done.stdout.split("wrote ", 1)[1].split()[0]
            ran = depthnet(
                "run", "evaluate", "-e", spec, "--backend", "local", "--env", f"EMU_ABS_REL={abs_rel}"
            )
            assert ran.returncode == 0, ran.stderr
            ids.append(ran.stderr.split("run ", 1)[1].split()[0])
        await pilot.press("escape", "f2")
        await settle(pilot, 0.3)
        table = app.screen.query_one("#runs", DataTable)
        await wait_for(pilot, lambda: all(i in [k.value for k in table.rows] for i in ids))
        table.focus()
        for run_id in ids:
            table.move_cursor(row=table.get_row_index(run_id))
            await pilot.press("space")
        assert [str(table.get_row_at(table.get_row_index(i))[0]) for i in ids] == ["1", "2"]
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, MetricsScreen))
        metrics = app.screen.query_one("#metrics", DataTable)
        abs_rel = [str(c) for c in metrics.get_row_at(0)]
        assert abs_rel[0] == "AbsRel" and abs_rel[1] == "0.1100"
        assert abs_rel[2].startswith("0.0900 -0.0200") and "▲" in abs_rel[2] and abs_rel[2].endswith("*[/]")


async def test_failed_run_asks_before_anything_is_built_on_it(tmp_path, depth_net_on_path):
    app = DepthnetApp(spec_state(tmp_path, "MetricMonoDataset"))  # raw NYU millimetres: NaN
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, 0.3)
        await pilot.press("ctrl+r")
        await fill_options(pilot, "local")
        await wait_for(
            pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.is_mounted
        )  # the NaN alert
        await pilot.press("n")
        await wait_for(
            pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.progress.verdict is not None
        )
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.is_mounted)
        question = str(app.screen.query_one("#question").render())
        assert "failed: train_loss is NaN at epoch 0" in question and "waste GPU time" in question
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))


async def test_export_name_that_exists_is_refused_and_a_free_one_offered(tmp_path, depth_net_on_path):
    app = DepthnetApp(spec_state(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await train_and_finish(pilot, app)
        await pilot.press("ctrl+n")
        nxt = await next_screen_ready(pilot, app)
        nxt.query_one("#next-action", Select).value = "export"
        await wait_for(pilot, lambda: nxt.derived is not None and nxt.derived.action == "export")
        taken = Path(app.state.output_dir) / "mine.onnx"
        taken.write_text("old")
        nxt.query_one("#next-onnx", Input).value = str(taken)
        await wait_for(pilot, lambda: nxt.derived is None)
        problems = str(nxt.query_one("#next-problems", Static).render())
        assert "already exists and TAO refuses to overwrite it" in problems and "ctrl+f" in problems
        await pilot.press("ctrl+f")
        await wait_for(pilot, lambda: nxt.derived is not None)
        assert nxt.derived.spec.export.onnx_file == str(taken.with_name("mine_2.onnx"))
        assert taken.read_text() == "old"


async def test_engine_precision_choice_after_an_export_run(tmp_path, depth_net_on_path):
    from runkit import depthnet, make_project

    from specgen.engine import registry
    from specgen.engine.results import from_record
    from tui.state import WizardState

    project = make_project(tmp_path / "p")
    trained = depthnet("run", "train", "-e", str(project.spec("train", "train.yaml")), "--backend", "local")
    assert trained.returncode == 0, trained.stderr
    spec = (
        depthnet("next", trained.stderr.split("run ", 1)[1].split()[0], "export")
        .stdout.split("wrote ", 1)[1]
        .split()[0]
    )
    exported = depthnet("run", "export", "-e", spec, "--backend", "local")
    assert exported.returncode == 0, exported.stderr
    record = registry.load(exported.stderr.split("run ", 1)[1].split()[0])
    app = DepthnetApp(WizardState(step="spec"))
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(NextStepScreen(from_record(record)))
        nxt = await next_screen_ready(pilot, app)
        assert nxt.derived.action == "gen_trt_engine" and "tao-toolkit:6.26.3-deploy" in nxt.derived.image
        assert not nxt.query_one("#next-data", Input).display and nxt.query_one("#next-dtype", Select).display
        nxt.query_one("#next-dtype", Select).value = "FP16"
        await wait_for(pilot, lambda: nxt.derived is None)
        assert "FP16 overflows in the vitl mono backbone" in str(
            nxt.query_one("#next-problems", Static).render()
        )
        nxt.query_one("#next-dtype", Select).value = "BF16"
        await wait_for(pilot, lambda: nxt.derived is not None)
        assert nxt.derived.spec.gen_trt_engine.tensorrt.data_type == "BF16"
        assert "SM80+" in str(nxt.query_one("#next-problems", Static).render())
        await pilot.press("ctrl+s")
        saved = Path(nxt.query_one("#next-path", Input).value)
        await wait_for(pilot, saved.is_file)
        assert "derived-from: " + spec in saved.read_text()
