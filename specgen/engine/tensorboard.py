"""TensorBoard event files, read incrementally while Lightning writes them: the only live per-step signal TAO
7.3.0 gives (``train_loss_step`` every ``train.log_every_n_steps``, ``lr`` every step, ``epoch``, ``val/*``).

A small reader of the two formats involved instead of the ``tensorboard`` package (and its protobuf runtime, tens of
MB, for ~100 lines): TFRecord framing (``u64 length · u32 crc · data · u32 crc``) and the few protobuf fields of
``Event``/``Summary.Value`` that carry a scalar. Checked against real files in ``tests/fixtures/tao-7.3.0``. The
file is untrusted (a crashed writer, a full disk, a hand-edited copy): every record's CRCs are checked (CRC-32C
by ``google-crc32c``, in C), and a damaged one is skipped and counted, never raised — the verdict always comes.
"""

from __future__ import annotations

import os
import stat
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import google_crc32c

from specgen.engine.turns import yield_gil

#: A record longer than this is not a scalar event (images, graphs): skipped without reading it into memory.
MAX_RECORD = 1 << 20
#: Records parsed between two ``yield_gil`` (~0.5 ms of Python).
YIELD_EVERY = 48


class Scalar(NamedTuple):
    """One scalar of an event file. A named tuple, not a frozen dataclass: a live run's reads make hundreds a
    second in a thread that shares the GIL with the Run screen's loop, and a tuple is built ~7× faster."""

    tag: str
    step: int
    value: float
    wall_time: float


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of one protobuf message; value is an int (varint) or bytes (the 8 or 4
    bytes of a fixed field, a length-delimited slice). A field running past the end is a ValueError.

    A key, a varint or a length under 128 (every one in a scalar event) is read in place, without ``_varint``: a
    live run's half-second of scalars is hundreds of records, read in a thread that holds the GIL the Run screen's
    loop needs, so each record costs as little Python as it can."""
    pos, end = 0, len(buf)
    value: int | bytes
    while pos < end:
        key = buf[pos]
        if key < 0x80:
            pos += 1
        else:
            key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            if pos < end and buf[pos] < 0x80:
                value, pos = buf[pos], pos + 1
            else:
                value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        elif wire == 2:
            if pos < end and buf[pos] < 0x80:
                size, pos = buf[pos], pos + 1
            else:
                size, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + size], pos + size
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if pos > end:
            raise ValueError("truncated field")
        yield num, wire, value


def _tensor_value(buf: bytes) -> float | None:
    """A scalar TensorProto (new-style summaries): float_val, double_val or 4/8 bytes of tensor_content."""
    dtype = 0
    content = b""
    for num, wire, value in _fields(buf):
        if num == 1 and wire == 0 and isinstance(value, int):
            dtype = value
        elif num == 5 and isinstance(value, bytes) and len(value) >= 4:  # float_val, packed or not
            return float(struct.unpack("<f", value[:4])[0])
        elif num == 6 and isinstance(value, bytes) and len(value) >= 8:  # double_val
            return float(struct.unpack("<d", value[:8])[0])
        elif num == 4 and isinstance(value, bytes):
            content = value
    width = 8 if dtype == 2 else 4
    if len(content) >= width:
        return float(struct.unpack("<d" if dtype == 2 else "<f", content[:width])[0])
    return None


def parse_event(data: bytes) -> list[Scalar]:
    """The scalars one serialized ``Event`` carries (none for file-version, graph or hparams events). A damaged
    message is a ValueError: every field is checked for its wire type and length before it is used."""
    wall, step, summary = 0.0, 0, None
    for num, wire, value in _fields(data):
        if num == 1 and wire == 1 and isinstance(value, bytes):
            wall = struct.unpack("<d", value)[0]
        elif num == 2 and wire == 0 and isinstance(value, int):
            step = value - (1 << 64) if value >= 1 << 63 else value
        elif num == 5 and wire == 2 and isinstance(value, bytes):
            summary = value
    if summary is None:
        return []
    out = []
    for num, wire, value in _fields(summary):
        if num != 1 or wire != 2 or not isinstance(value, bytes):
            continue
        tag, scalar = "", None
        for vnum, vwire, v in _fields(value):
            if vnum == 1 and vwire == 2 and isinstance(v, bytes):
                tag = v.decode("utf-8", errors="replace")
            elif vnum == 2 and vwire == 5 and isinstance(v, bytes):  # simple_value
                scalar = struct.unpack("<f", v)[0]
            elif vnum == 8 and vwire == 2 and isinstance(v, bytes):  # tensor
                scalar = _tensor_value(v)
        if tag and scalar is not None:
            out.append(Scalar(tag=tag, step=step, value=float(scalar), wall_time=wall))
    return out


def masked_crc(data: bytes) -> int:
    """TFRecord's checksum: CRC-32C, rotated right by 15 bits plus a constant (so a CRC of CRCs is not zero)."""
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


_HEAD = struct.Struct("<QI")
_CRC = struct.Struct("<I")


