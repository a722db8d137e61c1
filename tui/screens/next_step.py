"""The Next-step screen: from a finished run to the next action's spec (prefilled), saved and launched in two keys.

The derivation is ``specgen.job.chain``: the same one ``depthnet next`` writes. This screen only lets a person pick the
action and change what is worth changing (data file, ONNX name, TensorRT precision, calibration folder).
"""

from __future__ import annotations

from pathlib import Path

from rich.syntax import Syntax
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Label, Select, Static

from specgen.engine.results import RunRef
from specgen.job.chain import NEXT_ACTIONS, ChainError, Choices, Derived, derive
from specgen.spec.paths import free_path
from tui.nav import OpenRun
from tui.screens.modals import save_confirmed
from tui.threads import FailuresToApp

WHAT = {
    "evaluate": "metrics (AbsRel, δ1–δ3) on labelled data",
    "inference": "depth maps for images (no ground truth needed)",
    "export": "an ONNX model",
    "quantize": "a quantised model",
    "gen_trt_engine": "a TensorRT engine (TAO Deploy image)",
}
#: Which form fields each action uses.
FIELDS = {
    "evaluate": {"data"},
    "inference": {"data"},
    "export": {"onnx"},
    "quantize": {"calib"},
    "gen_trt_engine": {"onnx", "dtype"},
}


