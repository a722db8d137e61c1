"""A plotext chart that survives any redraw at any size, and is built off the event loop.

plotext scales a log axis *in place* while it builds a figure, so building the same data twice — which Textual does
on every resize — takes the log of logs (``ValueError: math domain error``) and the app stops. ``Chart`` keeps the
drawing as a function and runs it afresh before every build, so each build starts from the data itself; a size
too small for any figure draws nothing rather than failing.

plotext is pure Python and slow: a 118×20 braille figure of 600 points takes ~37 ms, and ``PlotextPlot`` builds it
in ``render()``, on the event loop during the compositor's frame — the Run screen's largest stall under a log flood
(issue #26). So the build (the draw function, the size, the theme, ``build()``, the ANSI parse, the conversion to
Textual's ``Content`` and its lines as the compositor draws them — another ~6 ms a frame at 80×24) runs in a thread
worker, and ``render()`` only hands back the last figure built:

- the figure matches the widget's size, theme and drawing → it is returned as it is;
- it does not → the last figure is returned meanwhile (cropped, never wrapped) and a build at the new size asked;
- builds coalesce: while one runs, any number of newer requests collapse into one follow-up build of the newest
  (as toolong coalesces its line scans) — never a queue of stale figures; two builds at most for a burst.

The figure comes back as a typed message (``Chart.Built``, posted from the thread: ``post_message`` is
thread-safe), and is applied on the loop, where all the bookkeeping lives; a lock keeps the ``Plot`` object to one
build at a time. ``built`` counts the figures applied and ``is_current`` says the one shown is the newest wanted,
for tests (and people) to wait on rather than sleep."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple, cast

from rich.ansi import AnsiDecoder
from rich.text import Text
from textual import work
from textual.app import RenderResult
from textual.content import Content
from textual.css.styles import RenderStyles, RulesMap
from textual.message import Message
from textual.strip import Strip
from textual.style import Style
from textual.visual import RenderOptions
from textual_plotext import PlotextPlot
from textual_plotext.plotext_plot import _themes

from specgen.engine.turns import yield_gil
from tui.threads import FailuresToApp
from tui.widgets.figures import FIGURES, NotRecordable, Recording

Draw = Callable[[Any], None]  # receives the widget's plotext ``plt``; runs in the build thread


def _nothing(plt: Any) -> None:
    """The drawing before any is given: plotext's empty axes, as a bare ``PlotextPlot`` shows them."""


#: The widget's rules that shape how Content lays out its lines (what ``Content.render_strips`` reads)
TEXT_RULES = ("text_align", "text_overflow", "text_wrap", "line_pad")


def _text_rules(rules: RulesMap | RenderStyles) -> tuple[object, ...]:
    return tuple(rules.get(name) for name in TEXT_RULES)


class Want(NamedTuple):
    """What a figure is built for: the drawing (its generation and function), the widget's size and theme — and
    the base style and text rules its lines are drawn with."""

    drawing: int
    width: int
    height: int
    theme: str
    draw: Draw
    style: Style
    rules: tuple[object, ...]

    @property
    def key(self) -> tuple[object, ...]:
        """Everything but the function itself (its generation stands for it)."""
        return self.drawing, self.width, self.height, self.theme, self.style, self.rules


class Figure(Content):
    """A built figure: the Content, and its lines as the compositor asks for them at the size, style and rules it
    was built for — made in the build thread, so a frame at that size costs a copy of a list. Anything else asked
    (a text selection over the chart, a style changed since) is drawn as any Content is, on the spot."""

    def __init__(self, content: Content, want: Want, strips: list[Strip]) -> None:
        super().__init__(content.plain, list(content.spans), content.cell_length, strip_control_codes=False)
        self._made = (want.width, want.height, want.style, want.rules)
        self._strips = strips

    def render_strips(
        self, width: int, height: int | None, style: Style, options: RenderOptions
    ) -> list[Strip]:
        if (
            options.selection is None
            and options.post_style is None
            and (width, height, style, _text_rules(options.rules)) == self._made
        ):
            return list(self._strips)
        return super().render_strips(width, height, style, options)


