"""The one display sanitiser: text from outside (a file name, a status.json kpi key, a console line quoted by a
verdict) on its way to a terminal, in the CLI and in the app.

A terminal obeys what it is sent: ESC sequences move the cursor, clear the screen, retitle the window or plant a
hyperlink (OSC 8); their 8-bit C1 forms (U+009B CSI, U+009D OSC, U+0090 DCS …) do the same on terminals that honour
them; other C0 controls ring, back-space or return the carriage over what was printed; bidi overrides (U+202A–U+202E,
U+2066–U+2069) reorder a line so that ``evil‮txt.exe`` reads as another name. So:

- complete escape sequences are removed when the text is a console line whose colours we drop anyway
  (``strip_sequences=True``), and otherwise shown: ESC becomes ``␛`` and the rest of the sequence stays as text;
- every other C0 control (``\\t`` kept, ``\\n`` kept where the text may span lines) becomes its control picture
  (``␀``–``␟``, ``␡``), so it is visible and inert;
- C1 controls, bidi controls, zero-width and line-separator characters become their escape text (``\\u009b``,
  ``\\u202e``), so the name shows what it really holds;
- a byte of a non-UTF-8 file name (Python holds it as a lone surrogate, which no UTF-8 stream can encode: a
  UnicodeEncodeError at print) becomes ``\\xff``.

Nothing else changes: a name in Greek or with an emoji is shown as it is. ``safe_text`` is idempotent.
"""

from __future__ import annotations

import re

#: Complete terminal escape sequences, ESC (7-bit) or C1 (8-bit) introduced: CSI (colours, cursor), OSC (titles,
#: hyperlinks; to BEL or ST, or the end of the line: an unterminated one never swallows the lines after it),
#: DCS/SOS/PM/APC strings (to ST), and two-character escapes (charset selection ``ESC ( B``, ``ESC 7``, ``ESC c``
#: …). Each alternative's classes are disjoint: linear time.
SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c\r\n]*(?:\x07|\x1b\\|\x9c)?"
    r"|(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x1b\x9c\r\n]*(?:\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]"
)
#: Bidi embeddings/overrides/isolates and marks, zero-width spaces and joiners' look-alikes, the BOM, and the
#: Unicode line and paragraph separators (some terminals break the line there).
#: Lone surrogates (``\\udcff`` is byte 0xff of a name that is not UTF-8, os.fsdecode's surrogateescape) go too.
_FORMAT = "\u061c\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2060\u2066-\u2069\ufeff\ud800-\udfff"
#: Everything a terminal must not receive as is, ``\t`` and ``\n`` included (kept or not by the caller).
UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_FORMAT}]")
#: The same less ``\t`` and ``\n``: what a multi-line text must not hold (the console parser's control class).
CONTROL = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_FORMAT}]")
_UNSAFE_ONE_LINE = re.compile(f"[\x00-\x08\x0a-\x1f\x7f-\x9f{_FORMAT}]")
_HAS_C1_INTRO = re.compile("[\x90\x98\x9b\x9d\x9e\x9f]")


def _shown(match: re.Match[str]) -> str:
    c = ord(match.group(0))
    if c < 0x20:
        return chr(0x2400 + c)  # the Control Pictures block: ␀ … ␛ … ␟
    if c == 0x7F:
        return "\u2421"  # ␡
    if 0xDC80 <= c <= 0xDCFF:
        return f"\\x{c - 0xDC00:02x}"  # the byte os.fsdecode could not decode
    return f"\\u{c:04x}"


def safe_text(text: str, *, multiline: bool = False, strip_sequences: bool = False) -> str:
    """``text`` as a terminal may show it: no control, C1, bidi or invisible character left, each one shown
    instead (``␛``, ``\\u009b``); complete escape sequences dropped when ``strip_sequences`` (a console line's
    colours). ``\\t`` is kept; ``\\n`` only when ``multiline``."""
    if strip_sequences and ("\x1b" in text or _HAS_C1_INTRO.search(text)):
        text = SEQUENCE.sub("", text)
    pattern = CONTROL if multiline else _UNSAFE_ONE_LINE
    if pattern.search(text) is None:  # the common case: one C-speed scan, nothing built
        return text
    return pattern.sub(_shown, text)


def strip_invisible(text: str) -> str:
    """Every unsafe character removed (``\\t``, ``\\n`` too): for a place where a visible stand-in would change the
    layout already computed (the app's last line of defence draws cells already measured at width 0)."""
    return UNSAFE.sub("", text) if UNSAFE.search(text) else text
