"""The one chart widget (tui/widgets/charts.py ``Chart``), driven through Pilot: plotext's figure is built in a
thread, never on the event loop; a burst of drawings while a build runs costs two builds, not a queue of stale
ones; a drawing that fails is one line and the chart goes on; the Run screen still shows its loss curve, at any size
and back. (How long a build takes, and the loop's stalls under a log flood, are benchmarks/run_bench.py's.)"""

from __future__ import annotations

import threading
from typing import Any

from conftest import wait_for
from test_snapshots import finished_run
from test_workers import LoopWatch
from textual.app import App, ComposeResult
from textual.content import Content
from textual_plotext.plot import Plot

from tui.app import DepthnetApp
from tui.screens.run import RunScreen
from tui.state import WizardState
from tui.widgets.charts import Chart, Figure

#: plotext's markers: braille (the step curve; U+2800 is the blank pattern) and quadrant blocks (the epoch points)
MARKS = {chr(c) for c in range(0x2801, 0x2900)} | set("▖▗▘▙▚▛▜▝▞▟")


def shown(chart: Chart) -> str:
    return str(chart.render())


def has_curve(text: str) -> bool:
    """Points drawn in the plot area: a marker outside the legend's samples ("▞▞ val/loss")."""
    return any(c in MARKS for c in text.replace("▞▞ ", "").replace("⣿⣿ ", ""))


class OneChart(App[None]):
    def compose(self) -> ComposeResult:
        yield Chart(id="chart")


async def test_the_run_screen_builds_its_chart_off_the_loop_and_shows_the_loss_curve(tmp_path, monkeypatch):
    """A finished run replayed into the Run screen: every plotext build runs in the chart's thread (the guard sees
    any call on the loop's thread); once built, each frame draws the lines made there (the figure is not laid out
    afresh on the loop: that happens only for a frame at a size the figure was not built for); and the figure shown
    is the titled loss chart with its legend and points."""
    record = finished_run(tmp_path)
    watch = LoopWatch(monkeypatch)
    watch.guard(Plot, "build")
    loop_thread = threading.get_ident()
    frames, laid_out = [0], [0]
    real_figure, real_content = Figure.render_strips, Content.render_strips

    def figure_strips(self: Figure, *args: Any, **kwargs: Any) -> Any:
        frames[0] += threading.get_ident() == loop_thread
        return real_figure(self, *args, **kwargs)

    def content_strips(self: Content, *args: Any, **kwargs: Any) -> Any:
        laid_out[0] += isinstance(self, Figure) and threading.get_ident() == loop_thread
        return real_content(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "render_strips", figure_strips)
    monkeypatch.setattr(Content, "render_strips", content_strips)
    app = DepthnetApp(WizardState(step="spec"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = RunScreen(record, None)
        app.push_screen(screen)
        await wait_for(pilot, lambda: screen.is_mounted and screen.sub_title == "finished")
        chart = screen.query_one("#chart", Chart)
        await wait_for(pilot, lambda: chart.is_current)
        frames[0] = laid_out[0] = 0
        for n in range(1, 4):  # full redraws of the settled screen, each waited for (a loaded box draws late)
            screen.refresh(layout=True)
            chart.refresh()
            await wait_for(pilot, lambda n=n: frames[0] >= n)
        assert chart.is_current
        text = shown(chart)
    assert watch.on_loop == []
    assert frames[0] >= 1 and laid_out[0] == 0
    assert chart.built >= 1
    assert "loss" in text and "train_loss (epoch)" in text and "val/loss" in text and has_curve(text)


async def test_the_run_screen_chart_survives_tiny_sizes_and_draws_again(tmp_path):
    """Resized down to one cell and back: nothing fails (a size plotext cannot lay out draws nothing), and at the
    full size again the curve is back, built for that size."""
    record = finished_run(tmp_path)
    app = DepthnetApp(WizardState(step="spec"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = RunScreen(record, None)
        app.push_screen(screen)
        await wait_for(pilot, lambda: screen.is_mounted and screen.sub_title == "finished")
        chart = screen.query_one("#chart", Chart)
        for size in ((80, 24), (30, 10), (10, 5), (3, 2), (1, 1), (120, 40)):
            await pilot.resize_terminal(*size)
            await wait_for(pilot, lambda: chart.is_current)
        assert app.is_running and app.screen is screen
        width = chart.size.width
        lines = shown(chart).splitlines()
    assert has_curve("\n".join(lines))
    assert max(len(line) for line in lines) == width  # the figure of this size, not a stale one cropped


async def test_drawings_made_while_a_build_runs_collapse_into_one_follow_up():
    """Twenty drawings while the first build is held in its thread: when it is let go, one more build — of the
    newest drawing — and no other (two in all, never one per drawing)."""
    app = OneChart()
    gate = threading.Event()
    builds: list[int] = []

    def drawing(n: int, hold: bool = False) -> Any:
        def draw(plt: Any) -> None:
            builds.append(n)
            if hold:
                gate.wait(30)
            plt.title(f"drawing {n}")
            plt.plot([1, 2, 3], [n, n + 1, n])

        return draw

    async with app.run_test(size=(80, 20)) as pilot:
        chart = app.query_one(Chart)
        await wait_for(pilot, lambda: chart.is_current)
        built = chart.built
        chart.draw(drawing(0, hold=True))
        await wait_for(pilot, lambda: builds == [0])  # the first build runs, held in its thread
        for n in range(1, 21):
            chart.draw(drawing(n))
            await pilot.pause()  # the loop goes on meanwhile: the drawings arrive one by one
        assert not chart.is_current
        gate.set()
        await wait_for(pilot, lambda: chart.is_current)
        text = shown(chart)
    assert builds == [0, 20]
    assert chart.built == built + 2
    assert "drawing 20" in text


async def test_a_drawing_that_fails_is_said_in_one_line_and_the_next_one_draws(monkeypatch):
    """A bug in a drawing fails its build in the thread: the app says it in one line (the worker's error, as every
    worker's), keeps the last figure, and the next drawing builds as usual — the chart never waits on a dead build."""
    app = DepthnetApp(WizardState(step="spec"))
    said: list[str] = []
    monkeypatch.setattr(app, "notify", lambda message, **kw: said.append(message))

    def broken(plt: Any) -> None:
        raise RuntimeError("a drawing with a bug")

    def fine(plt: Any) -> None:
        plt.title("fine again")
        plt.plot([1, 2, 3], [3, 1, 2])

    async with app.run_test(size=(100, 30)) as pilot:
        chart = Chart(id="probe")
        await app.screen.mount(chart)
        await wait_for(pilot, lambda: chart.is_current)
        chart.draw(broken)
        await wait_for(pilot, lambda: bool(said))
        assert app.is_running and chart.is_current
        chart.draw(fine)
        await wait_for(pilot, lambda: chart.is_current)
        text = shown(chart)
    assert said[0].startswith("unexpected error: RuntimeError: a drawing with a bug")
    assert "\n" not in said[0]
    assert "fine again" in text