class EventFileReader:
    """Reads the records appended since the last call; a record still being written waits for the next call.

    Every record is checked as TensorFlow's reader checks it: the length's CRC before the length is believed, the
    data's CRC before the data is parsed. What fails is skipped and counted (``corrupt``), never raised: a record
    whose data is damaged is stepped over (its length was sound); a damaged length is resynchronised on the next
    header whose CRC holds. Nothing larger than the file is ever allocated: the file is read in bounded bites, a
    record larger than ``MAX_RECORD`` (an image summary) is stepped over unread, and a length running past the end
    of the file waits for the writer (or, if it never comes, is left unread). ``notes`` says, once each, what was
    skipped, for the monitor or a verdict to quote."""

    #: Bytes read per bite: memory stays flat however large the file.
    BITE = 4 << 20

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.offset = 0
        self.corrupt = 0
        self.notes: list[str] = []
        self._ino: int | None = None
        self._lost = False  # resynchronising after a damaged header: the same damage is counted once

    def _damaged(self, what: str) -> None:
        self.corrupt += 1
        if len(self.notes) < 5:
            self.notes.append(f"{self.path}: {what}; skipped")

    def read_new(self) -> list[Scalar]:
        out: list[Scalar] = []
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO put there never blocks the open
        except OSError:
            return out
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                return out
            if st.st_ino != self._ino or st.st_size < self.offset:  # recreated or truncated: from the start
                if self._ino is not None:
                    self.offset = 0
                self._ino = st.st_ino
            size = st.st_size
            while self.offset + 12 <= size:
                f.seek(self.offset)
                buf = f.read(min(self.BITE, size - self.offset))
                used = self._parse(buf, size - self.offset, out)
                if used == 0:
                    break  # a record still being written (or a length the file does not hold yet)
                self.offset += used
        return out

    def _parse(self, buf: bytes, available: int, out: list[Scalar]) -> int:
        """Parse the complete records at the start of ``buf`` (``available`` bytes are in the file from there);
        return how many bytes were consumed, records skipped included."""
        pos = 0
        records = 0
        while pos + 12 <= len(buf):
            records += 1
            if records % YIELD_EVERY == 0:
                yield_gil()  # a live run's read is hundreds of records, in a thread beside the Run screen's loop
            length, head_crc = _HEAD.unpack_from(buf, pos)
            if masked_crc(buf[pos : pos + 8]) != head_crc:
                if not self._lost:
                    self._damaged(
                        f"a record header at byte {self.offset + pos} is damaged (its length's CRC fails)"
                    )
                found = _resync(buf, pos + 1)
                if found is None:
                    self._lost = True
                    return max(pos + 1, len(buf) - 11)  # keep a tail that may hold the start of a header
                pos = found
                continue
            self._lost = False
            end = pos + 12 + length + 4
            if end > available:
                return pos  # the writer is mid-record (or the length promises more than the file holds): wait
            if length > MAX_RECORD:  # an image or graph, not a scalar: stepped over, never read into memory
                return (
                    end if pos == 0 else pos
                )  # pos == 0: skip it by moving the offset (it may lie past buf)
            if end > len(buf):
                return pos  # the record crosses this bite: the next bite starts with it
            body = buf[pos + 12 : pos + 12 + length]
            (data_crc,) = _CRC.unpack_from(buf, pos + 12 + length)
            pos = end
            if masked_crc(body) != data_crc:
                self._damaged(f"a record of {length} bytes fails its CRC")
                continue
            try:
                out.extend(parse_event(body))
            except (ValueError, struct.error, OverflowError):
                self._damaged(f"a record of {length} bytes is not a readable event")
        return pos


def _resync(buf: bytes, start: int) -> int | None:
    """The next position from ``start`` where a record header's CRC holds, or None. A scalar record's length is
    below ``MAX_RECORD``, so its bytes 3–7 are zero: a C-speed ``find`` picks the candidates."""
    probe = start + 3
    while True:
        hit = buf.find(b"\x00\x00\x00\x00\x00", probe)
        if hit < 0 or hit - 3 + 12 > len(buf):
            return None
        cand = hit - 3
        if cand >= start:
            length, head_crc = _HEAD.unpack_from(buf, cand)
            if length <= MAX_RECORD and masked_crc(buf[cand : cand + 8]) == head_crc:
                return cand
        probe = hit + 1


def event_files(results_dir: str | os.PathLike[str]) -> list[Path]:
    """Lightning's event files under ``<results>/lightning_logs/version_N/``, oldest version first."""
    logs = Path(results_dir) / "lightning_logs"
    if not logs.is_dir():
        return []

    def version(p: Path) -> int:
        tail = p.parent.name.rpartition("_")[2]
        return int(tail) if tail.isascii() and tail.isdigit() and len(tail) < 18 else -1

    return sorted(
        (p for p in logs.glob("version_*/events.out.tfevents.*") if p.is_file()),
        key=lambda p: (version(p), p.name),
    )


def logdir_command(results_dir: str | os.PathLike[str]) -> str | None:
    """``tensorboard --logdir <results>/lightning_logs`` when the run left event files there (None otherwise): every
    curve Lightning logged, beyond the few the Run screen draws."""
    import shlex

    if not event_files(results_dir):
        return None
    return f"tensorboard --logdir {shlex.quote(str(Path(results_dir) / 'lightning_logs'))}"


class EventDirReader:
    """Every event file of a results folder, followed as new ones appear (a resumed run starts version_N+1)."""

    def __init__(self, results_dir: str | os.PathLike[str], *, since: float | None = None) -> None:
        self.results_dir = Path(results_dir)
        self.since = since  # ignore files last written before this time (an earlier run in the same folder)
        self.readers: dict[Path, EventFileReader] = {}

    def read_new(self) -> list[Scalar]:
        out: list[Scalar] = []
        for path in event_files(self.results_dir):
            if path not in self.readers:
                try:
                    if self.since is not None and path.stat().st_mtime < self.since:
                        continue
                except OSError:
                    continue
                self.readers[path] = EventFileReader(path)
            out.extend(self.readers[path].read_new())
        return out

    @property
    def corrupt(self) -> int:
        """Damaged records skipped, over every file."""
        return sum(r.corrupt for r in self.readers.values())

    @property
    def notes(self) -> list[str]:
        """What was skipped, a few lines per file."""
        return [note for r in self.readers.values() for note in r.notes]
