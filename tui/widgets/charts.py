"""A plotext chart that survives any redraw at any size.

plotext scales a log axis *in place* while it builds a figure, so building the same data twice — which Textual does
on every resize — takes the log of logs (``ValueError: math domain error``) and the app stops. ``Chart`` keeps the
drawing as a function and runs it afresh before every build, so each build starts from the data itself; a size
too small for any figure draws nothing rather than failing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import RenderResult
from textual_plotext import PlotextPlot

Draw = Callable[[Any], None]  # receives the widget's plotext ``plt``


class Chart(PlotextPlot):
    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._draw: Draw | None = None

    def draw(self, draw: Draw) -> None:
        """Show what ``draw(plt)`` plots (on a cleared figure); drawn again for every render."""
        self._draw = draw
        self.refresh()

    def render(self) -> RenderResult:
        if self._draw is not None:
            self.plt.clear_data()
            self._draw(self.plt)
        try:
            return super().render()
        except (ValueError, ZeroDivisionError, IndexError):  # plotext at a size it cannot lay out
            return Text("")
