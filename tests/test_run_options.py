"""The run options dialog's restart choices, driven as a person would: retries after a machine failure (any
backend, one run only: a sweep's trials are its own), typed and checked in the dialog; the Slurm time-limit
requeue only for a train run (the submission itself: tests/test_slurm.py, on the cluster)."""

from __future__ import annotations

from conftest import wait_for
from textual.app import App
from textual.widgets import Input, Select

from tui.screens.modals import RunChoice, RunOptionsScreen, SweepOffer


def _host(results: list, **kw) -> App:
    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(RunOptionsScreen("", "", "0", "", **kw), results.append)

    return Host()


async def test_retries_are_typed_checked_and_returned():
    results: list[RunChoice | None] = []
    app = _host(results)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunOptionsScreen) and app.screen.is_mounted)
        dialog = app.screen
        retries = dialog.query_one("#opt-retries", Input)
        assert retries.value == "0" and not dialog.query_one("#restart-opts").has_class("hidden")
        retries.focus()
        await pilot.press("backspace", "2", "5", "enter")  # over the bound: said, and the dialog stays
        await wait_for(pilot, lambda: any("0 to 20" in n.message for n in app._notifications))
        assert not results and app.screen is dialog
        await pilot.press("backspace", "backspace", "2", "enter")
        await wait_for(pilot, lambda: results)
    assert results[0] is not None and results[0].retries == 2 and results[0].slurm is None


async def test_a_sweep_takes_no_retries_and_the_requeue_is_a_train_runs():
    offer = SweepOffer(True, 4, 0, "val/abs_rel", "", ["train.optim.lr=loguniform:1e-6:1e-4"])
    results: list[RunChoice | None] = []
    app = _host(results, sweep=offer)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunOptionsScreen) and app.screen.is_mounted)
        dialog = app.screen
        assert dialog.query_one("#restart-opts").has_class("hidden")  # a sweep first: no retries field
        assert dialog.query("#opt-requeue")  # train: the Slurm requeue is offered (shown with Slurm)
        dialog.query_one("#opt-mode", Select).value = "run"
        await wait_for(pilot, lambda: not dialog.query_one("#restart-opts").has_class("hidden"))
    results = []
    app = _host(results, action="evaluate")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunOptionsScreen) and app.screen.is_mounted)
        assert not app.screen.query("#opt-requeue")  # evaluate has no checkpoint to resume from
