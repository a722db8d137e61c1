"""Evaluation metrics of one run, or several side by side: the change against the first run and the best one."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from specgen.data.metrics import fmt, fmt_delta, metric_rows


class MetricsScreen(Screen[None]):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("f1", "help", "Help")]

    def __init__(self, runs: list[tuple[str, dict[str, Any]]]) -> None:
        super().__init__()
        self.runs = runs

    def compose(self) -> ComposeResult:
        yield Header()
        what = "Metrics" if len(self.runs) == 1 else f"Metrics of {len(self.runs)} runs side by side"
        yield Static(
            f"[b]{what}[/] — * best; change against the first run, [green]▲ better[/] [red]▼ worse[/]",
            id="metrics-title",
        )
        yield DataTable(id="metrics", cursor_type="row", zebra_stripes=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#metrics", DataTable)
        table.add_column("metric")
        for label, _ in self.runs:
            table.add_column(label)
        table.add_column("meaning")
        for row in metric_rows([kpi for _, kpi in self.runs]):
            cells = []
            for i, value in enumerate(row["values"]):
                delta = fmt_delta(row["deltas"][i], row["higher_is_better"])
                delta = delta.replace("▲", "[green]▲[/]").replace("▼", "[red]▼[/]")
                best = " [b]*[/]" if row["best"] == i else ""
                cells.append(f"{fmt(value)}{' ' + delta if delta else ''}{best}")
            table.add_row(row["label"], *cells, f"[dim]{row['meaning']}[/]")
        table.focus()

    def action_help(self) -> None:
        from specgen.job.help import help_text
        from tui.screens.modals import HelpScreen

        self.app.push_screen(HelpScreen(help_text("after-training.md#reading")))
