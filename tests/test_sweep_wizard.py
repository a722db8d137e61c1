"""Sweeps from the wizard, driven as a person would: ctrl+r on the Spec step offers one run or a sweep of N trials
(space shown and editable), the sweep runs its trials with the TAO stand-in (local backend) in a runner of its own,
the Sweep screen shows them, and the choice is remembered in the session."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import settle, wait_for
from test_run_screen import spec_state
from textual.widgets import DataTable, Input, Select, TextArea

from tui.app import DepthnetApp
from tui.screens.modals import ProblemsScreen, RunOptionsScreen
from tui.state import WizardState


async def _sweep_dialog(pilot) -> RunOptionsScreen:
    await settle(pilot, 0.3)
    await pilot.press("ctrl+r")
    await wait_for(
        pilot, lambda: isinstance(pilot.app.screen, RunOptionsScreen) and pilot.app.screen.is_mounted
    )
    return pilot.app.screen


async def test_a_sweep_started_from_the_spec_step_runs_its_trials_and_the_sweep_screen_shows_them(
    tmp_path, monkeypatch, depth_net_on_path
):
    from tui.screens.sweep import SweepScreen

    monkeypatch.setenv("EMU_SPEED", "0.05")
    monkeypatch.setenv("EMU_LR_LOSS", "1")
    state = spec_state(tmp_path)
    app = DepthnetApp(state)
    async with app.run_test(size=(120, 40)) as pilot:
        dialog = await _sweep_dialog(pilot)
        mode = dialog.query_one("#opt-mode", Select)
        assert mode.value == "run"  # no GPU here, never chosen before: one run first
        assert dialog.query("#sweep-opts.hidden")
        mode.value = "sweep"
        await pilot.pause()
        assert not dialog.query("#sweep-opts.hidden")
        # the space is TAO AutoML's, as --param lines, and can be edited
        space = dialog.query_one("#opt-space", TextArea)
        assert space.text.splitlines()[:2] == [
            "train.optim.lr=loguniform:1e-06:0.01",
            "train.optim.weight_decay=loguniform:1e-06:0.01",
        ]
        space.text = "train.optim.lr=loguniform:1e-5:1e-3\n"
        dialog.query_one("#opt-trials", Input).value = "2"
        dialog.query_one("#opt-objective", Select).value = "val/d1"
        await pilot.pause()
        assert "→ maximize" in str(dialog.query_one("#opt-objective-label").render())
        dialog.query_one("#opt-backend", Select).value = "local"
        dialog.query_one("#opt-gpus", Input).value = "none"
        dialog.query_one("#launch").focus()
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: isinstance(app.screen, SweepScreen) and app.screen.is_mounted, seconds=90
        )
        screen = app.screen
        folder = Path(state.output_dir) / "sweeps" / "sweep"
        assert screen.folder == folder.resolve() or screen.folder == folder
        table = screen.query_one("#trials", DataTable)
        await wait_for(
            pilot,
            lambda: (
                screen.info is not None and screen.info.count("COMPLETE") + screen.info.count("PRUNED") == 2
            ),
            seconds=120,
        )
        assert table.row_count == 2
        assert screen.info.objective == "val/d1" and screen.info.direction == "maximize"
        assert "2/2 trials" in str(screen.query_one("#sweep-summary").render())
        config = json.loads((folder / "sweep.json").read_text())
        assert [p["key"] for p in config["params"]] == ["train.optim.lr"] and config["backend"] == "local"
    # remembered in the session: a sweep is offered first next time, with what was changed
    saved = WizardState.load(state.output_dir)
    assert saved.run_mode == "sweep" and saved.last_sweep == str(folder)
    assert saved.sweep_trials == 2 and saved.sweep_objective == "val/d1"
    assert saved.sweep_space == ["train.optim.lr=loguniform:1e-5:1e-3"]
    again = DepthnetApp(saved)
    async with again.run_test(size=(120, 40)) as pilot:
        dialog = await _sweep_dialog(pilot)
        assert dialog.query_one("#opt-mode", Select).value == "sweep"
        assert dialog.query_one("#opt-trials", Input).value == "2"
        assert dialog.query_one("#opt-space", TextArea).text == "train.optim.lr=loguniform:1e-5:1e-3"
        await pilot.press("escape")


async def test_a_sweep_the_engine_refuses_says_why_and_leaves_no_folder(tmp_path, monkeypatch):
    """No depth_net and the local backend asked: the dialog's answer is one line, and no sweeps/ folder is made."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    state = spec_state(tmp_path)
    state.run_mode = "sweep"
    app = DepthnetApp(state)
    async with app.run_test(size=(120, 40)) as pilot:
        dialog = await _sweep_dialog(pilot)
        assert dialog.query_one("#opt-mode", Select).value == "sweep"  # chosen before: offered first
        dialog.query_one("#opt-backend", Select).value = "local"
        dialog.query_one("#launch").focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ProblemsScreen) and app.screen.is_mounted)
        text = " ".join(str(p.render()) for p in app.screen.query(".problem"))
        assert "depth_net is not on PATH" in text
        assert not (Path(state.output_dir) / "sweeps").exists()


async def test_a_space_that_does_not_parse_keeps_the_dialog_open(tmp_path):
    app = DepthnetApp(spec_state(tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        dialog = await _sweep_dialog(pilot)
        dialog.query_one("#opt-mode", Select).value = "sweep"
        dialog.query_one("#opt-space", TextArea).text = "train.optim.lrr=uniform:0:1"
        dialog.query_one("#launch").focus()
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert app.screen is dialog  # still open, the key named
        assert any("did you mean train.optim.lr" in str(n.message) for n in app._notifications)


def test_sweep_options_dialog_80x24(snap_compare, monkeypatch, snap_dir):
    monkeypatch.chdir(snap_dir)
    state = spec_state(snap_dir)
    state.run_mode = "sweep"

    async def open_dialog(pilot) -> None:
        await settle(pilot, 0.3)
        titles: list[str] = []  # each toast's title as it is posted: a loaded box may let one expire unseen
        notify = pilot.app.notify

        def noted(*args, **kwargs):
            titles.append(kwargs.get("title", ""))
            return notify(*args, **kwargs)

        pilot.app.notify = noted
        await pilot.press("ctrl+r")
        await wait_for(
            pilot, lambda: isinstance(pilot.app.screen, RunOptionsScreen) and pilot.app.screen.is_mounted
        )
        # the dialog's own workers (NVML's GPU list) done; the launch worker waits on the dialog, so not settle()
        await wait_for(
            pilot,
            lambda: all(w.is_finished or w.group in ("launch", "_loader") for w in pilot.app.workers),
        )
        # "Spec saved" shows as a toast or not by when the frame is taken: wait for it to be posted, then clear it
        await wait_for(pilot, lambda: "Spec saved" in titles)
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(DepthnetApp(state), terminal_size=(80, 24), run_before=open_dialog)
