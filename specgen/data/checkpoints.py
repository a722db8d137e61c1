"""What a weights file holds, read without torch and without running any of its pickle code.

A ``torch.save`` file is a zip whose ``<name>/data.pkl`` member pickles the object; its tensors are calls to torch's
rebuild functions whose storages live in ``<name>/data/<key>`` members. Reading only ``data.pkl`` through an unpickler
that maps those rebuild calls to shape records (and refuses every other global, ``os.system`` included) tells every
key, shape and dtype of a 1.3 GB checkpoint in milliseconds, safely, on a machine without torch. Legacy (pre-1.6,
non-zip) ``torch.save`` files and ``.safetensors`` headers are read the same way.

From the keys we tell what TAO 7.3.0 will make of the file (``specgen/job/weights.py`` routes it):

- ``tao``: a Lightning checkpoint (``pytorch-lightning_version`` + ``state_dict`` with ``model.pretrained.*`` and
  ``model.depth_head.*`` or ``model.metric_depth_head.*``), what TAO's own training writes;
- ``public``: a public Depth Anything V2 release, a bare ``pretrained.*`` + ``depth_head.*`` state dict (the relative
  and metric releases share these names);
- ``dinov2``: a bare DINOv2 backbone (``cls_token``, ``blocks.N.*``, ``norm.*``);
- ``ddp``: any of those saved from a DistributedDataParallel model, every key wrapped in ``module.``;
- ``unknown``: anything else.

Hostile files (zip bombs, huge pickles, a pickle naming ``os.system``, a truncated zip, a FIFO, a device, a symlink
loop) get one :class:`CheckpointError` line, quickly: nothing is read before ``stat`` says it is a regular file, the
pickle's size is bounded before it is read, and no global outside the small table below is ever resolved.
"""

from __future__ import annotations

import errno
import io
import json
import math
import os
import pickle
import re
import stat
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from specgen.spec.atomicio import atomic_writer

Layout = Literal["tao", "public", "dinov2", "ddp", "unknown"]
Head = Literal["relative", "metric"]
LAYOUTS: tuple[str, ...] = ("tao", "public", "dinov2", "ddp", "unknown")

#: The biggest ``data.pkl`` we read. A real ViT-G Lightning checkpoint's (weights + optimizer state) is ~0.3 MB: the
#: bound only stops zip bombs and pickles built to exhaust memory.
MAX_PICKLE_BYTES = 16 * 2**20
#: A bigger central directory than this is not a checkpoint (a real one lists a few thousand members).
MAX_ZIP_ENTRIES = 200_000
MAX_SAFETENSORS_HEADER = 100 * 2**20  # what the safetensors library itself accepts
MAX_DIMS = 16

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch.serialization's MAGIC_NUMBER (non-zip files)


class CheckpointError(ValueError):
    """The file cannot be read as a checkpoint; the message is one line naming the file, the cause and the fix."""


# --------------------------------------------------------------------------- encoders (facts §7)


@dataclass(frozen=True)
class EncoderShape:
    """DINOv2 (patch 14, 518×518, no registers) + DPT head geometry of one Depth Anything V2 encoder."""

    width: int
    blocks: int
    features: int
    out_channels: tuple[int, int, int, int]
    swiglu_hidden: int | None = None  # ViT-G's FFN is SwiGLU (w12/w3) instead of fc1/fc2