class Chart(FailuresToApp, PlotextPlot):
    # The last figure stays on screen while the next is built: cropped to a smaller size, not wrapped into garbage.
    DEFAULT_CSS = """
    Chart {
        text-wrap: nowrap;
        text-overflow: clip;
    }
    """

    class Built(Message, bubble=False):
        """A figure built in the thread (``None``: the drawing failed; the worker's error says why)."""

        def __init__(self, want: Want, figure: Figure | None) -> None:
            super().__init__()
            self.want, self.figure = want, figure

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._draw: Draw = _nothing
        self._drawing = 0  # generation of the drawing: a new draw() makes every figure built so far stale
        self._figure: Figure | None = None
        self._shown: tuple[object, ...] | None = None  # the key of ``_figure``
        self._building: Want | None = None  # the build under way, if any
        self._next: Want | None = None  # the one follow-up build, if newer requests came meanwhile
        self._lock = threading.Lock()
        self.built = 0  # figures applied so far
        self.build_seconds = (
            0.0  # the last figure's build, asked to applied (its thread, the helper, the wait)
        )
        self._asked = 0.0
        self._token = FIGURES.token()  # this chart's figure in the helper process
        self._elsewhere = True  # built there until it cannot be

    # ------------------------------------------------------------------ on the loop

    def draw(self, draw: Draw) -> None:
        """Show what ``draw(plt)`` plots (on a cleared figure). It runs afresh in the build thread for every build,
        so it must read only what it was given (copies of the data), never live state the loop goes on changing."""
        self._draw = draw
        self._drawing += 1
        if self.is_mounted:
            self._ask(self._want())

    def _want(self) -> Want:
        theme = self._get_plotext_theme_name(self.app.theme)
        width, height = self.size
        return Want(
            self._drawing, width, height, theme, self._draw, self.visual_style, _text_rules(self.styles)
        )

    @property
    def is_current(self) -> bool:
        """The figure shown is built from the newest drawing at the widget's size and theme, and none is pending."""
        return self._building is None and self._next is None and self._shown == self._want().key

    def render(self) -> RenderResult:
        want = self._want()
        if self._shown != want.key:
            self._ask(want)
        return self._figure if self._figure is not None else Content("")

    def on_unmount(self) -> None:
        FIGURES.forget(self._token)

    def on_resize(self) -> None:
        """Build for the new size even where the compositor will not render it yet (scrolled out of view), so the
        figure is ready when it is shown and ``is_current`` holds once the build lands."""
        want = self._want()
        if self._shown != want.key:
            self._ask(want)

    def _ask(self, want: Want) -> None:
        if self._building is not None:
            # the one under way is what is wanted now: nothing to follow it; else the newest request replaces any
            self._next = None if self._building.key == want.key else want
            return
        self._building = want
        self._asked = time.monotonic()
        self._build(want)

    def on_chart_built(self, message: Built) -> None:
        self._building = None
        if message.figure is not None:
            self._figure = message.figure
        self._shown = message.want.key  # a failed drawing is not retried until something changes
        self.built += 1
        self.build_seconds = time.monotonic() - self._asked
        self.refresh()  # render() hands the new figure to the compositor, or asks for the next size
        follow, self._next = self._next, None
        if follow is not None and follow.key != self._shown:
            self._ask(follow)

    # ------------------------------------------------------------------ in the thread

    @work(thread=True, group="chart-build", exit_on_error=False)
    def _build(self, want: Want) -> None:
        figure: Figure | None = None
        try:
            with self._lock:
                figure = self._make(want)
        finally:  # failed or not, the loop hears of it: a chart never waits for a build that ended
            self.post_message(self.Built(want, figure))

    def _make(self, want: Want) -> Figure:
        ansi = self._built_elsewhere(want) if self._elsewhere else None
        if ansi is None:
            plt = self._plot
            plt.clear_data()
            want.draw(plt)
            try:
                plt.plotsize(want.width, want.height)
                # textual-plotext's belt and braces for a resize (its issue #5), as PlotextPlot.render does
                plt._set_size(want.width, want.height)
                plt.theme(want.theme)
                ansi = plt.build()
            except (ValueError, ZeroDivisionError, IndexError):  # plotext at a size it cannot lay out
                ansi = ""
        text = from_ansi(ansi) if ansi else Text("")
        yield_gil()
        content = Content.from_rich_text(text, console=self.app.console)
        yield_gil()
        # the lines as Visual.to_strips asks for them: no selection, no post style, the rules as they were
        rules = cast(RulesMap, dict(zip(TEXT_RULES, want.rules, strict=True)))
        options = RenderOptions(self._get_style, rules)
        return Figure(content, want, render_strips(content, want.width, want.height, want.style, options))

    def _built_elsewhere(self, want: Want) -> str | None:
        """plotext's text for ``want``, built in the helper process (``figures``); None where it cannot be: this
        chart's figures are then built here from now on (its ``plt`` keeps what its drawings set, as ever)."""
        recording = Recording()
        try:
            want.draw(recording)  # a drawing's own error is raised here, as on plotext's plt
        except NotRecordable:
            self._elsewhere = False
            return None
        ansi = FIGURES.build(
            self._token, recording.calls, want.width, want.height, want.theme, _themes.get(want.theme)
        )
        if ansi is None:
            self._elsewhere = False
        return ansi


# ---------------------------------------------------------------------- laid out in turns

#: Lines laid out between two ``yield_gil`` (~0.5–1 ms of Python at 120 columns).
LINES_PER_TURN = 4


def from_ansi(ansi: str) -> Text:
    """``Text.from_ansi(ansi)`` — rich's own decoder and joiner — letting the GIL go every few lines: the figure
    is laid out in a thread beside the app's loop, and a 120×40 figure is ~5 ms of Python to decode."""
    lines = []
    for n, line in enumerate(AnsiDecoder().decode(ansi), 1):
        lines.append(line)
        if n % LINES_PER_TURN == 0:
            yield_gil()
    return Text("\n", justify=None, overflow=None, no_wrap=None, end="\n", tab_size=8, style="").join(lines)


def render_strips(
    content: Content, width: int, height: int | None, style: Style, options: RenderOptions
) -> list[Strip]:
    """``content.render_strips(width, height, style, options)`` — Textual's own layout of the lines, then each line
    to its strip — letting the GIL go every few lines (~7 ms of Python for a 120×40 figure).
    tests/test_chart_figures.py holds it to ``Content.render_strips`` line for line."""
    if not width:
        return []
    rules = options.rules
    lines = content._wrap_and_format(
        width,
        align=rules.get("text_align", "left"),
        overflow=rules.get("text_overflow", "fold"),
        no_wrap=rules.get("text_wrap", "wrap") == "nowrap",
        line_pad=rules.get("line_pad", 0),
        tab_size=8,
        selection=options.selection,
        selection_style=options.selection_style,
        post_style=options.post_style,
        get_style=options.get_style,
    )
    if height is not None:
        lines = lines[:height]
    strips = []
    for n, line in enumerate(lines, 1):
        strips.append(Strip(*line.to_strip(style)))
        if n % LINES_PER_TURN == 0:
            yield_gil()
    return strips
