"""TAO's console, as its entrypoint relays it (checked against real TAO 7.3.0 captures in tests/fixtures).

- The entrypoint re-prints every child line that contains ``\\r`` or matches ``\\[.*\\]`` — every TAO-logger line
  of the child — as ``"\\r" + line`` with **no newline**, so the next output is glued on:
  ``\\r\\x1b[38;20m… (export.py:440)\\x1b[0mInput batch size: 1\\n``. We split on ``\\r`` and ``\\n`` and cut a glued
  TAO-logger line after its colour reset. Such lines are ordinary lines, not progress updates.
- There is no live progress bar in a pipe: Lightning's Rich bar prints only its final frame
  (``Epoch 1/1 ━━━ 12/12 0:00:01 • 0:00:00 8.72it/s v_num: 1.000`` then ``key: value`` continuation lines padded
  to 80 columns), and ``evaluate`` prints a Rich "Test metric" table. Both are parsed into ``ConsoleMetrics``.
- A tqdm bar (``\\rEpoch 0: 50%|###  | 2/4 [..., train_loss_step=0.80]``), as a container with tqdm instead of Rich
  prints it, is still read per step: a handled variant, not the main path.
- ``Command was interrupted`` (Ctrl-C) is remembered: TAO then prints ``Execution status: PASS`` and exits 0.

Every pattern here runs in time linear in the line (no nested quantifiers over untrusted text).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from specgen.engine.events import ConsoleMetrics, LogLine, StepLoss
from specgen.spec.display import CONTROL, SEQUENCE, safe_text

__all__ = ["ANSI", "CONTROL", "LogParser", "display", "parse_step"]

TQDM_BAR = re.compile(r"\d+%\|[^|]*\|")  # any tqdm bar (train, validation): a progress update, not a log line
EPOCH_RE = re.compile(r"Epoch (\d+):\s*\d+%\|[^|]*\|\s*(\d+)/(\d+)\b")
LOSS_RE = re.compile(r"train_loss_step=([-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|inf|NaN|Inf))")
STATUS_RE = re.compile(r"Execution status: (PASS|FAIL)")
SAVED_AT = "results will be saved at: "
INTERRUPTED = "Command was interrupted"
#: A TAO-logger line ends ``(file.py:123)`` + colour reset; whatever follows was glued on by the entrypoint.
TAO_LINE_END = re.compile(r"\(\w+\.py:\d+\)\x1b\[0m")
RICH_FRAME = re.compile(r"^Epoch (\d+)/(\d+) +\S+ (\d+)/(\d+) ")
KEY_VALUE = re.compile(r"([A-Za-z_][\w/]*): ([-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|nan|inf))")
TABLE_ROW = re.compile(r"^[│┃] +([\w/]+) +[│┃] +([-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|nan|inf)) +[│┃]$")
#: Terminal escape sequences (7-bit and C1) and the characters a terminal must not get: the display sanitiser's.
ANSI = SEQUENCE
#: A Rich frame is a few hundred characters; more is not one (and is not scanned).
FRAME_MAX = 8000
#: Longest piece held while waiting for a line's end; a longer line is passed on in pieces of this size.
MAX_LINE = 1 << 20
#: Longest line shown on screen; the log file keeps every byte.
DISPLAY_MAX = 2000


def display(text: str) -> str:
    """A console line as a terminal may show it (``specgen.spec.display``): colours removed, every other control,
    C1 or bidi character shown inert (``␛``, ``\\u009b``), very long lines shortened. A short printable ASCII line
    (nearly every console line) has nothing to make safe or cut and is returned at once: under a log flood the Run
    screen's loop shows every line, and two C-speed tests cost less than the sanitiser's scans."""
    if len(text) <= DISPLAY_MAX and text.isascii() and text.isprintable():
        return text
    text = safe_text(text, strip_sequences=True)
    return (
        text
        if len(text) <= DISPLAY_MAX
        else text[:DISPLAY_MAX] + f" … ({len(text) - DISPLAY_MAX} more characters)"
    )


class LineSplitter:
    """Feed text chunks; get complete lines, each marked as relayed with a leading ``\\r`` or not."""

    def __init__(self) -> None:
        self._buf = ""
        self._cr = False

    def feed(self, chunk: str) -> Iterator[tuple[str, bool]]:
        buf = self._buf + chunk
        pos, n = 0, len(buf)
        out: list[tuple[str, bool]] = []
        # One pass with a cursor: slicing the remainder each time would be quadratic in the chunk. The next \r and
        # \n are each looked for again only once the cursor has passed them (a chunk of \n lines holds no \r:
        # looking for one from every line scanned the rest of the chunk each time).
        cr, lf = buf.find("\r"), buf.find("\n")
        while pos < n:
            if 0 <= cr < pos:
                cr = buf.find("\r", pos)
            if 0 <= lf < pos:
                lf = buf.find("\n", pos)
            cut = lf if cr < 0 else (cr if lf < 0 else min(cr, lf))
            if cut < 0:
                break
            start = pos
            piece, sep, pos = buf[pos:cut], buf[cut], cut + 1
            if (
                sep == "\r" and pos < n and buf[pos] == "\n"
            ):  # a CRLF ends an ordinary line (a terminal's output)
                pos += 1
                sep = "\n"
            elif sep == "\r" and pos == n:  # a lone \r at the end may be the start of a CRLF: wait for more
                pos = start
                break
            after_cr = self._cr
            self._cr = sep == "\r"
            if piece:
                out.extend(_unglue(piece, after_cr))
        self._buf = buf[pos:]
        if len(self._buf) > MAX_LINE:  # an endless line: hand it on in pieces, memory stays bounded
            out.append((self._buf, self._cr))
            self._buf = ""
        return iter(out)

    @property
    def pending_progress(self) -> str | None:
        """A tqdm update not yet terminated (its next ``\\r`` comes only with the next step)."""
        return self._buf if self._cr and self._buf.endswith("]") and EPOCH_RE.search(self._buf) else None

    def flush(self) -> Iterator[tuple[str, bool]]:
        piece, self._buf = self._buf.strip("\r"), ""  # a held-back lone \r ends nothing
        if piece:
            yield from _unglue(piece, self._cr)


def _unglue(piece: str, after_cr: bool) -> list[tuple[str, bool]]:
    """A ``\\r``-relayed TAO-logger line with the next output glued on → two lines."""
    if after_cr and (m := TAO_LINE_END.search(piece)) is not None and m.end() < len(piece):
        return [(piece[: m.end()], True), (piece[m.end() :], False)]
    return [(piece, after_cr)]


class LogParser:
    """Turn the stream into events; remember TAO's own verdict line, its results folder and an interruption."""

    def __init__(self) -> None:
        self.splitter = LineSplitter()
        self.tao_status: str | None = None
        self.results_dir: str | None = None
        self.interrupted = False
        self._last_step: tuple[int, int] | None = None
        self._frame: list[str] | None = None  # a Rich final frame being collected (its lines are wrapped)

    def feed(self, chunk: str) -> list[LogLine | StepLoss | ConsoleMetrics]:
        out = self._handle(self.splitter.feed(chunk))
        pending = self.splitter.pending_progress
        if pending is not None:
            step = self._step_event(pending)
            if step is not None:
                out.append(step)
        return out

    def flush(self) -> list[LogLine | StepLoss | ConsoleMetrics]:
        out = self._handle(self.splitter.flush())
        if self._frame is not None:
            out.extend(self._end_frame())
        return out

    def _handle(self, pieces: Iterable[tuple[str, bool]]) -> list[LogLine | StepLoss | ConsoleMetrics]:
        out: list[LogLine | StepLoss | ConsoleMetrics] = []
        for text, after_cr in pieces:
            if self._frame is not None:
                if text.startswith("      ") and not after_cr:  # a continuation line of the wrapped frame
                    self._frame.append(text)
                    out.append(LogLine(text=text))
                    continue
                out.extend(self._end_frame())
            is_bar = after_cr and TQDM_BAR.search(text) is not None
            out.append(LogLine(text=text, progress=is_bar))
            if "Execution status: " in text and (m := STATUS_RE.search(text)) is not None:
                self.tao_status = m.group(1)
            if SAVED_AT in text and self.results_dir is None:
                rest = text.split(SAVED_AT, 1)[1].split()
                self.results_dir = rest[0] if rest else None
            if INTERRUPTED in text:
                self.interrupted = True
            if text.startswith("Epoch ") and RICH_FRAME.match(text):
                self._frame = [text]
            elif text.startswith(("│", "┃")) and (row := TABLE_ROW.match(text.rstrip())) is not None:
                out.append(ConsoleMetrics(source="table", values={row.group(1): float(row.group(2))}))
            elif is_bar:
                event = self._step_event(text)
                if event is not None:
                    out.append(event)
        return out

    def _end_frame(self) -> list[ConsoleMetrics]:
        lines, self._frame = self._frame or [], None
        m = RICH_FRAME.match(lines[0]) if lines else None
        if m is None:
            return []
        joined = " ".join(part.strip() for part in lines)[:FRAME_MAX]
        values = {k: float(v) for k, v in KEY_VALUE.findall(joined)}
        values.pop("v_num", None)
        return [
            ConsoleMetrics(
                source="bar",
                values=values,
                epoch=int(m.group(1)),
                max_epoch=int(m.group(2)),
                step=int(m.group(3)),
                steps=int(m.group(4)),
            )
        ]

    def _step_event(self, text: str) -> StepLoss | None:
        step = parse_step(text)
        if step is None or (step[0], step[1]) == self._last_step:
            return None
        self._last_step = (step[0], step[1])
        # From the bar itself, not from counting: two sources (live attach, complete log) may each miss a step.
        return StepLoss(
            epoch=step[0], step=step[1], steps=step[2], loss=step[3], global_step=step[0] * step[2] + step[1]
        )


def parse_step(text: str) -> tuple[int, int, int, float] | None:
    """(epoch, step, steps, loss) from one tqdm progress update, or None."""
    bar = EPOCH_RE.search(text)
    loss = LOSS_RE.search(text)
    if bar is None or loss is None:
        return None
    return int(bar.group(1)), int(bar.group(2)), int(bar.group(3)), float(loss.group(1))
