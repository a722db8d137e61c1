"""status.json: JSON Lines appended by TAO. Read incrementally, tolerate what real files contain:
the bare ``NaN`` token (Python's json writes a NaN loss that way, and Python's json reads it back),
a partial last line (wait for its newline), garbage lines (skip and count), truncation or re-creation.

What the lines mean is folded here too, once (``StatusFold``): the verdict, the Run screen and a finished run's
results all read TAO's keys through it."""

from __future__ import annotations

import json
import math
import os
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from specgen.engine.events import StatusLine

if (
    TYPE_CHECKING
):  # the watcher alone needs it: reading a finished run's status.json (depthnet verdict) does not
    import asyncio


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


def _load_watcher() -> Any:
    """watchfiles' ``awatch``, with anyio's asyncio backend that it imports on its first use: 40–70 ms of imports
    that would otherwise run on the event loop in a run's first second. Called in a thread."""
    import anyio._backends._asyncio  # noqa: F401 - loaded here so that awatch finds it loaded
    from watchfiles import awatch

    return awatch


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
    import asyncio

    awatch = await asyncio.to_thread(_load_watcher)
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


def finite(value: Any) -> bool | None:
    """The one rule for "finite", for every kpi value at every depth: True/False for a number (int or float, not
    bool) or a numeric string ("nan", "NaN", "inf", "-Infinity", "1e3": TAO's writer and hand-edited files hold
    them); None for what is not a number (text, None, bool, a container). An int is finite however many digits it
    has (``math.isfinite`` would overflow on a 401-digit one)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str) and len(value) <= 64:
        try:
            return math.isfinite(float(value.strip()))
        except ValueError:
            return None
    return None


def nonfinite(kpi: Any, prefix: str = "", *, _depth: int = 0) -> dict[str, str]:
    """Every non-finite value of a kpi (nested dicts flattened with ``/``, lists by index) → "NaN"/"inf"/"-inf".
    Nesting past 32 levels is not looked into (a hostile file cannot make this recurse without end)."""
    out: dict[str, str] = {}
    if _depth > 32:
        return out
    if isinstance(kpi, dict):
        for k, v in kpi.items():
            out.update(nonfinite(v, f"{prefix}/{k}" if prefix else str(k), _depth=_depth + 1))
    elif isinstance(kpi, (list, tuple)):
        for i, v in enumerate(kpi):
            out.update(nonfinite(v, f"{prefix}[{i}]", _depth=_depth + 1))
    elif finite(kpi) is False:
        number = float(kpi.strip() if isinstance(kpi, str) else kpi)
        out[prefix] = "NaN" if math.isnan(number) else ("inf" if number > 0 else "-inf")
    return out


def flat_kpi(kpi: dict[str, Any], prefix: str = "", *, _depth: int = 0) -> dict[str, Any]:
    """A kpi with nested dicts flattened (``a/b``), as the verdict reads it; containers past 32 levels dropped."""
    out: dict[str, Any] = {}
    for k, v in kpi.items():
        name = f"{prefix}/{k}" if prefix else str(k)
        if isinstance(v, dict):
            if _depth < 32:
                out.update(flat_kpi(v, name, _depth=_depth + 1))
        elif isinstance(v, list):  # by index, as ``nonfinite`` reads lists
            if _depth < 32:
                out.update(flat_kpi({str(i): x for i, x in enumerate(v)}, name, _depth=_depth + 1))
        else:
            out[name] = v
    return out


@dataclass(frozen=True)
class StatusChange:
    """What one line changed: its FAILURE message, loss keys that went non-finite for the first time, and — for a
    line with a kpi — the global step its epoch's kpi belongs to (the chart's epoch points)."""

    failure: str | None = None
    new_nonfinite: tuple[str, ...] = ()
    epoch_point: int | None = None


#: What the verdict keeps of one session's lines (slim copies, see ``StatusFold.session_lines``): its first lines,
#: its newest, and each line where a kpi key first went non-finite (with the epoch line after it).
KEEP_FIRST, KEEP_LAST, KEEP_MARKED = 64, 2048, 256
#: Keys of a line the verdict reads; a kept message is cut to this many characters, a kpi to this many keys.
_SLIM_KEYS = ("epoch", "max_epoch", "step", "max_step", "status")
_MAX_MESSAGE, _MAX_KPI = 4096, 64


def is_session_start(data: dict[str, Any]) -> bool:
    """TAO's first line of an action (``Starting Depth Net train.``): status.json is appended to, so a re-run into
    the same folder starts a new session after the old one's lines."""
    message = data.get("message")
    return (
        data.get("status") == "STARTED" and isinstance(message, str) and message.startswith("Starting Depth")
    )


