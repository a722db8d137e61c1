"""TensorBoard event files, read incrementally while Lightning writes them: the only live per-step signal TAO
7.3.0 gives (``train_loss_step`` every ``train.log_every_n_steps``, ``lr`` every step, ``epoch``, ``val/*``).

A small reader of the two formats involved instead of the ``tensorboard`` package (and its protobuf runtime, tens of
MB, for ~100 lines): TFRecord framing (``u64 length · u32 crc · data · u32 crc``) and the few protobuf fields of
``Event``/``Summary.Value`` that carry a scalar. Checked against real files in ``tests/fixtures/tao-7.3.0``.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

#: A record longer than this is not a scalar event (images, graphs): skipped without reading it into memory.
MAX_RECORD = 1 << 20


@dataclass(frozen=True)
class Scalar:
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


def _fields(buf: bytes):
    """(field number, wire type, value) of one protobuf message; value is int, float bytes or a bytes slice."""
    pos = 0
    value: int | bytes
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + size], pos + size
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if pos > len(buf):
            raise ValueError("truncated field")
        yield num, wire, value


def _tensor_value(buf: bytes) -> float | None:
    """A scalar TensorProto (new-style summaries): float_val, double_val or 4/8 bytes of tensor_content."""
    dtype = 0
    content = b""
    for num, wire, value in _fields(buf):
        if num == 1 and wire == 0:
            dtype = value
        elif num == 5:  # float_val, packed or not
            return struct.unpack("<f", value[:4])[0]
        elif num == 6:  # double_val
            return struct.unpack("<d", value[:8])[0]
        elif num == 4:
            content = value
    if content:
        return struct.unpack("<d" if dtype == 2 else "<f", content[:8] if dtype == 2 else content[:4])[0]
    return None


def parse_event(data: bytes) -> list[Scalar]:
    """The scalars one serialized ``Event`` carries (none for file-version, graph or hparams events)."""
    wall, step, summary = 0.0, 0, None
    for num, wire, value in _fields(data):
        if num == 1 and wire == 1:
            wall = struct.unpack("<d", value)[0]
        elif num == 2 and wire == 0:
            step = value - (1 << 64) if value >= 1 << 63 else value
        elif num == 5 and wire == 2:
            summary = value
    if summary is None:
        return []
    out = []
    for num, wire, value in _fields(summary):
        if num != 1 or wire != 2:
            continue
        tag, scalar = "", None
        for vnum, vwire, v in _fields(value):
            if vnum == 1 and vwire == 2:
                tag = v.decode("utf-8", errors="replace")
            elif vnum == 2 and vwire == 5:  # simple_value
                scalar = struct.unpack("<f", v)[0]
            elif vnum == 8 and vwire == 2:  # tensor
                scalar = _tensor_value(v)
        if tag and scalar is not None:
            out.append(Scalar(tag=tag, step=step, value=float(scalar), wall_time=wall))
    return out


class EventFileReader:
    """Reads the records appended since the last call; a record still being written waits for the next call."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.offset = 0
        self.corrupt = 0

    def read_new(self) -> list[Scalar]:
        out: list[Scalar] = []
        try:
            f = open(self.path, "rb")  # noqa: SIM115 - closed below; a FIFO or device is refused first
        except OSError:
            return out
        with f:
            if not self.path.is_file():
                return out
            f.seek(self.offset)
            while True:
                head = f.read(12)
                if len(head) < 12:
                    break
                (length,) = struct.unpack("<Q", head[:8])
                if length > MAX_RECORD:
                    f.seek(length + 4, os.SEEK_CUR)
                    if f.tell() > os.fstat(f.fileno()).st_size:
                        break
                    self.offset = f.tell()
                    continue
                body = f.read(length + 4)
                if len(body) < length + 4:
                    break  # the writer is mid-record: read it next time
                self.offset += 12 + length + 4
                try:
                    out.extend(parse_event(body[:length]))
                except (ValueError, struct.error):
                    self.corrupt += 1
        return out


def event_files(results_dir: str | os.PathLike[str]) -> list[Path]:
    """Lightning's event files under ``<results>/lightning_logs/version_N/``, oldest version first."""
    logs = Path(results_dir) / "lightning_logs"
    if not logs.is_dir():
        return []

    def version(p: Path) -> int:
        tail = p.parent.name.rpartition("_")[2]
        return int(tail) if tail.isdigit() else -1

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
