"""TAO's stdout, as its entrypoint relays it: progress updates arrive as '\\r' + line with no newline until the
next ordinary line, so we split on both. Lightning's bar carries ``train_loss_step=…`` per step."""

from __future__ import annotations

import re
from collections.abc import Iterator

from specgen.engine.events import LogLine, StepLoss

EPOCH_RE = re.compile(r"Epoch (\d+):\s*\d+%\|[^|]*\|\s*(\d+)/(\d+)\b")
LOSS_RE = re.compile(r"train_loss_step=([-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|nan|inf|NaN|Inf))")
STATUS_RE = re.compile(r"Execution status: (PASS|FAIL)")
RESULTS_RE = re.compile(r"(\w[\w ]*) results will be saved at: (\S+)")


class LineSplitter:
    """Feed text chunks; get complete lines, each marked as a progress update or an ordinary line."""

    def __init__(self) -> None:
        self._buf = ""
        self._progress = False

    def feed(self, chunk: str) -> Iterator[tuple[str, bool]]:
        buf = self._buf + chunk
        pos, n = 0, len(buf)
        out: list[tuple[str, bool]] = []
        while pos < n:  # one pass with a cursor: slicing the remainder each time would be quadratic in the chunk
            cr, lf = buf.find("\r", pos), buf.find("\n", pos)
            cut = lf if cr < 0 else (cr if lf < 0 else min(cr, lf))
            if cut < 0:
                break
            start = pos
            piece, sep, pos = buf[pos:cut], buf[cut], cut + 1
            if sep == "\r" and pos < n and buf[pos] == "\n":  # a CRLF ends an ordinary line
                pos += 1
                sep = "\n"
            elif sep == "\r" and pos == n:  # a lone \r at the end may be the start of a CRLF: wait for more
                pos = start
                break
            was_progress = self._progress
            self._progress = sep == "\r"
            if piece:
                out.append((piece, was_progress))
        self._buf = buf[pos:]
        return iter(out)

    @property
    def pending_progress(self) -> str | None:
        """A progress update not yet terminated (TAO sends the next '\r' only with the next step)."""
        return self._buf if self._progress and self._buf.endswith("]") else None

    def flush(self) -> Iterator[tuple[str, bool]]:
        piece, self._buf = self._buf.strip("\r"), ""  # a held-back lone \r ends nothing
        if piece:
            yield piece, self._progress


class LogParser:
    """Turn the stream into LogLine and StepLoss events; remember TAO's own verdict line."""

    def __init__(self) -> None:
        self.splitter = LineSplitter()
        self.tao_status: str | None = None
        self.results_dir: str | None = None
        self._last_step: tuple[int, int] | None = None

    def feed(self, chunk: str) -> list[LogLine | StepLoss]:
        out = self._handle(self.splitter.feed(chunk))
        pending = self.splitter.pending_progress
        if pending is not None:
            step = self._step_event(pending)
            if step is not None:
                out.append(step)
        return out

    def flush(self) -> list[LogLine | StepLoss]:
        return self._handle(self.splitter.flush())

    def _handle(self, pieces) -> list[LogLine | StepLoss]:
        out: list[LogLine | StepLoss] = []
        for text, progress in pieces:
            is_bar = bool(EPOCH_RE.search(text))
            out.append(LogLine(text=text, progress=progress or is_bar))
            if (m := STATUS_RE.search(text)) is not None:
                self.tao_status = m.group(1)
            if (m := RESULTS_RE.search(text)) is not None:
                self.results_dir = m.group(2)
            event = self._step_event(text)
            if event is not None:
                out.append(event)
        return out

    def _step_event(self, text: str) -> StepLoss | None:
        step = parse_step(text)
        if step is None or (step[0], step[1]) == self._last_step:
            return None
        self._last_step = (step[0], step[1])
        # From the bar itself, not from counting: two sources (live attach, complete log) may each miss a step.
        return StepLoss(epoch=step[0], step=step[1], steps=step[2], loss=step[3], global_step=step[0] * step[2] + step[1])


def parse_step(text: str) -> tuple[int, int, int, float] | None:
    """(epoch, step, steps, loss) from one progress update, or None."""
    bar = EPOCH_RE.search(text)
    loss = LOSS_RE.search(text)
    if bar is None or loss is None:
        return None
    return int(bar.group(1)), int(bar.group(2)), int(bar.group(3)), float(loss.group(1))
