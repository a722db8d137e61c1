"""status.json: JSON Lines appended by TAO. Read incrementally, tolerate what real files contain:
the bare ``NaN`` token (Python's json writes a NaN loss that way, and Python's json reads it back),
a partial last line (wait for its newline), garbage lines (skip and count), truncation or re-creation."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any


def parse_status_line(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)  # accepts NaN / Infinity, as TAO's writer produces them
    except ValueError:
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
