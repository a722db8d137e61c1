"""The wizard driven as a person would: keys and typing through Pilot, on real files."""

from __future__ import annotations

from pathlib import Path

import yaml
from conftest import settle, tao_merge, wait_for
from depthgen import sample_dataset
from textual.widgets import Input, Select

from tui.app import DepthnetApp
from tui.screens.convert import ConvertScreen
from tui.screens.data_root import DataRootScreen
from tui.screens.model import ModelScreen
from tui.screens.spec import SpecScreen
from tui.state import WizardState


async def type_into(pilot, selector: str, text: str) -> None:
    """Paste ``text`` into the field, as a person puts a path into a terminal (bracketed paste: one event). Typing
    a long path key by key cost seconds of CPU per test; typing itself is tested in
    test_fast_typing_never_blocks_and_stale_previews_are_discarded."""
    from textual import events

    widget = pilot.app.screen.query_one(selector, Input)
    widget.focus()
    widget.value = ""
    await pilot.pause()
    widget.post_message(events.Paste(text))
    await pilot.pause()


async def test_walk_from_data_root_to_saved_spec(tmp_path, tao_config):
    data = sample_dataset(tmp_path / "nyu")
    app = DepthnetApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("enter")  # "New setup"
        await settle(pilot)
        assert isinstance(app.screen, DataRootScreen)
        await type_into(pilot, "#data-root", str(data))
        await type_into(pilot, "#output-dir", str(tmp_path / "work"))
        await pilot.press("ctrl+n")
        await settle(pilot, 0.4)
        assert isinstance(app.screen, ConvertScreen)
        assert "12 complete pairs" in str(app.screen.query_one("#counts").render())
        await pilot.press("ctrl+n")  # writes the annotations, then moves on
        await settle(pilot, 0.5)
        assert (tmp_path / "work/annotations/train.txt").read_text().count("\n") == 9
        assert (tmp_path / "work/annotations/val.txt").read_text().count("\n") == 3
        await pilot.press("ctrl+n")  # data check → model
        await settle(pilot, 0.5)
        assert isinstance(app.screen, ModelScreen)
        assert "match this class" in str(app.screen.query_one("#nyu-warning").render())
        await pilot.press("ctrl+n", "ctrl+n", "ctrl+n")  # weights (nothing: a sanity run) → recipe → spec
        await settle(pilot, 0.3)
        assert isinstance(app.screen, SpecScreen)
        await pilot.press("ctrl+s")
        await settle(pilot, 0.3)
    spec_file = tmp_path / "work/specs/train.yaml"
    text = spec_file.read_text()
    merged = tao_merge(tao_config[0], text)
    assert merged.dataset.dataset_name == "MonoDataset"
    assert merged.dataset.train_dataset.data_sources[0]["dataset_name"] == "NYUDV2"
    assert merged.dataset.train_dataset.data_sources[0]["data_file"] == str(
        tmp_path / "work/annotations/train.txt"
    )
    assert merged.train.optim.lr == 5e-6  # random weights: TAO's 1e-4 killed a fresh Relative head
    session = WizardState.load(tmp_path / "work")
    assert session.step == "spec" and session.saved_specs["train"] == str(spec_file)


def _nan_trap_at_the_model_step(tmp_path) -> WizardState:
    """NYU-like millimetre PNGs with the generic metric class chosen: the doctor's EMPTY_MASK case."""
    from specgen.data.convert import ConvertOptions, build_index, plan, write_annotations

    data = sample_dataset(tmp_path / "nyu")
    out = tmp_path / "work"
    write_annotations(
        plan(build_index(str(data)), ConvertOptions(image_patterns=["rgb_"], depth_patterns=["sync_depth_"])),
        out / "annotations",
    )
    return WizardState(
        data_root=str(data),
        output_dir=str(out),
        step="model",
        dataset_name="MetricMonoDataset",
        train_file=str(out / "annotations/train.txt"),
        val_file=str(out / "annotations/val.txt"),
    )


