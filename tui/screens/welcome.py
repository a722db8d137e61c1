"""Welcome: new setup, resume the last one, or try it with generated sample data."""

from __future__ import annotations

import os
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Label, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option

from tui.state import WizardState, load_recent
from tui.threads import FailuresToApp, call_ui

INTRO = """\
[b]depthnet-tui[/b]

From a folder of RGB images and depth maps to a correctly configured TAO [b]depth_net[/b] job
(Depth Anything V2, metric or relative) — with TAO's silent traps caught [i]before[/i] GPU hours are spent.
"""


class WelcomeScreen(FailuresToApp, Screen[None]):
    BINDINGS = [Binding("f1", "help", "Help"), Binding("s", "app.setup", "Setup")]

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="welcome"):
            yield Static(INTRO, id="intro")
            recent = load_recent()
            resume = (
                recent.last_session if recent.last_session and Path(recent.last_session).is_file() else None
            )
            options = [Option("New setup — choose a data root", id="new")]
            if resume:
                options.append(Option(f"Resume last session — {resume}", id="resume"))
            options.append(
                Option("Try it with sample data — generates a small NYU-like dataset", id="sample")
            )
            yield OptionList(*options, id="start")
            yield Label("Folder for the sample data (Enter to create):", id="sample-label", classes="hidden")
            yield Input("", id="sample-dir", classes="hidden", compact=True)
            yield ProgressBar(id="sample-progress", classes="hidden", show_eta=False)
        yield Footer(compact=True)

    @property
    def resume_path(self) -> str | None:
        return load_recent().last_session

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        choice = event.option.id
        if choice == "new":
            self.app.start(WizardState())  # type: ignore[attr-defined]
        elif choice == "resume" and self.resume_path:
            try:
                state = WizardState.load(self.resume_path)
            except (OSError, ValueError) as exc:
                self.notify(str(exc), severity="error", title="Cannot resume")
                return
            self.app.start(state, resume=True)  # type: ignore[attr-defined]
        elif choice == "sample":
            from specgen.data.sample_data import default_sample_folder

            box = self.query_one("#sample-dir", Input)
            if not box.value:
                box.value = str(default_sample_folder())
            for wid in ("#sample-label", "#sample-dir"):
                self.query_one(wid).remove_class("hidden")
            box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.make_sample(event.value.strip())

    @work(thread=True, exclusive=True, exit_on_error=False)
    def make_sample(self, folder: str) -> None:
        from specgen.data.sample_data import make_sample_dataset

        target = Path(os.path.expanduser(folder)).resolve()
        bar = self.query_one("#sample-progress", ProgressBar)
        call_ui(self, bar.remove_class, "hidden")

        def step(done: int, total: int) -> None:
            call_ui(self, bar.update, progress=done, total=total)

        try:
            data = make_sample_dataset(target / "data", progress=step)
        except (OSError, ValueError) as exc:
            call_ui(self, self.notify, f"{exc}", severity="error", title="Sample data not created")
            return
        state = WizardState(data_root=str(data), output_dir=str(target / "work"))
        call_ui(self, self.notify, f"Sample dataset written to {data}", title="Sample data")
        call_ui(self, self.app.start, state)  # type: ignore[attr-defined]

    def action_help(self) -> None:
        from specgen.job.help import help_text
        from tui.screens.modals import HelpScreen

        self.app.push_screen(HelpScreen(help_text("finetuning.md")))
