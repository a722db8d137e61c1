"""The Run screen's log pane (tui/widgets/logpane.py ``LogPane``) shows what Textual's ``Log`` shows, write for write
— the lines, the scrollbars' extents and positions, a width grown by a long line or a wide one — without laying
the screen out for every write: a log that grows lays out nothing, a ``Log`` lays out the screen each time."""

from __future__ import annotations

import re

from textual.app import App, ComposeResult
from textual.widgets import Log, Static

from tui.widgets.logpane import LogPane

BATCHES = [
    [f"[INFO] iteration {i}: data loader ok" for i in range(8)],
    ["a line much longer than the pane is wide, so that its horizontal scrollbar has somewhere to go " * 2],
    [f"step {i}" for i in range(30)],
    ["wide ones: 深度推定 ✓ ━━━━ café", "\ttabbed"],
    [f"line {i}" for i in range(200)],  # past max_lines: pruned
    [""],
]


class OnePane(App[None]):
    CSS = "Log { height: 1fr; }"

    def __init__(self, pane: type[Log]) -> None:
        super().__init__()
        self.pane = pane

    def compose(self) -> ComposeResult:
        yield Static("above the log")
        yield self.pane(id="log", max_lines=120)
        yield Static("below the log")


def picture(app: App[None]) -> str:
    return re.sub(r"terminal-\d+", "terminal", app.export_screenshot())


async def settled(app: App[None], pilot) -> None:
    await app.workers.wait_for_complete()
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_the_log_pane_shows_what_a_log_shows_write_for_write():
    pictures: dict[type[Log], list[str]] = {}
    layouts: dict[type[Log], int] = {}
    for pane in (Log, LogPane):
        app = OnePane(pane)
        shots = pictures[pane] = []
        async with app.run_test(size=(60, 14)) as pilot:
            log = app.query_one("#log", Log)
            await settled(app, pilot)
            real = app.screen._refresh_layout
            count = [0]

            def counted(*args, count=count, real=real, **kwargs):
                count[0] += 1
                return real(*args, **kwargs)

            app.screen._refresh_layout = counted
            for batch in BATCHES:
                log.write_lines(batch)
                await settled(app, pilot)
                shots.append(picture(app))
            log.scroll_home(animate=False)
            await settled(app, pilot)
            shots.append(picture(app))
            log.clear()
            log.write_lines(["after a clear"])
            await settled(app, pilot)
            shots.append(picture(app))
            layouts[pane] = count[0]
    assert pictures[LogPane] == pictures[Log]
    assert layouts[Log] >= len(BATCHES) and layouts[LogPane] == 0
