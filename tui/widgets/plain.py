"""Text from outside, shown in the app: the display sanitiser (``specgen.spec.display``) and Rich markup escaped.

Two layers. ``plain(text)`` is for every place outside text is put into Textual markup (a Static, a finding;
``plain_cell`` for a DataTable cell, which Rich's markup parses): ESC/C1/bidi characters become visible stand-ins and ``[``/``]`` in a file name stay text — ``[red]`` in a
name is not a colour and ``[/]`` never raises a MarkupError. ``SafeLines`` is the app's last line of defence, a
Textual line filter over every segment drawn: whatever reached a widget without ``plain`` still never sends a
control character to the terminal (such characters are 0 cells wide, so dropping them changes no layout).
"""

from __future__ import annotations

from rich.markup import escape
from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

from specgen.spec.display import UNSAFE, safe_text, strip_invisible


def plain(text: object, *, multiline: bool = False) -> str:
    """``text`` as markup that shows exactly it, made safe for a terminal.

    Every ``[`` is escaped, not only those that start a valid tag (``rich.markup.escape``'s rule): Textual's parser
    also opens a tag at ``[2J`` and then shows the escapes inside it literally. In Textual's markup one backslash
    before ``[`` escapes it and any others are text, so a name's own backslashes need nothing; a trailing one is
    followed by a zero-width space (dropped when drawn) so that it cannot escape the markup after it."""
    shown = safe_text(str(text), multiline=multiline).replace("[", "\\[")
    return shown + "\u200b" if shown.endswith("\\") else shown


def plain_cell(text: object) -> str:
    """``text`` for a DataTable cell, which Rich's markup parses (``rich.markup.escape``'s rules are Rich's)."""
    return escape(safe_text(str(text)))


class SafeLines(LineFilter):
    """Drops every control, C1 and bidi character from the segments about to be drawn.

    The common case, nothing to drop, is one C-speed scan of the line's text joined (the pattern matches single
    characters, so joining finds what the segments hold, no more): every new line of every frame comes through
    here, and a scan per segment cost a chart line of 40 segments ~15 µs of the loop's frame, the join ~4 µs."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        if UNSAFE.search("".join([seg.text for seg in segments if not seg.control])) is None:
            return segments
        return [
            seg if seg.control else Segment(strip_invisible(seg.text), seg.style, seg.control)
            for seg in segments
        ]
