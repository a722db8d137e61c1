"""Test helpers that write depth files of every encoding (look-alikes of the real data's dtype/range/size)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np

from specgen.data.sample_data import (
    SCENES,
    depth_mm,
    make_sample_dataset,
    refuse_nonempty,
    rgb_image,
    save_png16,
    save_rgb,
)

__all__ = [
    "annotation",
    "depth_metres",
    "depth_mm",
    "nyu_like_dataset",
    "png16",
    "rgb",
    "sample_dataset",
    "write_pfm",
]


def rgb(path: Path, h: int = 480, w: int = 640, seed: int = 0) -> Path:
    return save_rgb(path, rgb_image(h, w, seed))


def png16(path: Path, arr: np.ndarray) -> Path:
    return save_png16(path, arr)


def write_pfm(path: Path, arr: np.ndarray, *, little: bool = True) -> Path:
    """PFM stores rows bottom-up; ``arr`` is top-down."""
    path.parent.mkdir(parents=True, exist_ok=True)
    color = arr.ndim == 3
    h, w = arr.shape[:2]
    data = np.flipud(arr).astype("<f4" if little else ">f4")
    with open(path, "wb") as f:
        f.write(b"PF\n" if color else b"Pf\n")
        f.write(f"{w} {h}\n".encode())
        f.write(b"-1.0\n" if little else b"1.0\n")
        f.write(data.tobytes())
    return path


def depth_metres(h=480, w=640, lo=0.5, hi=8.0, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(lo, hi, (h, w)).astype(np.float32)


def annotation(path: Path, pairs: list[tuple[Path, Path | None]]) -> Path:
    path.write_text("".join(f"{i} {d}\n" if d else f"{i}\n" for i, d in pairs))
    return path


def nyu_like_dataset(root: Path, scenes=("bathroom", "kitchen"), n=3, seed=0) -> Path:
    return sample_dataset(root, scenes=tuple(scenes), per_scene=n, seed=seed)


_SAMPLES: dict[tuple[tuple[str, ...], int, int], Path] = {}
_SAMPLES_LOCK = threading.Lock()
_SAMPLES_DIR: list[Path] = []  # the process's cache folder, once made


def sample_dataset(
    root: str | Path, scenes: tuple[str, ...] = SCENES, per_scene: int = 4, seed: int = 0
) -> Path:
    """``make_sample_dataset``'s files at ``root``: generated once per test process and copied from then on.

    Why: generating them (random pixels, then PNG and JPEG encoding) took a quarter of the suite's CPU in the
    workers, for the same bytes every time. The copy is byte for byte what the product writes (tested in
    test_sample_data), and a test may damage its copy freely: nothing is shared (no links). As the product does,
    it refuses a folder that is not empty."""
    root = Path(root)
    refuse_nonempty(root)
    key = (tuple(scenes), per_scene, seed)
    with _SAMPLES_LOCK:
        made = _SAMPLES.get(key)
        if made is None:
            if not _SAMPLES_DIR:
                _SAMPLES_DIR.append(Path(tempfile.mkdtemp(prefix="dn-samples-")))
                atexit.register(_remove_samples, os.getpid())
            # A folder of its own each time: a forked child (the hostile cases run some in one) fills the same
            # cache folder without the parent knowing.
            made = make_sample_dataset(
                Path(tempfile.mkdtemp(dir=_SAMPLES_DIR[0])) / "data", key[0], per_scene, seed
            )
            _SAMPLES[key] = made
    shutil.copytree(made, root, dirs_exist_ok=True)
    return root


def _remove_samples(owner: int) -> None:
    """At exit, by the process that made the cache only (a forked child that exits normally must not take it)."""
    if os.getpid() == owner and _SAMPLES_DIR:
        shutil.rmtree(_SAMPLES_DIR[0], ignore_errors=True)
