"""What every wizard step shares: header, step bar, footer bindings (next/back/help) and the state."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from specgen.job.help import help_text
from tui.screens.modals import HelpScreen
from tui.state import WizardState
from tui.threads import FailuresToApp, call_ui

if TYPE_CHECKING:
    from specgen.spec.schema import ExperimentSpec


class Wizard(Protocol):
    """What a step needs of the app that hosts it (the app imports the steps, never the reverse)."""

    state: WizardState

    def next_step(self) -> None: ...

    def prev_step(self) -> None: ...

    def build_spec(self, action: str | None = None) -> tuple[ExperimentSpec, list[Any]]: ...

    def check_override(self, key: str, value: Any) -> str | None: ...


STEP_TITLES: dict[str, str] = {
    "data_root": "Data root",
    "convert": "Convert",
    "data_check": "Data check",
    "model": "Model",
    "weights": "Weights",
    "recipe": "Recipe",
    "spec": "Spec",
}


class StepBar(Static):
    def __init__(self, current: str) -> None:
        parts = []
        for i, (key, title) in enumerate(STEP_TITLES.items(), start=1):
            parts.append(f"[b reverse] {i} {title} [/]" if key == current else f"[dim]{i} {title}[/]")
        super().__init__(" › ".join(parts), id="step-bar")


class WizardScreen(FailuresToApp, Screen[None]):
    STEP: ClassVar[str] = ""
    HELP_TOPIC: ClassVar[str] = "finetuning.md"
    BINDINGS = [
        Binding("ctrl+n", "next", "Next", priority=True),
        Binding("ctrl+b", "back", "Back", priority=True),
        Binding("f1", "help", "Help"),
    ]

    @property
    def wizard(self) -> Wizard:
        return self.app  # type: ignore[return-value]

    @property
    def state(self) -> WizardState:
        return self.wizard.state

    def call_ui(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """From a thread worker: run ``fn`` on the UI thread, unless this screen has gone meanwhile."""
        call_ui(self, fn, *args, **kwargs)

    def compose(self) -> ComposeResult:
        yield Header()
        yield StepBar(self.STEP)
        yield from self.compose_body()
        yield Footer(compact=True)

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_screen_resume(self) -> None:
        self.call_after_refresh(self._focus_first_field)

    def _focus_first_field(self) -> None:
        """The keyboard lands on the step's first field (Textual's default can pick the scroll pane around it); a
        field the step focused itself is kept."""
        from textual.widgets import Button, DataTable, Input, OptionList, Select, SelectionList, TextArea

        fields = (Input, Select, SelectionList, DataTable, OptionList, TextArea, Button)
        if isinstance(self.focused, fields):
            return
        first = next(
            (w for w in self.query("*") if isinstance(w, fields) and w.focusable and w.display), None
        )
        if first is not None:
            first.focus()

    def commit(self) -> bool:
        """Store the screen's values in the state; return False (after telling the user why) to stay."""
        return True

    def action_next(self) -> None:
        if self.commit():
            self.wizard.next_step()

    def action_back(self) -> None:
        self.commit()
        self.wizard.prev_step()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(help_text(self.HELP_TOPIC)))
