"""Generate a small NYU-like dataset so a newcomer can walk the whole flow (and tests have real files).

Layout: ``<root>/<scene>/rgb_XXXXX.jpg`` + ``sync_depth_XXXXX.png`` (uint16 millimetres, 640×480), the
raw-NYU encoding that shows the generic-class NaN trap.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from specgen.spec.atomicio import atomic_writer

SCENES = ("bathroom", "kitchen", "living_room")


def rgb_image(h: int = 480, w: int = 640, seed: int = 0) -> np.ndarray:
    """A photo-like RGB array: smooth gradients plus a little noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / w, y * 255 / h, (x + y + seed * 7) % 256], axis=-1)
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)


def depth_mm(
    h: int = 480, w: int = 640, lo: int = 500, hi: int = 10000, zeros: float = 0.1, seed: int = 0
) -> np.ndarray:
    """uint16 millimetres: a smooth scene (near at the bottom, far at the top), sensor noise, 8×8 holes (0)."""
    rng = np.random.default_rng(seed)
    rows = np.linspace(hi, lo, h)[:, None]
    cols = 1.0 + 0.05 * np.sin(np.linspace(0, 3 * np.pi, w) + seed)[None, :]
    arr = np.clip(rows * cols + rng.normal(0, 5, (h, w)), lo, hi - 1).astype(np.uint16)
    holes = rng.random((h // 8, w // 8)) < zeros
    arr[np.kron(holes, np.ones((8, 8), dtype=bool))] = 0
    return arr


def save_rgb(path: Path, arr: np.ndarray) -> Path:
    with atomic_writer(path, overwrite=True) as f:
        if path.suffix in (".jpg", ".jpeg"):
            Image.fromarray(arr).save(f, format="JPEG", quality=90)
        else:
            Image.fromarray(arr).save(f, format="PNG", compress_level=1)
    return path


def save_png16(path: Path, arr: np.ndarray) -> Path:
    with atomic_writer(path, overwrite=True) as f:
        Image.fromarray(arr.astype(np.uint16)).save(f, format="PNG", compress_level=1)
    return path


def refuse_nonempty(root: Path) -> None:
    """The sample data never lands among a person's files: a folder that exists and holds anything is refused."""
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty; choose a new folder for the sample data")


def make_sample_dataset(
    root: str | Path,
    scenes: tuple[str, ...] = SCENES,
    per_scene: int = 4,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write the dataset under ``root`` (created; refuses a non-empty folder so nothing is overwritten).
    ``progress(pairs done, pairs in all)`` after each pair, for a progress bar."""
    root = Path(root)
    refuse_nonempty(root)
    k = seed
    total = len(scenes) * per_scene
    for scene in scenes:
        for i in range(per_scene):
            save_rgb(root / scene / f"rgb_{i:05d}.jpg", rgb_image(seed=k))
            save_png16(root / scene / f"sync_depth_{i:05d}.png", depth_mm(seed=k))
            k += 1
            if progress is not None:
                progress(k - seed, total)
    return root


def default_sample_folder() -> Path:
    """A new folder under the user's data dir (XDG): never the current folder, never one in use."""
    from specgen.spec.locations import data_dir

    base = data_dir() / "sample"
    candidate, n = base, 1
    while candidate.exists() and any(candidate.iterdir()):
        n += 1
        candidate = base.with_name(f"sample-{n}")
    return candidate
