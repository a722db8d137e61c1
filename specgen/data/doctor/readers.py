"""Read depth and RGB files the way TAO's frame utilities see them (Pillow + numpy, no OpenCV)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError


class UnreadableFile(ValueError):
    """A file that TAO could not read either; the message names the file and the reason."""


def read_pfm(path: str | Path) -> np.ndarray:
    """PFM (Pf grey / PF colour), either endianness; returned top-down (TAO flips bottom-up PFMs)."""
    p = Path(path)
    require_regular(p)
    with open(p, "rb") as f:
        header = f.readline(16).rstrip()
        if header not in (b"PF", b"Pf"):
            raise UnreadableFile(f"{p}: not a PFM file (header {header[:8]!r}, expected PF or Pf)")
        dims = f.readline(256)
        while dims.startswith(b"#"):
            dims = f.readline(256)
        m = re.match(rb"^\s*(\d+)\s+(\d+)\s*$", dims)
        if not m:
            raise UnreadableFile(f"{p}: malformed PFM size line {dims[:20]!r}")
        width, height = int(m.group(1)), int(m.group(2))
        if Image.MAX_IMAGE_PIXELS is not None and width * height > Image.MAX_IMAGE_PIXELS:
            raise UnreadableFile(
                f"{p}: declares {width}×{height} values; a decompression bomb, not a depth map"
            )
        try:
            scale = float(f.readline(64).strip())
        except ValueError:
            raise UnreadableFile(f"{p}: malformed PFM scale line") from None
        channels = 3 if header == b"PF" else 1
        dtype = "<f4" if scale < 0 else ">f4"
        count = width * height * channels
        data = np.fromfile(f, dtype=dtype, count=count)
    if data.size != count:
        raise UnreadableFile(f"{p}: truncated PFM ({data.size} of {count} values)")
    shape = (height, width, 3) if channels == 3 else (height, width)
    return np.flipud(data.reshape(shape)).astype(np.float32)


def _npy_header(path: str | Path) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """The shape and dtype a .npy file declares, read from its header alone; refused when the data is not numbers
    (strings, records, objects: TAO's ``np.load`` then ``torch.from_numpy`` fails on them) or when the header
    promises more bytes than the file holds (a header can declare 298 GiB: loading would allocate it first)."""
    from numpy.lib import format as npformat

    with open(path, "rb") as f:
        try:
            version = npformat.read_magic(f)
            if version == (1, 0):
                shape, _fortran, dtype = npformat.read_array_header_1_0(f)
            else:
                shape, _fortran, dtype = npformat.read_array_header_2_0(f)
        except (ValueError, OSError, EOFError, SyntaxError) as exc:
            raise UnreadableFile(f"{path}: not a readable .npy array ({exc})") from None
        data_bytes = os.fstat(f.fileno()).st_size - f.tell()
    if dtype.kind not in "fiu":
        raise UnreadableFile(f"{path}: holds {dtype} values, not numbers; a depth array is float or integer")
    declared = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if declared > data_bytes:
        raise UnreadableFile(
            f"{path}: its header declares shape {shape} ({declared / 2**20:,.0f} MiB) but the file holds "
            f"{data_bytes / 2**20:,.1f} MiB: truncated or not a depth array"
        )
    return shape, dtype


def read_npy(path: str | Path) -> np.ndarray:
    require_regular(path)
    _npy_header(path)
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise UnreadableFile(f"{path}: not a readable .npy array ({exc})") from None
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 2:
        raise UnreadableFile(f"{path}: expected a 2-D depth array, got shape {arr.shape}")
    return arr


def require_regular(path: str | Path) -> None:
    """Refuse FIFOs, sockets and devices before opening them (opening a FIFO waits forever for a writer)."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise UnreadableFile(f"{path}: file does not exist") from None
    except OSError as exc:
        raise UnreadableFile(f"{path}: cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        raise UnreadableFile(
            f"{path}: not a regular file (a folder, FIFO, socket or device); TAO cannot read it"
        )


@contextmanager
def _pillow_errors(path: str | Path) -> Iterator[None]:
    """Pillow's many failure types, as one UnreadableFile naming the file and what is wrong with it."""
    require_regular(path)
    try:
        yield
    except Image.DecompressionBombError as exc:
        raise UnreadableFile(
            f"{path}: declares an enormous image ({exc}); a decompression bomb, not a photo"
        ) from None
    except FileNotFoundError:
        raise UnreadableFile(f"{path}: file does not exist") from None
    except UnidentifiedImageError:
        raise UnreadableFile(
            f"{path}: not an image Pillow can identify (corrupt or wrong extension)"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnreadableFile(f"{path}: corrupt or truncated image ({exc})") from None


def read_image_array(path: str | Path) -> np.ndarray:
    """PNG/PGM etc. as stored: uint16 for 16-bit, uint8 (H, W) or (H, W, 3) for 8-bit."""
    with _pillow_errors(path), Image.open(path) as im:
        im.load()
        if im.mode in ("I;16", "I;16B", "I;16L"):
            return np.asarray(im, dtype=np.uint16)
        if im.mode == "I":
            arr = np.asarray(im)
            return arr.astype(np.uint16) if arr.min() >= 0 and arr.max() < 65536 else arr.astype(np.int64)
        if im.mode in ("L", "P"):
            return np.asarray(im.convert("L"))
        if im.mode == "F":
            return np.asarray(im, dtype=np.float32)
        return np.asarray(im.convert("RGB"))


def read_depth_raw(path: str | Path) -> np.ndarray:
    """The depth file's stored values, by extension (.png/.pfm/.npy; other image types for inspection)."""
    suffix = Path(path).suffix
    if suffix == ".pfm":
        try:
            return read_pfm(path)
        except FileNotFoundError:
            raise UnreadableFile(f"{path}: file does not exist") from None
    if suffix == ".npy":
        if not Path(path).exists():
            raise UnreadableFile(f"{path}: file does not exist")
        return read_npy(path)
    return read_image_array(path)


def rgb_size(path: str | Path) -> tuple[int, int]:
    """(height, width) of an RGB image, fully decoded at 1/8 scale: catches truncation, costs little."""
    with _pillow_errors(path), Image.open(path) as im:
        width, height = im.size
        if im.format == "JPEG":
            im.draft("RGB", (max(1, width // 8), max(1, height // 8)))
        im.load()
        return height, width
