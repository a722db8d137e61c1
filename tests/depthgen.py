"""Generate depth files of every encoding TAO users meet (look-alikes of the real data's dtype/range/size)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def rgb(path: Path, h: int = 480, w: int = 640, seed: int = 0) -> Path:
    """A photo-like RGB image (smooth gradients plus a little noise)."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / w, y * 255 / h, (x + y + seed * 7) % 256], axis=-1)
    img = np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)
    Image.fromarray(img).save(path, quality=90) if path.suffix in (".jpg", ".jpeg") else Image.fromarray(img).save(path)
    return path


def png16(path: Path, arr: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr.astype(np.uint16)).save(path)
    return path


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


def depth_mm(h=480, w=640, lo=500, hi=10000, zeros=0.1, seed=0) -> np.ndarray:
    """Raw NYU-like sync_depth: uint16 millimetres — a smooth scene (near at the bottom, far at the top),
    sensor noise, and holes (0) — so it compresses like real depth PNGs do."""
    rng = np.random.default_rng(seed)
    rows = np.linspace(hi, lo, h)[:, None]
    cols = 1.0 + 0.05 * np.sin(np.linspace(0, 3 * np.pi, w) + seed)[None, :]
    arr = np.clip(rows * cols + rng.normal(0, 5, (h, w)), lo, hi - 1).astype(np.uint16)
    holes = rng.random((h // 8, w // 8)) < zeros
    arr[np.kron(holes, np.ones((8, 8), dtype=bool))] = 0
    return arr


def depth_metres(h=480, w=640, lo=0.5, hi=8.0, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(lo, hi, (h, w)).astype(np.float32)


def annotation(path: Path, pairs: list[tuple[Path, Path | None]]) -> Path:
    path.write_text("".join(f"{i} {d}\n" if d else f"{i}\n" for i, d in pairs))
    return path


def nyu_like_dataset(root: Path, scenes=("bathroom", "kitchen"), n=3, seed=0) -> Path:
    """A small NYU-like tree: <scene>/rgb_XXXXX.jpg + sync_depth_XXXXX.png (uint16 mm)."""
    k = 0
    for s in scenes:
        for i in range(n):
            rgb(root / s / f"rgb_{i:05d}.jpg", seed=seed + k)
            png16(root / s / f"sync_depth_{i:05d}.png", depth_mm(seed=seed + k))
            k += 1
    return root
