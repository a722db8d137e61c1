"""Filling a DataTable with column widths measured here, not on Textual's idle pass.

Textual measures auto-width columns when its message queue is idle and then repaints; under load that repaint can
be lost, leaving rows cut to the headers' widths until something else redraws the table (seen in CI snapshots of
the Runs and inference screens). Widths set with the rows draw right the first time.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

from rich.text import Text
from textual.widgets import DataTable

MAX_WIDTH = 200  # a longer cell is cut: the table scrolls sideways up to here


def _width(cell: str) -> int:
    return Text.from_markup(cell).cell_len  # as the table draws a str cell: markup, not its tags, takes room


def fill_table(
    table: DataTable,
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    keys: Iterable[Hashable | None] | None = None,
) -> None:
    """Replace the table's columns and rows; each column as wide as its widest cell (header included)."""
    rows = [list(r) for r in rows]
    widths = [min(MAX_WIDTH, max([_width(h)] + [_width(r[i]) for r in rows])) for i, h in enumerate(headers)]
    table.clear(columns=True)
    for header, width in zip(headers, widths, strict=True):
        table.add_column(header, width=width)
    for row, key in zip(rows, list(keys) if keys is not None else [None] * len(rows), strict=True):
        table.add_row(*row, key=None if key is None else str(key))
