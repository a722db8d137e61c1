"""Write ``torch.save``-format files without torch: the zip layout and the pickle opcodes torch 2.x writes.

For tests and benchmarks that need real checkpoint files of any layout and size (storages included) on a machine
without torch — and for hostile variants of them. The pickle is written opcode by opcode (protocol 2, as torch.save
does), so a global such as ``torch._utils._rebuild_tensor_v2`` can be named without being importable here.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ITEMSIZE = {"float32": 4, "float16": 2, "bfloat16": 2, "int64": 8, "uint8": 1}
STORAGE = {
    "float32": "FloatStorage",
    "float16": "HalfStorage",
    "bfloat16": "BFloat16Storage",
    "int64": "LongStorage",
}


@dataclass
class T:
    """A tensor to write: its shape and dtype; ``meta`` writes it as torch's meta tensors do (no storage)."""

    shape: tuple[int, ...]
    dtype: str = "float32"
    meta: bool = False


@dataclass
class Global:
    """A bare global reference (``GLOBAL module name``), e.g. to write a hostile pickle naming ``os.system``."""

    module: str
    name: str
    args: tuple[Any, ...] | None = None  # called with these (REDUCE) when given


def op_global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def op_str(s: str) -> bytes:
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def op_int(n: int) -> bytes:
    if 0 <= n < 256:
        return b"K" + bytes([n])
    if 0 <= n < 65536:
        return b"M" + struct.pack("<H", n)
    if -(2**31) <= n < 2**31:
        return b"J" + struct.pack("<i", n)
    raw = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw


def _strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    out, acc = [], 1
    for d in reversed(shape):
        out.append(acc)
        acc *= max(d, 1)
    return tuple(reversed(out))


class _Writer:
    def __init__(self) -> None:
        self.storages: list[tuple[str, int]] = []  # (key, bytes)

    def tuple_(self, items: list[bytes]) -> bytes:
        return b"(" + b"".join(items) + b"t"

    def value(self, v: Any) -> bytes:
        if isinstance(v, T):
            return self.tensor(v)
        if isinstance(v, Global):
            ref = op_global(v.module, v.name)
            return ref if v.args is None else ref + self.tuple_([self.value(a) for a in v.args]) + b"R"
        if isinstance(v, bool):
            return b"\x88" if v else b"\x89"
        if v is None:
            return b"N"
        if isinstance(v, int):
            return op_int(v)
        if isinstance(v, float):
            return b"G" + struct.pack(">d", v)
        if isinstance(v, str):
            return op_str(v)
        if isinstance(v, (list, tuple)):
            items = b"".join(self.value(x) for x in v)
            return (b"](" + items + b"e") if isinstance(v, list) else (b"(" + items + b"t")
        if isinstance(v, Mapping):
            pairs = b"".join(self.value(k) + self.value(x) for k, x in v.items())
            return b"}(" + pairs + b"u" if v else b"}"
        raise TypeError(type(v))

    def tensor(self, t: T) -> bytes:
        size = self.tuple_([op_int(d) for d in t.shape])
        stride = self.tuple_([op_int(d) for d in _strides(t.shape)])
        if t.meta:
            return (
                op_global("torch._utils", "_rebuild_meta_tensor_no_storage")
                + self.tuple_([op_global("torch", t.dtype), size, stride, b"\x89"])
                + b"R"
            )
        numel = 1
        for d in t.shape:
            numel *= d
        key = str(len(self.storages))
        self.storages.append((key, numel * ITEMSIZE[t.dtype]))
        persid = self.tuple_(
            [
                op_str("storage"),
                op_global("torch", STORAGE[t.dtype]),
                op_str(key),
                op_str("cpu"),
                op_int(numel),
            ]
        )
        hooks = op_global("collections", "OrderedDict") + b")R"
        return (
            op_global("torch._utils", "_rebuild_tensor_v2")
            + self.tuple_([persid + b"Q", op_int(0), size, stride, b"\x89", hooks])
            + b"R"
        )


def pickle_bytes(obj: Any) -> tuple[bytes, list[tuple[str, int]]]:
    """The protocol-2 pickle of ``obj`` (dicts, lists, scalars, :class:`T`, :class:`Global`) and its storages."""
    w = _Writer()
    return b"\x80\x02" + w.value(obj) + b".", w.storages


def write_torch_zip(
    path: str | Path,
    obj: Any,
    *,
    name: str = "archive",
    fill: bytes = b"\0",
    pickle_data: bytes | None = None,
) -> Path:
    """A ``torch.save`` zip of ``obj``: ``<name>/data.pkl``, one stored ``<name>/data/<key>`` member per storage
    (filled with ``fill`` repeated; large members are streamed), and torch's small version records."""
    data, storages = pickle_bytes(obj)
    path = Path(path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{name}/data.pkl", pickle_data if pickle_data is not None else data)
        zf.writestr(f"{name}/.format_version", "1")
        zf.writestr(f"{name}/.storage_alignment", "64")
        zf.writestr(f"{name}/byteorder", "little")
        for key, nbytes in storages:
            info = zipfile.ZipInfo(f"{name}/data/{key}")
            chunk = (fill * (2**20 // max(len(fill), 1) + 1))[: 2**20]
            with zf.open(info, "w", force_zip64=nbytes > 2**31 - 1) as member:
                left = nbytes
                while left > 0:
                    piece = chunk[: min(left, len(chunk))]
                    member.write(piece)
                    left -= len(piece)
        zf.writestr(f"{name}/version", "3\n")
        zf.writestr(f"{name}/.data/serialization_id", "0" * 40)
    return path


def state_dict(
    shapes: Mapping[str, tuple[int, ...]], *, meta: bool = False, prefix: str = ""
) -> dict[str, T]:
    return {prefix + k: T(tuple(v), meta=meta) for k, v in shapes.items()}


def lightning(weights: Mapping[str, T], *, version: str = "2.6.6") -> dict[str, Any]:
    """A Lightning checkpoint around a state dict, as TAO writes it (optimizer state left out)."""
    return {"epoch": 0, "global_step": 3, "pytorch-lightning_version": version, "state_dict": dict(weights)}
