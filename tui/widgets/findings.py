"""How the app shows a finding (``specgen.spec.problems.Finding``): one renderer for the Convert, Data check and
Model steps, so a severity has one colour and a fix one arrow everywhere."""

from __future__ import annotations

from specgen.spec.problems import Finding
from tui.widgets.plain import plain

COLOURS = {"error": "red", "warning": "yellow"}  # anything else (info) is cyan


def finding_markup(
    f: Finding, *, examples: int = 0, strip: str = "", key_hint: str = "", fix_hint: str = ""
) -> str:
    """``SEVERITY CODE: message`` in the severity's colour, then up to ``examples`` example files (``strip`` cut from
    their front) and ``→ fix``; ``key_hint`` follows the message, ``fix_hint`` the fix (the key that applies it)."""
    colour = COLOURS.get(f.severity, "cyan")
    lines = [f"[{colour}]{f.severity.upper()} {plain(f.code)}[/]: {plain(f.what)}{key_hint}"]
    lines += [
        f"   [dim]e.g. {plain(ex.replace(strip, '') if strip else ex)}[/]" for ex in f.examples[:examples]
    ]
    if f.fix:
        lines.append(f"   → {plain(f.fix)}{fix_hint}")
    return "\n".join(lines)
