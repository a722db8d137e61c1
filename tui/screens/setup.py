"""The Setup screen: can this machine run TAO depth_net? Each check's status, what it found and the fix that applies
here (the whole text, wrapped, for the highlighted check); ``p`` pulls the missing TAO images with a progress bar per
layer and one for the total (Esc cancels; the engine keeps finished layers, so pulling again resumes). Shown on the
first start, from Welcome and from the command palette. The checks are ``depthnet setup``'s.

The first frame is drawn before any check runs: every row says "checking…" (``CHECK_NAMES``), the checks start once
the frame is on the screen (the Docker SDK and NVML are imported in their threads, not while the frame is drawn) and
each row fills in as its check finishes; rows of checks that were not asked (no engine: no runtime, no images) go."""

from __future__ import annotations

import copy
import threading
import time
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label, ProgressBar, Static

from specgen.engine.setup import CHECK_NAMES
from tui.threads import FailuresToApp

if TYPE_CHECKING:
    from specgen.engine.setup import Check, Report

ICON = {"ok": "[green]ok[/]", "warn": "[yellow]warn[/]", "fail": "[b red]fail[/]"}
CHECKING = "[dim]checking…[/]"
#: Progress is drawn at most this often (a pull stream says something for every chunk of every layer).
DRAW_EVERY = 0.1