async def test_nyu_warning_from_the_files_and_its_one_key_fix(tmp_path):
    app = DepthnetApp(_nan_trap_at_the_model_step(tmp_path))
    async with app.run_test(size=(100, 40)) as pilot:
        await settle(pilot, 0.5)
        warning = str(app.screen.query_one("#nyu-warning").render())
        assert "EMPTY_MASK" in warning and "loss will be NaN" in warning
        assert app.screen.query_one("#nyu-warning").has_class("alert")
        await pilot.press("ctrl+f")
        await settle(pilot, 0.5)
        assert app.state.dataset_name == "NYUDV2"
        assert app.screen.query_one("#dataset-name", Select).value == "NYUDV2"
        assert "match this class" in str(app.screen.query_one("#nyu-warning").render())
        assert not app.screen.query_one("#nyu-warning").has_class("alert")


async def test_the_door_holds_a_known_nan_run_until_the_override_is_typed(tmp_path):
    """The Model step knows the loss will be NaN: ctrl+n asks for a typed override; a wrong word keeps you there;
    NAN lets you on and is remembered; the spec then carries the risk as a warning, and a launch passes it on."""
    from textual.widgets import Input

    from tui.screens.modals import TypedConfirmScreen

    app = DepthnetApp(_nan_trap_at_the_model_step(tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, 0.5)
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, TypedConfirmScreen) and app.screen.is_mounted)
        assert "EMPTY_MASK" in str(app.screen.query_one("#question").render())
        app.screen.query_one("#typed", Input).focus()
        for ch in "nan":
            await pilot.press(ch)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert (
            isinstance(app.screen, TypedConfirmScreen) and not app.state.allow_known_failure
        )  # case matters
        await pilot.press("escape")
        await settle(pilot, 0.3)
        assert app.state.step == "model" and not app.state.allow_known_failure
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, TypedConfirmScreen) and app.screen.is_mounted)
        app.screen.query_one("#typed", Input).focus()
        for ch in "NAN":
            await pilot.press(ch)
        await pilot.press("enter")
        await settle(pilot, 0.5)
        assert app.state.allow_known_failure and app.state.step == "weights"
        spec, problems = app.build_spec("train")
        assert any(p.known_failure and p.severity == "warning" for p in problems)


async def test_a_quick_ctrl_n_waits_for_the_files_to_be_read_and_the_door_still_holds(tmp_path, monkeypatch):
    """ctrl+n pressed while the doctor is still reading the files (held here until the key is in): the step says it
    is reading them, stays, and once they are read asks for the override. It used to let the NaN run through."""
    import threading

    import tui.screens.model as model
    from tui.screens.modals import TypedConfirmScreen

    release = threading.Event()
    real = model.run_doctor

    def slow_doctor(state):
        assert release.wait(30), "the test never released the doctor"
        return real(state)

    monkeypatch.setattr(model, "run_doctor", slow_doctor)
    app = DepthnetApp(_nan_trap_at_the_model_step(tmp_path))
    said: list[str] = []
    notify = app.notify
    monkeypatch.setattr(app, "notify", lambda message, **kw: (said.append(message), notify(message, **kw)))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, model.ModelScreen) and app.screen.is_mounted)
        await pilot.press("ctrl+n")
        await pilot.press("ctrl+n")  # twice: said once
        await pilot.pause(0.2)
        assert isinstance(app.screen, model.ModelScreen) and app.state.step == "model"
        assert said.count("Reading your files against this class first…") == 1
        release.set()
        await wait_for(pilot, lambda: isinstance(app.screen, TypedConfirmScreen) and app.screen.is_mounted)
        assert "EMPTY_MASK" in str(app.screen.query_one("#question").render())
        await pilot.press("escape")
        await settle(pilot, 0.2)
        assert app.state.step == "model" and not app.state.allow_known_failure