class NextStepScreen(FailuresToApp, Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("f1", "help", "Help"),
        Binding("ctrl+s", "save", "Save spec"),
        Binding("ctrl+r", "run", "Save and run"),
        Binding("ctrl+f", "fix", "Use the free name"),
    ]

    def __init__(self, run: RunRef, action: str | None = None) -> None:
        super().__init__()
        self.run = run
        self.followers = NEXT_ACTIONS.get(run.source.action, ())
        self.action_name = (
            action if action in self.followers else (self.followers[0] if self.followers else "")
        )
        self.derived: Derived | None = None
        self.offered: str | None = None  # a free ONNX name offered after a refusal

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(
            f"[b]Next[/] after the {self.run.source.action} run [b]{self.run.label}[/]", id="next-title"
        )
        with Horizontal(id="next-body"):
            with Vertical(id="next-form"):
                yield Label("Action")
                yield Select(
                    [(f"{a} — {WHAT[a]}", a) for a in self.followers],
                    value=self.action_name or Select.BLANK,
                    allow_blank=not self.followers,
                    id="next-action",
                    compact=True,
                )
                yield Label("Data file [dim](empty: the run's validation data)[/]", classes="f-data")
                yield Input(id="next-data", compact=True, classes="f-data")
                yield Label("ONNX file [dim](empty: automatic)[/]", classes="f-onnx")
                yield Input(id="next-onnx", compact=True, classes="f-onnx")
                yield Label("TensorRT precision", classes="f-dtype")
                yield Select(
                    [("FP32", "FP32"), ("BF16 (SM80+ GPUs)", "BF16"), ("FP16 (not for ViT-L/G)", "FP16")],
                    value="FP32",
                    allow_blank=False,
                    id="next-dtype",
                    compact=True,
                    classes="f-dtype",
                )
                yield Label(
                    "Calibration images folder [dim](empty: the training images' folder)[/]",
                    classes="f-calib",
                )
                yield Input(id="next-calib", compact=True, classes="f-calib")
                yield Label("Save as")
                yield Input(id="next-path", compact=True)
                yield Static("", id="next-notes")
                yield Static("", id="next-problems")
            with VerticalScroll(id="next-yaml-pane"):
                yield Static("", id="next-yaml")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        if not self.followers:
            self.query_one("#next-problems", Static).update(
                f"[yellow]Nothing follows a {self.run.source.action} run.[/]"
            )
            return
        self._show_fields()
        self.refresh_spec()

    def _show_fields(self) -> None:
        wanted = FIELDS.get(self.action_name, set())
        for name in ("data", "onnx", "dtype", "calib"):
            for widget in self.query(f".f-{name}"):
                widget.display = name in wanted

    def choices(self) -> Choices:
        def value(selector: str) -> str | None:
            widget = self.query_one(selector, Input)
            return (widget.value.strip() or None) if widget.display else None

        dtype = self.query_one("#next-dtype", Select).value
        return Choices(
            data_file=value("#next-data"),
            calibration_images_dir=value("#next-calib"),
            onnx_file=value("#next-onnx"),
            data_type=str(dtype) if self.action_name == "gen_trt_engine" else None,
        )

    @on(Select.Changed, "#next-action")
    def _action(self, event: Select.Changed) -> None:
        if event.value is Select.BLANK or event.value == self.action_name:
            return
        self.action_name = str(event.value)
        self.query_one("#next-path", Input).value = ""
        self._show_fields()
        self.refresh_spec()

    @on(Input.Changed, "#next-data, #next-onnx, #next-calib")
    @on(Select.Changed, "#next-dtype")
    def _edited(self) -> None:
        self.refresh_spec()

    @work(thread=True, exclusive=True, group="derive", exit_on_error=False)
    def refresh_spec(self) -> None:
        """Derive off the UI thread: it reads the run folder and the specs up the chain."""
        action, choices = self.action_name, self.choices()
        try:
            derived: Derived | ChainError = derive(self.run.source, action, choices)
        except ChainError as exc:
            derived = exc
        self.post_message(self.Derivation(action, derived))

    class Derivation(Message):
        """The derive worker's answer for one action: the spec, or why it cannot be derived."""

        def __init__(self, action: str, derived: Derived | ChainError) -> None:
            super().__init__()
            self.action, self.derived = action, derived

    def on_next_step_screen_derivation(self, message: Derivation) -> None:
        self.show(message.action, message.derived)

    def show(self, action: str, derived: Derived | ChainError) -> None:
        if action != self.action_name:
            return  # a stale derivation (the action changed meanwhile)
        yaml_box, problems, notes = (
            self.query_one(s, Static) for s in ("#next-yaml", "#next-problems", "#next-notes")
        )
        if isinstance(derived, ChainError):
            self.derived = None
            self.offered = next(
                (
                    p.fix.removeprefix("use ")
                    for p in derived.problems
                    if p.path == "export.onnx_file" and p.fix.startswith("use ")
                ),
                None,
            )
            fix = "\n[dim]ctrl+f: use the free name[/]" if self.offered else ""
            problems.update(
                "[red b]Cannot derive:[/]\n"
                + "\n".join(f"[red]✗[/] {line}" for line in str(derived).splitlines())
                + fix
            )
            yaml_box.update("")
            notes.update("")
            return
        self.derived, self.offered = derived, None
        path_input = self.query_one("#next-path", Input)
        if not path_input.value:
            path_input.value = str(derived.default_path())
        notes.update(
            "\n".join(f"[dim]•[/] {n}" for n in derived.notes) + f"\n[dim]• image {derived.image}[/]"
        )
        problems.update(
            "\n".join(f"[yellow]![/] {p.line()}" for p in derived.problems)
            or f"[green]✓ valid for {action}[/]"
        )
        yaml_box.update(Syntax(derived.text(), "yaml", theme="ansi_dark", word_wrap=False))

    def action_fix(self) -> None:
        if self.offered:
            self.query_one("#next-onnx", Input).value = self.offered
        else:
            self.notify("Nothing to fix here.")

    def action_save(self) -> None:
        self.save()

    @work(exclusive=True, group="save", exit_on_error=False)
    async def save(self) -> None:
        await self.save_spec()

    async def save_spec(self) -> Path | None:
        """Write the derived spec atomically; ask before replacing a different file."""
        if self.derived is None:
            self.notify("Fix the problems first.", severity="error")
            return None
        text = self.derived.text()
        path = Path(self.query_one("#next-path", Input).value.strip() or free_path("next.yaml"))
        saved = await save_confirmed(self.app, path, text)
        if saved != "saved":
            return path if saved == "unchanged" else None
        self.notify(str(path), title="Spec saved")
        return path

    def action_run(self) -> None:
        self.launch()

    @work(exclusive=True, group="launch", exit_on_error=False)
    async def launch(self) -> None:
        from tui.screens.launch_flow import launch_spec

        path = await self.save_spec()
        if path is None or self.derived is None:
            return
        s = self.app.state  # type: ignore[attr-defined]
        image = (
            "" if "deploy" in self.derived.image else s.run_image
        )  # a TensorRT step picks the Deploy image
        defaults = (s.run_backend, image, s.run_gpus, s.run_network)
        choice, record, backend = await launch_spec(self.app, self.derived.action, str(path), defaults)
        if choice is not None:
            s.run_backend, s.run_gpus, s.run_network = choice.backend, choice.gpus, choice.network
        if record is not None:  # this screen's job is done: Esc from the new run leads back to the source run
            self.post_message(OpenRun(record, backend, replace=True))

    def action_help(self) -> None:
        from specgen.job.help import help_text
        from tui.screens.modals import HelpScreen

        self.app.push_screen(HelpScreen(help_text("after-training.md")))