ENCODER_SHAPES: dict[str, EncoderShape] = {
    "vits": EncoderShape(384, 12, 64, (48, 96, 192, 384)),
    "vitb": EncoderShape(768, 12, 128, (96, 192, 384, 768)),
    "vitl": EncoderShape(1024, 24, 256, (256, 512, 1024, 1024)),
    "vitg": EncoderShape(1536, 40, 384, (1536, 1536, 1536, 1536), swiglu_hidden=4096),
}
POS_TOKENS = (518 // 14) ** 2 + 1  # 1370: the class token plus 37×37 patches


def backbone_shapes(encoder: str) -> dict[str, tuple[int, ...]]:
    """Every key and shape of the bare DINOv2 backbone TAO builds for ``encoder`` (what DINOv2's own release holds)."""
    e = ENCODER_SHAPES[encoder]
    d = e.width
    out: dict[str, tuple[int, ...]] = {
        "cls_token": (1, 1, d),
        "pos_embed": (1, POS_TOKENS, d),
        "mask_token": (1, d),
        "patch_embed.proj.weight": (d, 3, 14, 14),
        "patch_embed.proj.bias": (d,),
    }
    for i in range(e.blocks):
        b = f"blocks.{i}."
        out |= {
            b + "norm1.weight": (d,),
            b + "norm1.bias": (d,),
            b + "attn.qkv.weight": (3 * d, d),
            b + "attn.qkv.bias": (3 * d,),
            b + "attn.proj.weight": (d, d),
            b + "attn.proj.bias": (d,),
            b + "ls1.gamma": (d,),
            b + "norm2.weight": (d,),
            b + "norm2.bias": (d,),
        }
        if e.swiglu_hidden:
            h = e.swiglu_hidden
            out |= {
                b + "mlp.w12.weight": (2 * h, d),
                b + "mlp.w12.bias": (2 * h,),
                b + "mlp.w3.weight": (d, h),
                b + "mlp.w3.bias": (d,),
            }
        else:
            out |= {
                b + "mlp.fc1.weight": (4 * d, d),
                b + "mlp.fc1.bias": (4 * d,),
                b + "mlp.fc2.weight": (d, 4 * d),
                b + "mlp.fc2.bias": (d,),
            }
        out[b + "ls2.gamma"] = (d,)
    out |= {"norm.weight": (d,), "norm.bias": (d,)}
    return out


def head_shapes(encoder: str) -> dict[str, tuple[int, ...]]:
    """Every key and shape of the DPT head (``use_bn`` and ``use_clstoken`` off, as in the public releases)."""
    e = ENCODER_SHAPES[encoder]
    d, f, oc = e.width, e.features, e.out_channels
    out: dict[str, tuple[int, ...]] = {}
    for i, c in enumerate(oc):
        out |= {f"projects.{i}.weight": (c, d, 1, 1), f"projects.{i}.bias": (c,)}
    out |= {
        "resize_layers.0.weight": (oc[0], oc[0], 4, 4),
        "resize_layers.0.bias": (oc[0],),
        "resize_layers.1.weight": (oc[1], oc[1], 2, 2),
        "resize_layers.1.bias": (oc[1],),
        "resize_layers.3.weight": (oc[3], oc[3], 3, 3),
        "resize_layers.3.bias": (oc[3],),
    }
    for i, c in enumerate(oc, start=1):
        out[f"scratch.layer{i}_rn.weight"] = (f, c, 3, 3)
    for i in range(1, 5):
        r = f"scratch.refinenet{i}."
        out |= {r + "out_conv.weight": (f, f, 1, 1), r + "out_conv.bias": (f,)}
        for unit in ("resConfUnit1", "resConfUnit2"):
            for conv in ("conv1", "conv2"):
                out |= {f"{r}{unit}.{conv}.weight": (f, f, 3, 3), f"{r}{unit}.{conv}.bias": (f,)}
    out |= {
        "scratch.output_conv1.weight": (f // 2, f, 3, 3),
        "scratch.output_conv1.bias": (f // 2,),
        "scratch.output_conv2.0.weight": (32, f // 2, 3, 3),
        "scratch.output_conv2.0.bias": (32,),
        "scratch.output_conv2.2.weight": (1, 32, 1, 1),
        "scratch.output_conv2.2.bias": (1,),
    }
    return out


def expected_shapes(
    encoder: str, layout: str = "public", head: str = "relative"
) -> dict[str, tuple[int, ...]]:
    """The keys and shapes of a model's weights in one layout: ``public`` (``pretrained.*`` + ``depth_head.*``),
    ``dinov2`` (the bare backbone) or ``tao`` (the Lightning ``state_dict``: ``model.`` + the public names, the head
    ``metric_depth_head`` for a metric model). For benchmarks and GPU checks that need a file of a real size."""
    backbone = backbone_shapes(encoder)
    if layout == "dinov2":
        return backbone
    head_name = "metric_depth_head" if layout == "tao" and head == "metric" else "depth_head"
    prefix = "model." if layout == "tao" else ""
    out = {f"{prefix}pretrained.{k}": v for k, v in backbone.items()}
    out |= {f"{prefix}{head_name}.{k}": v for k, v in head_shapes(encoder).items()}
    return out


# --------------------------------------------------------------------------- classification by key names


@dataclass(frozen=True)
class KeyLayout:
    """What key names (and shapes, where known) say: the layout, the encoders they allow, the head."""

    layout: Layout
    encoder: str | None  # the one encoder the keys allow, else None
    encoders: tuple[str, ...]  # every encoder the keys allow (one name alone rarely pins it)
    head: Head | None  # the head the names carry (depth_head → relative, metric_depth_head → metric)
    has_backbone: bool
    has_head: bool
    prefix: str = ""  # the wrapper every key carries (``module.`` for ddp)
    inner: Layout = "unknown"  # for ddp: the layout under the wrapper
    width: int | None = None
    blocks: int | None = None  # the highest block index seen + 1 (a lower bound when keys are partial)
    use_bn: bool = False
    use_clstoken: bool = False


_WRAPPERS = ("module.", "_orig_mod.")
_BLOCK = re.compile(r"(?:^|\.)blocks\.(\d+)\.")
_BACKBONE_ROOTS = (
    "cls_token",
    "pos_embed",
    "mask_token",
    "patch_embed.",
    "blocks.",
    "norm.",
    "register_tokens",
)


def _strip_wrapper(names: list[str]) -> tuple[str, list[str]]:
    prefix = ""
    while names:
        wrapper = next((w for w in _WRAPPERS if all(n.startswith(w) for n in names)), None)
        if wrapper is None:
            break
        prefix += wrapper
        names = [n[len(wrapper) :] for n in names]
    return prefix, names


def _kind(name: str) -> str:
    """Which naming one key follows: tao (model.*), public (pretrained./depth_head.), dinov2 (bare), other."""
    if name.startswith(("model.pretrained.", "model.depth_head.", "model.metric_depth_head.")):
        return "tao"
    if name.startswith(("pretrained.", "depth_head.", "metric_depth_head.")):
        return "public"
    if name.startswith(_BACKBONE_ROOTS) or name in ("cls_token", "pos_embed", "mask_token"):
        return "dinov2"
    return "other"


def classify_keys(shapes: Mapping[str, tuple[int, ...] | None] | Iterable[str]) -> KeyLayout:
    """Classify a state dict by its key names, with their shapes where known.

    Pure and cheap: the inspector calls it with every key and shape of a file; the failure catalogue calls it with
    the key names TAO quotes in a strict-load error (``Missing key(s) "model.metric_depth_head.…"``), which may be
    a handful. With names alone the encoder is often ambiguous (ViT-S and ViT-B both have 12 blocks): ``encoders``
    lists what the names allow and ``encoder`` is set only when one remains."""
    given: dict[str, tuple[int, ...] | None] = (
        dict(shapes.items()) if isinstance(shapes, Mapping) else dict.fromkeys(shapes)
    )
    prefix, names = _strip_wrapper(list(given))
    if not names:
        return KeyLayout("unknown", None, (), None, False, False)
    shape_of = {n: given[prefix + n] if prefix else given[n] for n in names}
    kinds = {_kind(n) for n in names}
    if kinds == {"tao"}:
        inner: Layout = "tao"
        body = {n.removeprefix("model."): s for n, s in shape_of.items()}
    elif kinds == {"public"}:
        inner, body = "public", dict(shape_of)
    elif kinds == {"dinov2"}:
        inner, body = "dinov2", {f"pretrained.{n}": s for n, s in shape_of.items()}
    else:
        inner, body = "unknown", {}
    has_backbone = any(n.startswith("pretrained.") for n in body)
    head_names = [n for n in body if n.startswith(("depth_head.", "metric_depth_head."))]
    head: Head | None = None
    if head_names:
        metric = {n.startswith("metric_depth_head.") for n in head_names}
        head = None if len(metric) > 1 else ("metric" if metric == {True} else "relative")
    width, blocks, encoders = _encoder_evidence(body)
    return KeyLayout(
        layout="ddp" if prefix and inner != "unknown" else inner,
        encoder=encoders[0] if len(encoders) == 1 else None,
        encoders=encoders,
        head=head,
        has_backbone=has_backbone,
        has_head=bool(head_names),
        prefix=prefix,
        inner=inner,
        width=width,
        blocks=blocks,
        use_bn=any(".bn1." in n or ".bn2." in n for n in head_names),
        use_clstoken=any(".readout_projects." in n for n in head_names),
    )


def _encoder_evidence(
    body: Mapping[str, tuple[int, ...] | None],
) -> tuple[int | None, int | None, tuple[str, ...]]:
    """(width, block count seen, encoders consistent with both) from public-style names ``pretrained.*``/head."""
    width = None
    for key, axis in (
        ("pretrained.cls_token", -1),
        ("pretrained.pos_embed", -1),
        ("pretrained.mask_token", -1),
        ("pretrained.patch_embed.proj.weight", 0),
        ("pretrained.norm.weight", 0),
        ("pretrained.blocks.0.norm1.weight", 0),
    ):
        shape = body.get(key)
        if shape:
            width = shape[axis]
            break
    indices = [int(m.group(1)) for n in body if (m := _BLOCK.search(n))]
    blocks = max(indices) + 1 if indices else None
    candidates = list(ENCODER_SHAPES)
    if width is not None:
        candidates = [e for e in candidates if ENCODER_SHAPES[e].width == width]
    if blocks is not None:  # a lower bound: error messages list only some keys
        candidates = [e for e in candidates if ENCODER_SHAPES[e].blocks >= blocks]
    if any(".mlp.w12." in n or ".mlp.w3." in n for n in body):
        candidates = [e for e in candidates if ENCODER_SHAPES[e].swiglu_hidden]
    elif any(".mlp.fc1." in n for n in body):
        candidates = [e for e in candidates if not ENCODER_SHAPES[e].swiglu_hidden]
    for head in ("depth_head.", "metric_depth_head."):
        project = body.get(f"{head}projects.0.weight")
        if project:
            candidates = [e for e in candidates if ENCODER_SHAPES[e].out_channels[0] == project[0]]
        rn = body.get(f"{head}scratch.layer1_rn.weight")
        if rn:
            candidates = [e for e in candidates if ENCODER_SHAPES[e].features == rn[0]]
    return width, blocks, tuple(candidates)


# --------------------------------------------------------------------------- the restricted unpickler


class TensorRecord:
    """A tensor as the pickle describes it: shape, dtype and (for real files) the storage it views."""

    __slots__ = ("shape", "dtype", "storage")

    def __init__(self, shape: tuple[int, ...], dtype: str, storage: Storage | None = None) -> None:
        self.shape, self.dtype, self.storage = shape, dtype, storage

    def __setstate__(self, state: Any) -> None:  # a Parameter's or subclass's extra state: not needed
        pass

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class DType:
    name: str


@dataclass(frozen=True)
class StorageType:
    dtype: str


@dataclass(frozen=True)
class Storage:
    dtype: str
    key: str
    numel: int


class Opaque(dict):
    """A harmless stand-in for an object a checkpoint may carry beside its tensors (an omegaconf config in
    ``hyper_parameters``, a numpy scalar in a callback's state): takes any arguments and state, runs nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def __setstate__(self, state: Any) -> None:
        pass

    def append(self, item: Any) -> None:
        pass

    def extend(self, items: Any) -> None:
        pass


_ITEMSIZE = {
    "float64": 8, "float32": 4, "float16": 2, "bfloat16": 2, "int64": 8, "int32": 4, "int16": 2, "int8": 1,
    "uint8": 1, "bool": 1, "complex64": 8, "complex128": 16, "float8_e4m3fn": 1, "float8_e5m2": 1,
}  # fmt: skip
_STORAGE_DTYPES = {
    "DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16", "BFloat16Storage": "bfloat16",
    "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16", "CharStorage": "int8",
    "ByteStorage": "uint8", "BoolStorage": "bool", "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128", "UntypedStorage": "uint8",
}  # fmt: skip
_DTYPE_NAMES = {*_ITEMSIZE, "half", "float", "double", "long", "int", "short", "cfloat", "cdouble"}


def _shape(value: Any) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or len(value) > MAX_DIMS:
        raise CheckpointError("a tensor record has no valid shape")
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**48 for v in value):
        raise CheckpointError("a tensor record has no valid shape")
    return tuple(value)


def _dtype_of(storage: Any, fallback: Any = None) -> str:
    if isinstance(fallback, DType):
        return fallback.name
    if isinstance(storage, Storage):
        return storage.dtype
    raise CheckpointError("a tensor record names no dtype or storage")


def _rebuild_tensor_v2(storage: Any, _offset: Any, size: Any, *_rest: Any) -> TensorRecord:
    return TensorRecord(_shape(size), _dtype_of(storage), storage if isinstance(storage, Storage) else None)


def _rebuild_tensor_v3(storage: Any, _offset: Any, size: Any, _stride: Any, _grad: Any, _hooks: Any, dtype: Any, *_rest: Any) -> TensorRecord:  # fmt: skip
    return TensorRecord(
        _shape(size), _dtype_of(storage, dtype), storage if isinstance(storage, Storage) else None
    )


def _rebuild_meta(dtype: Any, size: Any, *_rest: Any) -> TensorRecord:
    if not isinstance(dtype, DType):
        raise CheckpointError("a meta tensor record names no dtype")
    return TensorRecord(_shape(size), dtype.name)


def _rebuild_parameter(data: Any, *_rest: Any) -> Any:
    return data


def _rebuild_from_type_v2(func: Any, _new_type: Any, args: Any, _state: Any) -> Any:
    if func not in (_rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_meta, _rebuild_parameter):
        raise CheckpointError("a tensor subclass record calls something other than torch's rebuild functions")
    return func(*args)


def _layout(_name: Any = None) -> Opaque:
    return Opaque()


#: The only globals ever resolved: torch's tensor rebuild functions (as shape records), dtypes and storage
#: classes (as markers), pure containers, and inert stand-ins for what Lightning/numpy/omegaconf add to a checkpoint.
_REBUILDERS: dict[str, Any] = {
    "torch._utils._rebuild_tensor": _rebuild_tensor_v2,
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2,
    "torch._utils._rebuild_tensor_v3": _rebuild_tensor_v3,
    "torch._utils._rebuild_meta_tensor_no_storage": _rebuild_meta,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
    "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
    "torch.serialization._get_layout": _layout,
    "collections.OrderedDict": OrderedDict,
    "builtins.set": set,
    "builtins.frozenset": frozenset,
    "builtins.slice": slice,
    "builtins.complex": complex,
    "torch.Size": tuple,
}
_INERT_MODULES = ("omegaconf", "numpy", "pathlib", "typing", "argparse", "datetime", "enum",
                  "pytorch_lightning.utilities.parsing", "lightning_fabric.utilities.data",
                  "lightning.fabric.utilities.data", "torch.nn.parameter", "torch._tensor", "torch.strided")  # fmt: skip
_INERT_NAMES = {"torch.Tensor", "torch.nn.parameter.Parameter", "torch.device", "torch.strided"}


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, where: str) -> None:
        super().__init__(io.BytesIO(data))
        self.where = where
        self.storages: dict[str, Storage] = {}

    def find_class(self, module: str, name: str) -> Any:
        full = f"{module}.{name}"
        if full in _REBUILDERS:
            return _REBUILDERS[full]
        if module == "torch" and name in _STORAGE_DTYPES:
            return StorageType(_STORAGE_DTYPES[name])
        if module == "torch.storage" and name in ("UntypedStorage", "TypedStorage", "_LegacyStorage"):
            return StorageType("uint8")
        if module == "torch" and name in _DTYPE_NAMES:
            return DType(name)
        if full in _INERT_NAMES or module.split(".")[0] in _INERT_MODULES or module in _INERT_MODULES:
            return Opaque
        raise CheckpointError(
            f"{self.where}: its pickle names the global {full}, which a checkpoint never needs; refused "
            "without running it (only torch's tensor records are read): do not load this file with torch.load"
        )

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise CheckpointError(f"{self.where}: its pickle refers to an unknown kind of persistent object")
        _tag, kind, key, _location, numel = pid[:5]
        if not isinstance(kind, StorageType) or not isinstance(key, (str, int)) or not isinstance(numel, int):
            raise CheckpointError(f"{self.where}: its pickle has a malformed storage record")
        record = Storage(kind.dtype, str(key), numel)
        self.storages[record.key] = record
        return record


def _unpickle(data: bytes, where: str) -> tuple[Any, dict[str, Storage]]:
    unpickler = _Unpickler(data, where)
    try:
        obj = unpickler.load()
    except CheckpointError:
        raise
    except RecursionError:
        raise CheckpointError(f"{where}: its pickle nests too deeply to be a checkpoint") from None
    except MemoryError:
        raise CheckpointError(f"{where}: its pickle would not fit in memory; not a checkpoint") from None
    except Exception as exc:  # every malformed-pickle error: UnpicklingError, EOFError, TypeError, KeyError …
        raise CheckpointError(
            f"{where}: its pickle is damaged or not a torch.save object ({exc.__class__.__name__}); "
            "re-save it with torch.save, or download it again"
        ) from None
    return obj, unpickler.storages


# --------------------------------------------------------------------------- reading files


@dataclass(frozen=True)
class CheckpointInfo:
    """What one weights file holds, and what TAO will make of it."""

    path: str
    size: int
    format: Literal["torch-zip", "torch-legacy", "safetensors"]
    layout: Layout
    encoder: str | None
    head: Head | None  # only for TAO checkpoints: relative (depth_head) or metric (metric_depth_head)
    tensors: int
    parameters: int
    keys: KeyLayout
    dtypes: tuple[str, ...] = ()
    lightning_version: str | None = None
    epoch: int | None = None
    global_step: int | None = None
    wrapped_in: str | None = None  # the top-level key holding the weights in a non-Lightning wrapper dict
    notes: tuple[str, ...] = ()
    first_keys: tuple[str, ...] = field(default=(), repr=False)
    #: Every tensor key of the weights with its shape (not in the JSON: a ViT-G has 631).
    shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def has_head(self) -> bool:
        return self.keys.has_head

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("shapes")
        out["has_head"] = self.has_head
        out["first_keys"] = list(self.first_keys)
        return out

    def describe(self) -> str:
        """One line for people: ``tao checkpoint, vitb, relative head, 239 tensors (97.5M parameters)``."""
        what = {
            "tao": "TAO (Lightning) checkpoint",
            "public": "Depth Anything V2 release (public layout)" if self.has_head else "DA-V2 backbone only",
            "dinov2": "bare DINOv2 backbone",
            "ddp": f"DDP-wrapped ({self.keys.prefix!r} on every key) {self.keys.inner} weights",
            "unknown": "unrecognised layout",
        }[self.layout]
        parts = [what, self.encoder or ("encoder ?" if self.layout != "unknown" else "")]
        if self.head:
            parts.append(f"{self.head} head")
        parts.append(f"{self.tensors} tensors ({_millions(self.parameters)} parameters)")
        return ", ".join(p for p in parts if p)


def _millions(n: int) -> str:
    return f"{n / 1e9:.2f}B" if n >= 1e9 else f"{n / 1e6:.1f}M"


def _open_regular(path: str) -> tuple[io.BufferedReader, int]:
    """Open for reading only when ``stat`` says it is a regular file: a FIFO, a device or a folder is named, never
    opened (opening a FIFO blocks until a writer comes); a symlink loop is named too."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise CheckpointError(f"{path}: a symlink loop; point it at a real file") from None
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a folder" if stat.S_ISDIR(st.st_mode)
            else "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode)
            else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
            else "a socket" if stat.S_ISSOCK(st.st_mode)
            else "not a regular file"
        )  # fmt: skip
        raise CheckpointError(f"{path}: is {kind}, not a checkpoint file; give the .pth file itself")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise CheckpointError(
            f"{path}: cannot be opened ({exc.strerror or exc}); check its permissions"
        ) from None
    handle = os.fdopen(fd, "rb")
    after = os.fstat(handle.fileno())
    if not stat.S_ISREG(after.st_mode):  # replaced between stat and open
        handle.close()
        raise CheckpointError(f"{path}: changed into something other than a regular file while being opened")
    return handle, after.st_size


def inspect_checkpoint(
    path: str | os.PathLike[str], *, max_pickle_bytes: int = MAX_PICKLE_BYTES
) -> CheckpointInfo:
    """Read the keys, shapes and dtypes of a ``torch.save`` file (zip or legacy) or a ``.safetensors`` file and
    classify them. Raises :class:`CheckpointError` (one line) for anything that is not a readable checkpoint."""
    where = os.fspath(path)
    handle, size = _open_regular(where)
    with handle:
        if size == 0:
            raise CheckpointError(f"{where}: is empty (0 bytes): the download or copy did not finish")
        head = handle.read(16)
        handle.seek(0)
        if head[:4] == b"PK\x03\x04" or head[:4] == b"PK\x05\x06":
            return _inspect_zip(handle, size, where, max_pickle_bytes)
        if head[:1] == b"\x80" and len(head) > 1 and head[1] <= 5:
            return _inspect_legacy(handle, size, where, max_pickle_bytes)
        if len(head) >= 9 and head[8:9] == b"{":
            return _inspect_safetensors(handle, size, where)
    raise CheckpointError(
        f"{where}: is neither a torch.save file (zip or legacy pickle) nor safetensors; "
        "give the .pth TAO or the release wrote"
    )


def _check_central_directory(handle: io.BufferedReader, size: int, where: str) -> None:
    """Refuse, before zipfile parses it, a central directory too big to be a checkpoint's (a zip built to exhaust
    memory); a zip cut short has no end record at all."""
    tail_len = min(size, 22 + 65535)
    handle.seek(size - tail_len)
    tail = handle.read(tail_len)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise CheckpointError(
            f"{where}: the zip has no directory at its end: the file is cut short (an unfinished download or "
            "copy); fetch or copy it again"
        )
    entries, cd_size = (
        struct.unpack("<H", tail[at + 10 : at + 12])[0],
        struct.unpack("<I", tail[at + 12 : at + 16])[0],
    )
    loc = tail.rfind(b"PK\x06\x07", 0, at)
    if (entries == 0xFFFF or cd_size == 0xFFFFFFFF) and loc >= 0:
        (eocd64,) = struct.unpack("<Q", tail[loc + 8 : loc + 16])
        if eocd64 + 56 <= size:
            handle.seek(eocd64)
            rec = handle.read(56)
            if rec[:4] == b"PK\x06\x06":
                entries, cd_size = struct.unpack("<QQ", rec[32:48])
    if entries > MAX_ZIP_ENTRIES or cd_size > MAX_ZIP_ENTRIES * 400:
        raise CheckpointError(
            f"{where}: its zip lists {entries} members: not a checkpoint (a torch.save file has one per tensor "
            "storage); refused"
        )
    handle.seek(0)


def _inspect_zip(handle: io.BufferedReader, size: int, where: str, limit: int) -> CheckpointInfo:
    _check_central_directory(handle, size, where)
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise CheckpointError(f"{where}: not a readable zip ({exc}); fetch or copy it again") from None
    with archive:
        infos = archive.infolist()
        pickles = [i for i in infos if i.filename.endswith("/data.pkl") and i.filename.count("/") == 1]
        if len(pickles) != 1:
            raise CheckpointError(
                f"{where}: a zip but not a torch.save archive (no <name>/data.pkl member); give the .pth file"
            )
        info = pickles[0]
        if info.file_size > limit:
            raise CheckpointError(
                f"{where}: its data.pkl says it unpacks to {info.file_size / 2**20:.0f} MB (a checkpoint's is "
                f"under {limit / 2**20:.0f} MB): a zip bomb or not a checkpoint; refused"
            )
        try:
            with archive.open(info) as member:
                data = member.read(limit + 1)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
            raise CheckpointError(
                f"{where}: its data.pkl cannot be read ({exc}); fetch or copy it again"
            ) from None
        if len(data) > limit:
            raise CheckpointError(
                f"{where}: its data.pkl unpacks to more than {limit / 2**20:.0f} MB although it says "
                f"{info.file_size} bytes: a zip bomb; refused"
            )
        obj, storages = _unpickle(data, where)
        prefix = info.filename.split("/", 1)[0]
        members = {i.filename: i.file_size for i in infos}
        for key, storage in storages.items():
            name = f"{prefix}/data/{key}"
            if name not in members:
                raise CheckpointError(
                    f"{where}: data.pkl refers to tensor data {name} that the archive lacks: the file is "
                    "incomplete or was rewritten badly; fetch or save it again"
                )
            if members[name] < storage.numel * _ITEMSIZE.get(storage.dtype, 1):
                raise CheckpointError(
                    f"{where}: the tensor data {name} is shorter than its tensor: the file is damaged; "
                    "fetch or save it again"
                )
    return _describe(obj, where, size, "torch-zip")


def _inspect_legacy(handle: io.BufferedReader, size: int, where: str, limit: int) -> CheckpointInfo:
    """A pre-1.6 ``torch.save`` (``_use_new_zipfile_serialization=False``): magic, protocol, sys info, then the
    object's pickle, then raw storages. Only the first ``limit`` bytes are read."""
    data = handle.read(limit)
    stream = io.BytesIO(data)
    try:
        magic = pickle.Unpickler(stream).load()  # plain ints: no globals involved
        if magic != LEGACY_MAGIC:
            raise CheckpointError(f"{where}: a pickle, but not a torch.save file; refused without running it")
        pickle.Unpickler(stream).load()  # protocol version
        _SysInfo(stream, where).load()  # sys info dict
        body = _Unpickler(stream.read(), where)
    except CheckpointError:
        raise
    except Exception as exc:
        raise CheckpointError(
            f"{where}: a legacy (non-zip) torch file that cannot be read ({exc.__class__.__name__}); re-save it "
            "with torch.save (PyTorch ≥ 1.6 writes the zip format TAO reads)"
        ) from None
    try:
        obj = body.load()
    except CheckpointError:
        raise
    except Exception as exc:
        raise CheckpointError(
            f"{where}: a legacy (non-zip) torch file whose pickle cannot be read ({exc.__class__.__name__}); "
            "re-save it with torch.save"
        ) from None
    return _describe(obj, where, size, "torch-legacy")


class _SysInfo(pickle.Unpickler):
    """The legacy header's sys-info dict holds only plain values: any global there is refused."""

    def __init__(self, stream: io.BytesIO, where: str) -> None:
        super().__init__(stream)
        self.where = where

    def find_class(self, module: str, name: str) -> Any:
        raise CheckpointError(f"{self.where}: its header names the global {module}.{name}; refused")


_SAFETENSORS_DTYPES = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64", "I32": "int32",
    "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2",
}  # fmt: skip


def _inspect_safetensors(handle: io.BufferedReader, size: int, where: str) -> CheckpointInfo:
    (length,) = struct.unpack("<Q", handle.read(8))
    if length > MAX_SAFETENSORS_HEADER:
        raise CheckpointError(f"{where}: its safetensors header says {length} bytes (over 100 MB): refused")
    if 8 + length > size:
        raise CheckpointError(
            f"{where}: the safetensors header runs past the end of the file: it is cut short"
        )
    try:
        header = json.loads(handle.read(length))
    except (ValueError, UnicodeDecodeError):
        raise CheckpointError(f"{where}: its safetensors header is not valid JSON; fetch it again") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{where}: its safetensors header is not an object")
    tensors: dict[str, TensorRecord] = {}
    data_len = size - 8 - length
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(entry, dict) or entry.get("dtype") not in _SAFETENSORS_DTYPES:
            raise CheckpointError(f"{where}: the safetensors entry {name!r} is malformed")
        offsets = entry.get("data_offsets")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise CheckpointError(f"{where}: the safetensors entry {name!r} has no valid data_offsets")
        if offsets[1] > data_len:
            raise CheckpointError(
                f"{where}: the data of {name!r} runs past the end of the file: it is cut short"
            )
        tensors[name] = TensorRecord(_shape(entry.get("shape")), _SAFETENSORS_DTYPES[entry["dtype"]])
    return _describe(tensors, where, size, "safetensors")


# --------------------------------------------------------------------------- description


def _tensor_dict(obj: Any) -> dict[str, TensorRecord] | None:
    if not isinstance(obj, dict) or not obj:
        return None
    tensors = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, TensorRecord)}
    return tensors if len(tensors) * 2 >= len(obj) and tensors else None


