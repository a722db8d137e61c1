"""The Runs screen: every run we know of (run folders and labelled containers); Enter re-attaches or reopens."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from specgen.engine import registry
from specgen.engine.launch import backend_for, listing
from specgen.engine.records import LaunchError, RunRecord, RunRow
from tui.nav import OpenMetrics, OpenNext, OpenOutputs, OpenRun
from tui.threads import FailuresToApp
from tui.widgets.plain import plain_cell
from tui.widgets.tables import fill_table

RUN_COLUMNS = (
    "  ",
    "run",
    "backend",
    "action",
    "state",
    "verdict",
    "reason",
)  # "  ": room for a mark up to 99


class RunsScreen(FailuresToApp, Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("r", "reload", "Reload"),
        Binding("space", "mark", "Mark"),
        Binding("m", "metrics", "Metrics (marked)"),
        Binding("ctrl+n", "next_step", "Next step"),
        Binding("v", "outputs", "Depth maps"),
    ]

    class Listed(Message):
        """The load worker's answer: every run, oldest first."""

        def __init__(self, rows: list[RunRow]) -> None:
            super().__init__()
            self.rows = rows

    def __init__(self) -> None:
        super().__init__()
        self.marked: list[str] = []  # in marking order: the first is the baseline of a comparison

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(
            "[b]Runs[/] — Enter re-attaches or reopens · space marks evaluations to compare", id="runs-title"
        )
        yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Static("", id="runs-empty")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="runs", exit_on_error=False)
    def load(self) -> None:
        self.post_message(self.Listed(listing()))  # asks the Docker engine: off the UI thread

    def on_runs_screen_listed(self, message: Listed) -> None:
        self.show(message.rows)

    def show(self, rows: list[RunRow]) -> None:
        cells, keys = [], []
        for r in reversed(rows):  # newest first
            verdict = {"PASS": "[green]PASS[/]", "FAIL": "[red]FAIL[/]"}.get(r.verdict or "", "-")
            mark = str(self.marked.index(r.run_id) + 1) if r.run_id in self.marked else ""
            cells.append(
                (
                    mark,
                    plain_cell(r.run_id),
                    r.backend,
                    r.action or "",
                    r.state,
                    verdict,
                    plain_cell((r.reason or "")[:60]),
                )
            )
            keys.append(r.run_id)
        fill_table(self.query_one("#runs", DataTable), RUN_COLUMNS, cells, keys)
        self.query_one("#runs-empty", Static).update(
            "" if rows else "No runs yet: save a spec and press ctrl+r on the Spec step, or `depthnet run`."
        )

    @on(DataTable.RowSelected, "#runs")
    def _open(self, event: DataTable.RowSelected) -> None:
        self.open_run(str(event.row_key.value))

    @work(thread=True, exclusive=True, group="open", exit_on_error=False)
    def open_run(self, run_id: str) -> None:
        """Load the record and find its live backend (asks the engine): off the UI thread. A refusal (a damaged
        record, no engine) is a failed worker: the app says it in one line."""
        record = registry.load(run_id)
        self.post_message(OpenRun(record, backend_for(record)))

    # ------------------------------------------------------------------ after a run

    def _current(self) -> str | None:
        table = self.query_one("#runs", DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def action_mark(self) -> None:
        run_id = self._current()
        if run_id is None:
            return
        if run_id in self.marked:
            self.marked.remove(run_id)
        else:
            self.marked.append(run_id)
        table = self.query_one("#runs", DataTable)
        for key in table.rows:
            rid = str(key.value)
            table.update_cell(
                key,
                table.ordered_columns[0].key,
                str(self.marked.index(rid) + 1) if rid in self.marked else "",
            )

    def _record(self) -> RunRecord | None:
        run_id = self._current()
        if run_id is None:
            return None
        try:
            return registry.load(run_id)
        except (FileNotFoundError, LaunchError) as exc:
            self.notify(str(exc), severity="error")
            return None

    def action_metrics(self) -> None:
        current = self._current()
        ids = self.marked or ([current] if current else [])
        if ids:
            self.post_message(OpenMetrics(ids))

    def action_next_step(self) -> None:
        if (record := self._record()) is not None:
            self.post_message(OpenNext(record))

    def action_outputs(self) -> None:
        if (record := self._record()) is not None:
            self.post_message(OpenOutputs(record))
