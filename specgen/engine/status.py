"""status.json: JSON Lines appended by TAO. Read incrementally, tolerate what real files contain:
the bare ``NaN`` token (Python's json writes a NaN loss that way, and Python's json reads it back),
a partial last line (wait for its newline), garbage lines (skip and count), truncation or re-creation.

What the lines mean is folded here too, once (``StatusFold``): the verdict, the Run screen and a finished run's
results all read TAO's keys through it."""

from __future__ import annotations

import asyncio
import json
import math
import os
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from specgen.engine.events import StatusLine


def _number(text: str) -> int | float:
    """A JSON integer. One past int64 (no epoch, step or loss is) becomes a float, and ±inf past float's range, so
    the one finite rule judges it (a 401-digit kpi is not a loss) and no ``{:.4g}`` overflows later."""
    value = int(text)
    if -(2**63) <= value < 2**63:
        return value
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def parse_status_line(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line, parse_int=_number)  # accepts NaN / Infinity, as TAO's writer produces them
    except (
        ValueError,
        RecursionError,
    ):  # garbage, a 5000-digit number, or nesting deeper than the C stack allows
        return None
    return value if isinstance(value, dict) else None


class StatusReader:
    """Incremental reader of one status.json; call ``read_new()`` whenever the file may have changed."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.offset = 0
        self.partial = b""
        self.garbage = 0
        self.lines = 0
        self._inode: int | None = None
        self._head = b""  # the file's first bytes: a recreated file that reuses the inode still differs here
        self.more = False
        self._skipping = False

    #: Bytes read per call: a status.json that grows by 100 MB at once is taken in bounded bites (memory stays flat).
    CHUNK = 1 << 20
    #: Longest line kept waiting for its newline; beyond, it is garbage (an endless line must not grow memory).
    MAX_LINE = 1 << 20

    def read_new(self) -> list[dict[str, Any]]:
        """The complete lines appended since the last call, at most ``CHUNK`` bytes of them; call again while it
        returns lines (``more`` says whether unread bytes remain)."""
        try:
            st = self.path.stat()
        except OSError:
            return []
        import stat as stat_mod

        if not stat_mod.S_ISREG(st.st_mode):
            return []  # a FIFO or device in place of status.json is never opened
        with open(self.path, "rb") as f:
            if self._inode is not None and (
                st.st_ino != self._inode or st.st_size < self.offset or f.read(len(self._head)) != self._head
            ):
                self.offset, self.partial, self._head = 0, b"", b""  # recreated or truncated: start again
            self._inode = st.st_ino
            if st.st_size == self.offset:
                return []
            f.seek(self.offset)
            data = f.read(self.CHUNK)
            self.more = self.offset + len(data) < st.st_size
        if len(self._head) < 64:
            self._head = (self._head + data)[:64]
        self.offset += len(data)
        data = self.partial + data
        *complete, self.partial = data.split(b"\n")
        if (
            len(self.partial) > self.MAX_LINE
        ):  # an endless line: drop it, count it, resync at the next newline
            self.garbage += 1
            self.partial = b""
            self._skipping = True
        if self._skipping and complete:
            complete = complete[1:]  # the tail of the dropped line
            self._skipping = False
        out = []
        for raw in complete:
            if not raw.strip():
                continue
            parsed = parse_status_line(raw.decode("utf-8", errors="replace"))
            if parsed is None:
                self.garbage += 1
            else:
                self.lines += 1
                out.append(parsed)
        return out


async def watch_status(
    path: str | os.PathLike[str],
    stop: asyncio.Event,
    *,
    force_polling: bool | None = None,
    poll_delay_ms: int = 100,
) -> AsyncIterator[list[dict[str, Any]]]:
    """Yield batches of new status lines as watchfiles reports changes in the folder.

    The folder is created by TAO only when the action starts, so until it exists we poll for it. On network
    filesystems (no inotify events) pass ``force_polling=True``.
    """
    from watchfiles import awatch

    reader = StatusReader(path)
    folder = Path(path).parent
    while not folder.exists():
        if stop.is_set():
            return
        await asyncio.sleep(0.1)
    for batch in drain(reader):
        yield batch
    # watchfiles' poller compares modification times, which a fast appender can leave unchanged between polls;
    # so with polling (and, as a safety net, every second with inotify) we also read on each timeout.
    timeout = poll_delay_ms if force_polling else 1000
    async for _changes in awatch(
        folder,
        stop_event=stop,
        force_polling=force_polling,
        poll_delay_ms=poll_delay_ms,
        debounce=50,
        step=20,
        recursive=False,
        rust_timeout=timeout,
        yield_on_timeout=True,
        watch_filter=None,
    ):
        for batch in drain(reader):
            yield batch
    for batch in drain(reader):
        yield batch


def drain(reader: StatusReader) -> Iterator[list[dict[str, Any]]]:
    """Every batch available now, one bounded bite at a time."""
    while True:
        batch = reader.read_new()
        if batch:
            yield batch
        if not reader.more:
            return


# --------------------------------------------------------------------------- what the lines mean

#: The kpi keys that are losses a NaN makes worthless (a run is judged on them).
LOSS_KEYS = ("train_loss", "val/loss")


def _nonfinite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


@dataclass(frozen=True)
class StatusChange:
    """What one line changed: its FAILURE message, loss keys that went non-finite for the first time, and — for a
    line with a kpi — the global step its epoch's kpi belongs to (the chart's epoch points)."""

    failure: str | None = None
    new_nonfinite: tuple[str, ...] = ()
    epoch_point: int | None = None


@dataclass
class StatusFold:
    """status.json folded line by line — the one reading of TAO's keys behind the verdict (``RunFacts``), the Run
    screen's progress (``RunProgress``) and a finished run's results (``results``). Memory stays flat: the latest
    value of each key, the epochs seen, the first non-finite value of each loss."""

    kpi: dict[str, Any] = field(
        default_factory=dict
    )  # latest value of each key: kpi is not sticky across lines
    epochs_done: set[int] = field(default_factory=set)
    epoch: int | None = None
    max_epoch: int | None = None
    step: int = 0  # the largest step seen
    max_step: int | None = None
    steps_per_epoch: int | None = None
    eta: str | None = None
    message: str | None = None  # the latest message
    last_message: str | None = None  # the last line's message (None when that line has none)
    interrupted: bool = False  # TAO's "… was interrupted" (Ctrl-C), which it reports as PASS
    failed: bool = False  # a line said status FAILURE
    failure: str | None = None  # the first FAILURE line's message
    finished: bool = False  # "… finished successfully." was seen
    bad_loss: dict[str, float] = field(default_factory=dict)  # first non-finite value per loss key, ever
    lines: int = 0
    _epoch_step: int | None = None

    @classmethod
    def of(cls, lines: Iterable[dict[str, Any]]) -> StatusFold:
        fold = cls()
        for data in lines:
            fold.add(StatusLine(data=data))
        return fold

    def add(self, line: StatusLine) -> StatusChange:
        self.lines += 1
        message = line.message
        self.last_message = message
        if message is not None:
            self.message = message
            self.interrupted = self.interrupted or "was interrupted" in message
            self.finished = self.finished or message.endswith("finished successfully.")
        if line.epoch is not None:
            self.epoch = line.epoch
            self.epochs_done.add(line.epoch)
        if line.max_epoch is not None:
            self.max_epoch = line.max_epoch
            if line.max_step is not None and line.max_epoch >= 0:
                self.steps_per_epoch = line.max_step // (line.max_epoch + 1) or None
        if line.max_step is not None:
            self.max_step = line.max_step
        if line.step is not None:
            self.step = max(self.step, line.step)
        if line.eta is not None:
            self.eta = line.eta.split(".")[0]
        failure = None
        if line.failed:
            self.failed = True
            if message:
                failure = message
                self.failure = self.failure or message
        if not line.has_kpi:
            return StatusChange(failure=failure)
        kpi = line.kpi
        self.kpi.update(kpi)
        bad = tuple(k for k, v in kpi.items() if _nonfinite(v) and "loss" in k and k not in self.bad_loss)
        for k in bad:
            self.bad_loss[k] = kpi[k]
        return StatusChange(
            failure=failure, new_nonfinite=bad, epoch_point=self._epoch_end_step(line) if kpi else None
        )

    def _epoch_end_step(self, line: StatusLine) -> int | None:
        """The global step an epoch's kpi belongs to: the epoch line's own step; "Train metrics generated." (which
        follows the epoch line and alone carries train_loss) belongs to the epoch line before it."""
        if line.epoch is not None and line.step is not None:
            self._epoch_step = line.step
            return self._epoch_step
        return self._epoch_step if line.message == "Train metrics generated." else None

    @property
    def nonfinite_losses(self) -> list[str]:
        """Loss keys whose latest value is NaN or infinite."""
        return [k for k in LOSS_KEYS if _nonfinite(self.kpi.get(k))]