async def test_fast_typing_never_blocks_and_stale_previews_are_discarded(tmp_path):
    data = sample_dataset(tmp_path / "nyu")
    app = DepthnetApp(WizardState(data_root=str(data), output_dir=str(tmp_path / "w"), step="convert"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, 0.3)
        screen = app.screen
        assert isinstance(screen, ConvertScreen)
        field = screen.query_one("#depth-ext", Input)
        field.focus()
        await pilot.press("backspace", "backspace", "backspace", "backspace")  # '.png' → ''
        await pilot.press(*"png")  # fast, no pauses: the missing-dot trap
        assert field.value == "png"  # every key landed while previews were pending
        await settle(pilot, 0.4)
        assert screen.shown_generation == screen.generation
        assert "EXT_NO_DOT" in str(screen.query_one("#pitfalls").render())
        current = screen.latest
        # a result from an older generation arrives late: it must not replace the current preview
        from specgen.data.convert import ConvertOptions, plan

        stale = plan(screen.index, ConvertOptions(image_patterns=["nothing"], depth_patterns=["x"]))
        screen.post_message(ConvertScreen.PlanReady(screen.generation - 1, stale))
        await pilot.pause(0.2)
        assert screen.latest is current
        await pilot.press("ctrl+f")  # one-key fix: add the dot
        await settle(pilot, 0.4)
        assert field.value == ".png" and len(screen.latest.pairs) == 12


async def test_root_that_is_one_scene_is_flagged_with_a_fix(tmp_path):
    data = sample_dataset(tmp_path / "nyu")
    app = DepthnetApp(WizardState(step="data_root"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await type_into(pilot, "#data-root", str(data / "kitchen"))
        await settle(pilot, 0.3)
        assert "looks like one scene" in str(app.screen.query_one("#root-check").render())
        await pilot.press("ctrl+f")
        await settle(pilot, 0.3)
        assert app.screen.query_one("#data-root", Input).value == str(data.resolve())


async def test_output_inside_data_root_is_refused(tmp_path):
    data = sample_dataset(tmp_path / "nyu")
    app = DepthnetApp(WizardState(step="data_root", data_root=str(data), output_dir=str(data / "out")))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert isinstance(app.screen, DataRootScreen)
        assert any("read-only" in n.message for n in app._notifications)


async def test_resume_restores_the_session_and_theme_toggles(tmp_path):
    data = sample_dataset(tmp_path / "nyu")
    state = WizardState(data_root=str(data), output_dir=str(tmp_path / "w"), step="recipe", recipe="sanity")
    state.save()
    app = DepthnetApp(WizardState.load(tmp_path / "w"))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert type(app.screen).__name__ == "RecipeScreen"
        assert app.screen.query_one("#recipe", Select).value == "sanity"
        await pilot.press("ctrl+l")
        assert app.theme == "textual-light"
        await pilot.press("f1")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        await pilot.press("escape")
        await pilot.press("ctrl+b")
        await settle(pilot)
        assert type(app.screen).__name__ == "WeightsScreen"
    assert yaml.safe_load(Path(tmp_path / "w/.depthnet/session.json").read_text())["step"] == "weights"


async def test_switching_steps_and_quitting_at_once_raises_nothing(tmp_path):
    """Each step's header shows its own title; a header torn down before its first title update is quiet (CI load
    once made Textual's header raise NoMatches on exit, which the app turns into a crash report)."""
    data = sample_dataset(tmp_path / "nyu")
    state = WizardState(step="convert", data_root=str(data), output_dir=str(tmp_path / "out"))
    app = DepthnetApp(state)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "Convert" in str(app.screen.sub_title))
        app.goto(
            "data_root"
        )  # no pause: the app exits with a fresh header whose first update is still queued
    assert app.return_code in (0, None)


def test_spec_problem_keys_break_at_dots_only():
    from tui.screens.spec import key_lines

    key = "dataset.train_dataset.data_sources[0].dataset_name"
    lines = key_lines(key, 40)
    assert "".join(lines) == key and all(len(line) <= 40 for line in lines)
    assert all(line.startswith(".") for line in lines[1:])  # each break falls before a dot
    assert key_lines("a_single_name_longer_than_the_width", 10) == ["a_single_name_longer_than_the_width"]