def _describe(obj: Any, where: str, size: int, fmt: Literal["torch-zip", "torch-legacy", "safetensors"]) -> CheckpointInfo:  # fmt: skip
    notes: list[str] = []
    lightning = obj.get("pytorch-lightning_version") if isinstance(obj, dict) else None
    weights: dict[str, TensorRecord] | None
    wrapped = None
    if lightning is not None:
        weights = _tensor_dict(obj.get("state_dict")) or {}
    else:
        weights = _tensor_dict(obj)
        if weights is None and isinstance(obj, dict):
            for key in ("state_dict", "model", "module", "net", "weights"):
                if (inner := _tensor_dict(obj.get(key))) is not None:
                    weights, wrapped = inner, key
                    break
        weights = weights or {}
    keys = classify_keys({k: v.shape for k, v in weights.items()})
    layout: Layout = keys.layout
    if lightning is not None:
        if keys.inner != "tao":
            layout = "ddp" if keys.layout == "ddp" else "unknown"
            if keys.layout != "ddp":
                notes.append(
                    "a Lightning checkpoint whose state_dict is not TAO depth_net's (model.pretrained.*)"
                )
    elif keys.inner == "tao":
        layout = "unknown"
        notes.append(
            "TAO's key names (model.*) without a Lightning checkpoint around them: TAO reads it as a public file "
            "and every key misses; strip the leading 'model.' to make it a public-layout file"
        )
    if wrapped is not None:
        layout = "unknown"
        notes.append(
            f"the weights sit under the key {wrapped!r} of a plain dict (no pytorch-lightning_version): TAO "
            f"expects them at the top; re-save obj[{wrapped!r}] with torch.save"
        )
    if not weights:
        notes.append("no tensors found: not a model checkpoint")
    if layout == "public" and keys.head == "metric":
        notes.append(
            "head keys named metric_depth_head.*: TAO renames depth_head → metric_depth_head itself, so these "
            "become metric_metric_depth_head; rename them to depth_head.*"
        )
    if keys.layout != "unknown" and keys.encoder is None:
        notes.append("the widths match no Depth Anything V2 encoder (vits/vitb/vitl/vitg)")
    version = lightning if isinstance(lightning, str) else None
    return CheckpointInfo(
        path=where,
        size=size,
        format=fmt,
        layout=layout,
        encoder=keys.encoder if layout != "unknown" else None,
        head=keys.head if keys.inner == "tao" and layout in ("tao", "ddp") else None,
        tensors=len(weights),
        parameters=sum(t.numel for t in weights.values()),
        keys=keys,
        dtypes=tuple(sorted({t.dtype for t in weights.values()})),
        lightning_version=version,
        epoch=_int(obj.get("epoch")) if lightning is not None else None,
        global_step=_int(obj.get("global_step")) if lightning is not None else None,
        wrapped_in=wrapped,
        notes=tuple(notes),
        first_keys=tuple(list(weights)[:5]) or tuple(str(k) for k in list(obj)[:5] if isinstance(obj, dict)),
        shapes={k: v.shape for k, v in weights.items()},
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# --------------------------------------------------------------------------- rewriting key names


_STRING_OPS = {"BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "UNICODE"}


def _op_str(s: str) -> bytes:
    raw = s.encode("utf-8")
    return b"X" + struct.pack("<I", len(raw)) + raw  # BINUNICODE: protocol 1+, read by every unpickler


def _rename_in_pickle(data: bytes, renames: Mapping[str, str]) -> bytes:
    """The same pickle with the string constants in ``renames`` replaced, opcode by opcode (nothing is unpickled:
    every other opcode is copied byte for byte; FRAME opcodes, which only batch reads, are dropped because the
    lengths change)."""
    import pickletools

    out = bytearray()
    ops = list(pickletools.genops(data))
    for i, (op, arg, pos) in enumerate(ops):
        end = ops[i + 1][2] if i + 1 < len(ops) else len(data)
        if op.name == "FRAME":
            continue
        if op.name in _STRING_OPS and isinstance(arg, str) and arg in renames:
            out += _op_str(renames[arg])
        else:
            out += data[pos:end]
    return bytes(out)


def _aligned_info(name: str, offset: int, size: int, alignment: int = 64) -> zipfile.ZipInfo:
    """A stored member whose data starts on a multiple of ``alignment`` (what torch.save writes, for mmap loads):
    the local header's extra field is padded."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    zip64 = 20 if size > zipfile.ZIP64_LIMIT else 0
    header = 30 + len(name.encode()) + zip64
    pad = (-(offset + header + 4)) % alignment
    info.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
    return info


def strip_ddp(src: str, dst: str) -> CheckpointInfo:
    """Write ``dst``: ``src`` with the DDP wrapper (``module.``) removed from every weight's key — only the names in
    ``data.pkl`` change, every tensor's bytes are copied as they are. Needs no torch; the result is inspected before
    it replaces anything (written to a temporary file beside ``dst`` first). Raises CheckpointError."""
    info = inspect_checkpoint(src)
    if info.layout != "ddp" or info.format != "torch-zip":
        raise CheckpointError(f"{src}: {info.describe()}: no DDP wrapper to strip")
    prefix = info.keys.prefix
    renames = {k: k[len(prefix) :] for k in info.shapes if k.startswith(prefix)}

    def still_ddp(tmp: str) -> None:
        result = inspect_checkpoint(tmp)
        if result.layout == "ddp" or result.tensors != info.tensors:
            raise CheckpointError(f"{src}: the rewritten file still does not load: {result.describe()}")

    # written beside dst, inspected, then renamed over it (never through a link at dst)
    with zipfile.ZipFile(src) as zin, atomic_writer(dst, overwrite=True, check=still_ddp) as raw:
        with zipfile.ZipFile(raw, "w") as zout:
            for member in zin.infolist():
                if member.is_dir():
                    continue
                if member.filename.endswith("/data.pkl") and member.filename.count("/") == 1:
                    data = _rename_in_pickle(zin.read(member), renames)
                    zout.writestr(_aligned_info(member.filename, raw.tell(), len(data)), data)
                    continue
                target = _aligned_info(member.filename, raw.tell(), member.file_size)
                with (
                    zin.open(member) as fin,
                    zout.open(target, "w", force_zip64=member.file_size > zipfile.ZIP64_LIMIT) as fout,
                ):
                    while chunk := fin.read(8 * 2**20):
                        fout.write(chunk)
    return inspect_checkpoint(dst)