def _slim(data: dict[str, Any]) -> dict[str, Any]:
    """What the verdict reads of a line, bounded: the epoch keys, status, the message (cut), and the kpi flattened
    to its numbers and numeric strings (``finite`` says which), at most ``_MAX_KPI`` keys."""
    out = {k: data[k] for k in _SLIM_KEYS if k in data}
    message = data.get("message")
    if isinstance(message, str):
        out["message"] = message[:_MAX_MESSAGE]
    kpi = data.get("kpi")
    if isinstance(kpi, dict):
        kept = {}
        for k, v in flat_kpi(kpi).items():
            if finite(v) is not None:
                kept[k[:200]] = v
                if len(kept) >= _MAX_KPI:
                    break
        out["kpi"] = kept
    return out


@dataclass
class StatusFold:
    """status.json folded line by line — the one reading of TAO's keys behind the verdict (``RunFacts``), the Run
    screen's progress (``RunProgress``) and a finished run's results (``results``). Memory stays flat: the latest
    value of each key, the epochs seen, the first non-finite value of each loss; with ``keep_lines`` (the verdict's
    fold) also a bounded digest of the last session's lines for ``judge_metrics``/``count_epochs``/``diagnose``."""

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
    bad_loss: dict[str, Any] = field(default_factory=dict)  # first non-finite value per loss key, ever
    lines: int = 0
    keep_lines: bool = False
    session_kpi: dict[str, Any] = field(default_factory=dict)  # the latest value of each key, this session
    session_failure: str | None = None  # this session's first FAILURE message
    sessions: int = 0  # "Starting Depth Net …" lines seen (a re-run into the same folder adds one)
    _epoch_step: int | None = None
    _head: list[tuple[int, dict[str, Any]]] = field(default_factory=list, repr=False)
    _tail: deque[tuple[int, dict[str, Any]]] = field(
        default_factory=lambda: deque(maxlen=KEEP_LAST), repr=False
    )
    _marked: list[tuple[int, dict[str, Any]]] = field(default_factory=list, repr=False)
    _bad_keys: set[str] = field(default_factory=set, repr=False)
    _mark_next_epoch: bool = field(default=False, repr=False)
    _last_epoch: tuple[int, dict[str, Any]] | None = field(default=None, repr=False)
    _index: int = field(default=0, repr=False)

    @classmethod
    def of(cls, lines: Iterable[dict[str, Any]], *, keep_lines: bool = False) -> StatusFold:
        fold = cls(keep_lines=keep_lines)
        for data in lines:
            fold.add(StatusLine(data=data))
        return fold

    def add(self, line: StatusLine) -> StatusChange:
        self.lines += 1
        message = line.message
        self.last_message = message
        if is_session_start(line.data):
            self.sessions += 1
            self.session_kpi, self.session_failure = {}, None
            self._head, self._marked, self._bad_keys = [], [], set()
            self._tail.clear()
            self._mark_next_epoch, self._last_epoch = False, None
        if self.keep_lines:
            self._keep(line.data)
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
                self.session_failure = self.session_failure or message
        if not line.has_kpi:
            return StatusChange(failure=failure)
        kpi = line.kpi
        self.kpi.update(kpi)
        self.session_kpi.update(kpi)
        bad = tuple(k for k in nonfinite(kpi) if "loss" in k and k not in self.bad_loss)
        flat = flat_kpi(kpi)
        for k in bad:
            self.bad_loss[k] = flat.get(k, kpi.get(k))
        return StatusChange(
            failure=failure, new_nonfinite=bad, epoch_point=self._epoch_end_step(line) if kpi else None
        )

    def _keep(self, data: dict[str, Any]) -> None:
        """The digest: the session's first lines, its newest, and the lines where a kpi key first went
        non-finite with the epoch lines around one (the one after says the epoch of an "Eval metrics" line, the one
        before that of a "Train metrics" line)."""
        self._index += 1
        slim = _slim(data)
        item = (self._index, slim)
        mark = False
        if self._mark_next_epoch and "epoch" in slim:
            mark, self._mark_next_epoch = True, False
        kpi = slim.get("kpi")
        if kpi:
            new = {k for k, v in kpi.items() if finite(v) is False} - self._bad_keys
            if new:
                self._bad_keys |= new
                mark = True
                self._mark_next_epoch = "epoch" not in slim
        message = slim.get("message", "")
        if "Resuming training" in message or "resume checkpoint" in message:
            mark = True
        if len(self._head) < KEEP_FIRST:
            self._head.append(item)
        else:
            if mark and len(self._marked) < KEEP_MARKED - 1:
                if self._last_epoch is not None:  # the epoch a "Train metrics" line belongs to
                    self._marked.append(self._last_epoch)
                self._marked.append(item)
            self._tail.append(item)
        if "epoch" in slim:
            self._last_epoch = item

    def session_lines(self) -> list[dict[str, Any]]:
        """The last session's lines as the verdict reads them (slim copies, in order; bounded: see ``_keep``)."""
        seen: dict[int, dict[str, Any]] = {}
        for index, data in (*self._head, *self._marked, *self._tail):
            seen[index] = data
        return [seen[i] for i in sorted(seen)]

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
        return [k for k in LOSS_KEYS if finite(self.kpi.get(k)) is False]
