"""The Run screen's log pane: Textual's ``Log``, without a thread per write or a layout of the screen per write.

``Log.write_lines`` measures the new lines' widths in a thread worker (``_update_size``): the cell length of every
line, in Python, in a thread that takes the GIL from the event loop. Under a log flood the Run screen writes a
couple of thousand lines every tick, so that thread cost ~4 µs a line (a tenth of a second each second at 20k
lines/s) and competed with the loop's frames for the GIL, and each write left a worker's objects (a task, a thread
event, its condition) for the garbage collector. A printable ASCII line — nearly every line of a console, once
``logparse.display`` has made it safe — is exactly as wide as it is long (no tabs, no control characters, one
cell per character: what ``Log`` would compute), so those are measured here in C-speed string tests on the loop;
any other line still goes to ``Log``'s own worker, measured as ever.

A widget's ``virtual_size`` is a reactive that lays the whole screen out again whenever it changes — and a log's
grows with every write until it holds ``max_lines`` lines: each tick of a busy run (and every write of a slow one)
cost a layout of every widget on the screen, 14–30 ms of the loop's CPU on a 2-core box, the largest frames left.
All a log's own layout does then is to give its scrollbars the new extent (``_scroll_update``): its region does not
move, and with ``overflow: scroll`` (Log's own style) its scrollbars neither come nor go. So here the size only
repaints the pane, and the scrollbars are given the extent at once; should a scrollbar have to appear or go (an
``overflow: auto`` set on the pane), that is a change of its own reactive, which lays the screen out as ever.
"""

from __future__ import annotations

from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import Log


class LogPane(Log):
    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    def watch_virtual_size(self, size: Size) -> None:
        if self.is_mounted:
            self._scroll_update(size)

    def _update_size(self, updates: int, lines: list[str]) -> None:  # type: ignore[override]
        width, narrow = 0, False
        wide: list[str] = []
        for line in lines:
            if line.isascii() and line.isprintable():
                narrow = True
                width = max(width, len(line))
            else:
                wide.append(line)
        if narrow:
            self._update_maximum_width(updates, width)
        if wide:
            super()._update_size(updates, wide)
