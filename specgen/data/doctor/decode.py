"""Decode ground truth exactly as each TAO mono dataset class does, and compute its valid mask."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from specgen.spec.catalog import lookup_dataset

NYU_CROP = (slice(45, 471), slice(41, 601))  # rows 45–470, cols 41–600
NYU_SHAPE = (480, 640)
METRIC_DEFAULT_RANGE = (0.001, 10.0)
RELATIVE_LIMIT = 1000.0


class UnsupportedExtension(ValueError):
    """TAO's class raises NotImplementedError for this extension."""


@dataclass
class Decoded:
    values: np.ndarray  # what the class trains on (metres or disparity), float32
    valid: np.ndarray  # bool mask as the class computes it (NYU crop applied)
    unit: str


def _png_raw(raw: np.ndarray) -> np.ndarray:
    """Generic PNG reading: raw pixel values as float, 0 → +inf."""
    if raw.ndim == 3:
        raw = raw[..., 0]
    vals = raw.astype(np.float32)
    vals[raw == 0] = np.inf
    return vals


def _fsd(raw: np.ndarray) -> np.ndarray:
    if raw.ndim != 3:
        raise UnsupportedExtension("FSD expects an 8-bit RGB-encoded PNG; this file has one channel")
    r, g, b = (raw[..., i].astype(np.float64) for i in range(3))
    mm = r * 255.0 * 255.0 + g * 255.0 + b
    vals = (mm / 1000.0).astype(np.float32)
    vals[mm == 0] = np.inf
    return vals


def _nyu_crop(valid: np.ndarray) -> np.ndarray:
    out = np.zeros_like(valid)
    out[NYU_CROP] = valid[NYU_CROP]
    return out


def decode(
    dataset_name: str,
    raw: np.ndarray,
    path: str,
    *,
    min_depth: float | None = None,
    max_depth: float | None = None,
) -> Decoded:
    """``raw`` is what the reader returned (PFM already top-down; flips do not change any statistic)."""
    ds = lookup_dataset(dataset_name)
    if ds is None:
        raise ValueError(f"unknown dataset class {dataset_name!r}")
    ext = Path(path).suffix
    if ext not in ds.depth_exts:
        raise UnsupportedExtension(
            f"{ds.name} reads {', '.join(ds.depth_exts)} ground truth, not {ext or '(no extension)'} "
            "(TAO raises NotImplementedError)"
        )
    name = ds.name
    lo, hi = METRIC_DEFAULT_RANGE
    if name == "MetricMonoDataset":
        vals = raw.astype(np.float32) if ext == ".pfm" else _png_raw(raw)
        lo = lo if min_depth is None else min_depth
        hi = hi if max_depth is None else max_depth
        return Decoded(vals, (vals > lo) & (vals < hi), "m")
    if name in ("NYUDV2", "NYUDV2Relative"):
        mm = raw[..., 0] if raw.ndim == 3 else raw
        vals = mm.astype(np.float32) / 1000.0
        if name == "NYUDV2":
            lo = lo if min_depth is None else min_depth
            hi = hi if max_depth is None else max_depth
        valid = (vals > lo) & (vals < hi)
        if valid.shape == NYU_SHAPE:
            valid = _nyu_crop(valid)
        if name == "NYUDV2Relative":
            with np.errstate(divide="ignore"):
                vals = np.where(valid, 1.0 / np.maximum(vals, 1e-12), 0.0).astype(np.float32)
            return Decoded(vals, valid, "disparity")
        return Decoded(vals, valid, "m")
    # Relative (disparity) classes: valid where value < 1000.
    if name == "ThreeDVLM":
        vals = raw.astype(np.float32) * 1000.0
        with np.errstate(divide="ignore"):
            vals = np.where(vals > 0, 1.0 / vals, np.inf).astype(np.float32)
    elif name == "FSD":
        vals = _fsd(raw)
    elif name == "Crestereo":
        vals = (raw[..., 0] if raw.ndim == 3 else raw).astype(np.float32) / 32.0
    elif ext == ".pfm":
        vals = raw.astype(np.float32) if raw.ndim == 2 else raw[..., 0].astype(np.float32)
    else:  # RelativeMonoDataset / Middlebury PNG
        vals = _png_raw(raw)
    return Decoded(vals, vals < RELATIVE_LIMIT, "disparity")


def nyu_crop_applies(dataset_name: str) -> bool:
    ds = lookup_dataset(dataset_name)
    return ds is not None and ds.name in ("NYUDV2", "NYUDV2Relative")