class SetupScreen(FailuresToApp, Screen[None]):
    """What the workers tell the screen, one message each (posting is thread-safe; a closed screen gets none)."""

    class Checking(Message):
        """A new round of checks begins."""

    class Checked(Message):
        def __init__(self, check: Check) -> None:
            super().__init__()
            self.check = check

    class Reported(Message):
        def __init__(self, report: Report) -> None:
            super().__init__()
            self.report = report

    class Pulled(Message):
        """Progress of one image's pull (``state``), or its end (``ended``: the words, ``failed``)."""

        def __init__(
            self, image: str = "", state: Any = None, ended: str | None = None, failed: bool = False
        ) -> None:
            super().__init__()
            self.image, self.state, self.ended, self.failed = image, state, ended, failed

    BINDINGS = [
        Binding("escape", "leave", "Back"),
        Binding("r", "recheck", "Re-check"),
        Binding("p", "pull", "Pull images"),
        Binding("c", "copy_fix", "Copy fix"),
    ]  # Esc also cancels a pull

    def __init__(self, runner: Any = None) -> None:
        """``runner(output_dir, on_check=…) -> Report``: the checks to run (``depthnet setup``'s by default)."""
        super().__init__()
        self.runner = runner
        self.rows: list[str] = []  # the table's rows, by check name, in order
        self.found: dict[str, Check] = {}  # the checks done so far
        self.cancel = threading.Event()
        self.pulling = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="setup-body"):
            yield Static("Checking this machine…", id="setup-summary")
            yield DataTable(id="checks", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="setup-fix-box"):
                yield Static("", id="setup-fix")
            with Vertical(id="pull-panel", classes="hidden"):
                yield Label("", id="pull-title")
                yield ProgressBar(id="pull-total", show_eta=False)
                yield Vertical(id="pull-layers")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = "Setup"
        table = self.query_one("#checks", DataTable)
        self._status_col = table.add_column("", width=4)
        table.add_column("check", width=16)
        self._found_col = table.add_column("found")
        table.focus()
        self._clear()
        self.call_after_refresh(self.run_checks)  # the frame first: the checks import the Docker SDK and NVML

    @property
    def checks(self) -> list[Check]:
        """The checks done, in the table's order."""
        return [self.found[name] for name in self.rows if name in self.found]

    # ------------------------------------------------------------------ checks

    @work(thread=True, exclusive=True, group="setup-checks", exit_on_error=False)
    def run_checks(self) -> None:
        """The checks in a thread (docker info, NVML, disk): each row appears as it is done."""
        from specgen.engine.setup import run_checks

        self.post_message(self.Checking())
        runner = self.runner or run_checks

        def checked(check: Check) -> None:
            self.post_message(self.Checked(check))

        report = runner(self._output_dir(), on_check=checked)
        self.post_message(self.Reported(report))

    def on_setup_screen_checking(self, message: Checking) -> None:
        self._clear()

    def on_setup_screen_checked(self, message: Checked) -> None:
        self._add(message.check)

    def on_setup_screen_reported(self, message: Reported) -> None:
        self._done(message.report)

    def on_setup_screen_pulled(self, message: Pulled) -> None:
        if message.state is not None:
            self._draw_pull(message.image, message.state)
        if message.ended is not None:
            self._pull_end(message.ended, message.failed)

    def _output_dir(self) -> str:
        state = getattr(self.app, "state", None)
        return getattr(state, "output_dir", None) or "."

    def _clear(self) -> None:
        """Every check's row, "checking…" until its check reports."""
        self.found = {}
        self.rows = list(CHECK_NAMES)
        table = self.query_one("#checks", DataTable)
        table.clear()
        for name in self.rows:
            table.add_row("", name, CHECKING, key=name)
        self.query_one("#setup-summary", Static).update("Checking this machine…")

    def _add(self, check: Check) -> None:
        table = self.query_one("#checks", DataTable)
        if check.name not in self.rows:  # a check the screen did not expect (a runner of its own): a new row
            self.rows.append(check.name)
            table.add_row("", check.name, CHECKING, key=check.name)
        self.found[check.name] = check
        table.update_cell(check.name, self._status_col, ICON[check.status])
        table.update_cell(check.name, self._found_col, check.detail, update_width=True)
        if table.cursor_row == self.rows.index(check.name):
            self._show_fix(table.cursor_row)

    def _done(self, report: Report) -> None:
        table = self.query_one("#checks", DataTable)
        for check in report.checks:
            if check.name not in self.found:
                self._add(check)
        for name in [n for n in self.rows if n not in self.found]:  # not asked (no engine): not a row
            table.remove_row(name)
            self.rows.remove(name)
        fails = [c.name for c in report.checks if c.status == "fail"]
        warns = [c.name for c in report.checks if c.status == "warn"]
        if fails:
            text = f"[b red]{len(fails)} check(s) fail[/]: {', '.join(fails)} — the fix is below each one"
        elif warns:
            text = f"[yellow]ready, with {len(warns)} warning(s)[/]: {', '.join(warns)}"
        else:
            text = "[green]this machine can run TAO depth_net[/]"
        if any(c.key == "p" for c in report.checks):
            text += "  ·  [b]p[/b] pulls the missing images"
        self.query_one("#setup-summary", Static).update(text)
        first_bad = next((i for i, c in enumerate(self.checks) if c.status != "ok"), 0)
        self.query_one("#checks", DataTable).move_cursor(row=first_bad)
        self._show_fix(first_bad)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_fix(event.cursor_row)

    def _show_fix(self, row: int) -> None:
        if not 0 <= row < len(self.rows) or self.rows[row] not in self.found:
            return
        c = self.found[self.rows[row]]
        from rich.text import Text

        text = Text.assemble((f"{c.name}: ", "bold"), c.detail)
        if c.fix:
            text.append("\nfix: ", style="bold")
            text.append(c.fix)
            text.append("   (c copies it)", style="dim")
        self.query_one("#setup-fix", Static).update(text)

    def action_recheck(self) -> None:
        if not self.pulling:
            self.run_checks()

    def action_copy_fix(self) -> None:
        row = self.query_one("#checks", DataTable).cursor_row
        check = self.found.get(self.rows[row]) if 0 <= row < len(self.rows) else None
        if check is not None and check.fix:
            self.app.copy_to_clipboard(check.fix)
            self.notify("fix copied to the clipboard", timeout=3)

    # ------------------------------------------------------------------ pull

    def action_pull(self, images: list[str] | None = None) -> None:
        if self.pulling:
            return
        from specgen.spec.docker_cmd import DEPLOY_IMAGE, TRAIN_IMAGE

        wanted = images or [
            img
            for img in (TRAIN_IMAGE, DEPLOY_IMAGE)
            if any(c.key == "p" and img in c.detail for c in self.checks)
        ]
        if not wanted:
            self.notify("every TAO image is already here (or the engine is not reachable: see the checks)")
            return
        self.cancel.clear()
        self.pulling = True
        self.query_one("#pull-panel").remove_class("hidden")
        self.pull(wanted)

    @work(thread=True, exclusive=True, group="setup-pull", exit_on_error=False)
    def pull(self, images: list[str]) -> None:
        from specgen.engine.pull import PullError, PullState
        from specgen.engine.pull import pull as pull_image
        from specgen.engine.setup import docker_client

        client, engine = docker_client()
        if client is None:
            self.post_message(self.Pulled(ended=f"cannot pull: {engine.detail}; {engine.fix}", failed=True))
            return
        for image in images:
            last = 0.0

            def show(state: PullState, image: str = image) -> None:
                nonlocal last
                now = time.monotonic()
                if now - last >= DRAW_EVERY or state.finished:
                    last = now
                    # a copy: the stream goes on changing the state while the screen draws this one
                    self.post_message(self.Pulled(image, copy.deepcopy(state)))

            try:
                state = pull_image(client, image, show, self.cancel)
            except PullError as exc:
                self.post_message(self.Pulled(ended=str(exc), failed=True))
                return
            self.post_message(self.Pulled(image, state))
            if self.cancel.is_set():
                self.post_message(self.Pulled(ended=f"{image}: {state.status}"))
                return
        self.post_message(self.Pulled(ended="pulled: " + ", ".join(images)))

    def _draw_pull(self, image: str, state: Any) -> None:
        self.query_one("#pull-title", Label).update(
            f"pulling [b]{image}[/]  ({state.status or 'starting'})  [dim]Esc cancels[/]"
        )
        self.query_one("#pull-total", ProgressBar).update(total=state.total or None, progress=state.current)
        box = self.query_one("#pull-layers", Vertical)
        for layer in state.layers.values():
            wid = f"layer-{layer.id}"
            found = box.query(f"#{wid}")
            if not found:
                box.mount(
                    Label(f"{layer.id}  {layer.status}", id=f"{wid}-label"),
                    ProgressBar(id=wid, show_eta=False, show_percentage=True),
                )
                continue
            bar = found.first(ProgressBar)
            bar.update(total=layer.total or None, progress=layer.current)
            self.query_one(f"#{wid}-label", Label).update(f"{layer.id}  {layer.status}")

    def _pull_end(self, message: str, failed: bool) -> None:
        self.pulling = False
        self.notify(message, severity="error" if failed else "information", title="Pull", timeout=15)
        self.query_one("#pull-title", Label).update(message)
        self.run_checks()

    def action_leave(self) -> None:
        if self.pulling:
            self.cancel.set()  # the worker stops at the next stream message; finished layers stay
            return
        if len(self.app.screen_stack) <= 2:  # the first start opened on this screen alone: Welcome comes next
            from tui.screens.welcome import WelcomeScreen

            self.app.switch_screen(WelcomeScreen())
            return
        self.app.pop_screen()
