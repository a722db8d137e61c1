"""The Runs screen: every run we know of (run folders and labelled containers); Enter re-attaches or reopens."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from tui.run import registry
from tui.run.backends import LaunchError
from tui.run.launch import backend_for, listing


class RunsScreen(Screen[None]):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("r", "reload", "Reload")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("[b]Runs[/] — Enter re-attaches to a running one or reopens a finished one", id="runs-title")
        yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Static("", id="runs-empty")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#runs", DataTable).add_columns("run", "backend", "action", "state", "verdict", "reason")
        self.action_reload()

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="runs")
    def load(self) -> None:
        rows = listing()  # asks the Docker engine: off the UI thread
        self.app.call_from_thread(self.show, rows)

    def show(self, rows: list[dict]) -> None:
        table = self.query_one("#runs", DataTable)
        table.clear()
        for r in reversed(rows):  # newest first
            verdict = {"PASS": "[green]PASS[/]", "FAIL": "[red]FAIL[/]"}.get(r["verdict"] or "", "-")
            table.add_row(r["run_id"], r["backend"], r["action"], r["state"], verdict, (r.get("reason") or "")[:60],
                          key=r["run_id"])
        self.query_one("#runs-empty", Static).update(
            "" if rows else "No runs yet: save a spec and press ctrl+r on the Spec step, or `depthnet run`.")

    @on(DataTable.RowSelected, "#runs")
    def _open(self, event: DataTable.RowSelected) -> None:
        self.open_run(str(event.row_key.value))

    @work(thread=True, exclusive=True, group="open")
    def open_run(self, run_id: str) -> None:
        from tui.screens.run import RunScreen

        try:
            record = registry.load(run_id)
            backend = backend_for(record)
        except (FileNotFoundError, LaunchError, ValueError) as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(self.app.push_screen, RunScreen(record, backend))
