"""Textual's Header with a title watcher that survives its own teardown.

Textual's Header re-renders its title from watchers on the app's and the screen's title; the first call is
queued at mount. When the screen is switched or the app quits before that call runs, the title widget is already
gone and the watcher raises ``NoMatches`` (seen under CI load: a crash report on exit). Here that case is a no-op.
"""

from __future__ import annotations

from textual.css.query import NoMatches
from textual.dom import NoScreen
from textual.events import Mount
from textual.widget import Widget
from textual.widgets import Header as TextualHeader
from textual.widgets._header import HeaderTitle


class Header(TextualHeader):
    def _on_mount(self, event: Mount) -> None:
        event.prevent_default()  # replaces TextualHeader._on_mount, whose watcher is the unguarded one
        Widget._on_mount(self, event)

        async def set_title() -> None:
            if not self.is_attached:
                return
            try:
                self.query_one(HeaderTitle).update(self.format_title())
            except (NoMatches, NoScreen):  # torn down between the queued call and now
                pass

        for obj in (self.app, self.screen):
            self.watch(obj, "title", set_title)
            self.watch(obj, "sub_title", set_title)
