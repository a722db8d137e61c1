"""The chart's figures built in the helper process (tui/widgets/figures.py) are the figures the chart would build in
its own thread: the same lines, the same styles, span for span — log axes, NaN points, a title a drawing set once
and the next did not, any size. The thread's layout in turns (``from_ansi``, ``render_strips``) is Rich's and
Textual's own, line for line. What cannot be built there (a drawing asking plotext for more than its calls, a
helper that has died) is built in the thread, and the chart goes on."""

from __future__ import annotations

import random
from typing import Any

from conftest import wait_for
from rich.text import Text
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.visual import RenderOptions

from tui.widgets import figures
from tui.widgets.charts import TEXT_RULES, Chart, from_ansi, render_strips


class TwoCharts(App[None]):
    """Side by side, the same size: one chart built in the helper, one in its own thread from its first figure."""

    CSS = "Chart { width: 1fr; height: 1fr; }"

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Chart(id="there")
            here = Chart(id="here")
            here._elsewhere = False
            yield here


def drawing(n: int, rng: random.Random) -> Any:
    xs = list(range(1, 3 + rng.choice([2, 10, 50, 600])))
    ys = [rng.random() + 1 / x for x in xs]
    if n % 5 == 4:
        ys[1] = float("nan")

    def draw(plt: Any) -> None:
        if n % 6 != 5:  # the sixth keeps the title the fifth set, as plotext's figure does
            plt.title(f"loss {n}")
        plt.xlabel("step")
        plt.plot(list(xs), list(ys), label="train loss (step)", marker="braille")
        if n % 3:
            plt.scatter(xs[::7], ys[::7], label="val/loss")
        if n % 4 == 1:
            plt.xscale("log")  # plotext tells "log" by identity: interned again in the helper
        elif n % 4 == 2:
            plt.xscale("linear")

    return draw


async def test_a_figure_built_in_the_helper_is_the_figure_built_in_the_thread():
    rng = random.Random(26)
    app = TwoCharts()
    async with app.run_test(size=(160, 36)) as pilot:
        there, here = app.query_one("#there", Chart), app.query_one("#here", Chart)
        for n in range(16):
            if n in (7, 12):
                await pilot.resize_terminal(*((60, 12) if n == 7 else (130, 30)))
            draw = drawing(n, rng)
            there.draw(draw)
            here.draw(draw)
            await wait_for(pilot, lambda: there.is_current and here.is_current)
            a, b = there._figure, here._figure
            assert a is not None and b is not None
            assert a.plain == b.plain, n
            assert list(a.spans) == list(b.spans), n
            assert [list(s) for s in a._strips] == [list(s) for s in b._strips], n
        assert there._elsewhere and not here._elsewhere  # each was built where it was meant to be, every time


async def test_the_layout_in_turns_is_rich_and_textuals_own():
    rng = random.Random(7)
    app = TwoCharts()
    async with app.run_test(size=(160, 40)) as pilot:
        chart = app.query_one("#here", Chart)
        for n in range(6):
            draw = drawing(n, rng)
            chart.draw(draw)
            await wait_for(pilot, lambda: chart.is_current)
            want = chart._want()
            plt = chart._plot  # the figure just built, built again as Chart._make builds it: the same text
            plt.clear_data()
            draw(plt)
            plt.plotsize(want.width, want.height)
            plt._set_size(want.width, want.height)
            plt.theme(want.theme)
            ansi = plt.build()
            assert from_ansi(ansi) == Text.from_ansi(ansi)
            content = Content.from_rich_text(Text.from_ansi(ansi), console=app.console)
            options = RenderOptions(chart._get_style, dict(zip(TEXT_RULES, want.rules, strict=True)))
            for width, height in ((want.width, want.height), (want.width // 2, None), (0, 3)):
                ours = render_strips(content, width, height, want.style, options)
                assert [list(s) for s in ours] == [
                    list(s) for s in content.render_strips(width, height, want.style, options)
                ]


class OneChart(App[None]):
    def compose(self) -> ComposeResult:
        yield Chart(id="chart")


async def test_a_drawing_the_helper_cannot_record_is_drawn_in_the_thread():
    app = OneChart()
    async with app.run_test(size=(80, 20)) as pilot:
        chart = app.query_one(Chart)
        await wait_for(pilot, lambda: chart.is_current)

        def asks(plt: Any) -> None:
            plt.title("asked " + plt.uncolorize("plotext"))  # a value back from plotext: not a figure call
            plt.plot([1, 2, 3], [1, 3, 2])

        chart.draw(asks)
        await wait_for(pilot, lambda: chart.is_current)
        assert "asked plotext" in str(chart.render())
        assert not chart._elsewhere


async def test_a_chart_goes_on_when_its_helper_has_died(monkeypatch):
    helper = figures.FigureProcess()
    monkeypatch.setattr("tui.widgets.charts.FIGURES", helper)
    app = OneChart()
    async with app.run_test(size=(80, 20)) as pilot:
        chart = app.query_one(Chart)
        await wait_for(pilot, lambda: chart.is_current and helper._proc is not None)
        assert chart._elsewhere
        helper._proc.kill()
        helper._proc.wait()

        def fine(plt: Any) -> None:
            plt.title("still drawn")
            plt.plot([1, 2, 3], [3, 1, 2])

        chart.draw(fine)
        await wait_for(pilot, lambda: chart.is_current)
        assert "still drawn" in str(chart.render())
        assert not chart._elsewhere and helper._broken
    helper.close()
