"""Depth → colour for previews (pure numpy): a turbo-like map, near = warm, far = cool, invalid = black."""

from __future__ import annotations

import numpy as np

# Anchor colours of Google's Turbo map at 0, 1/8, … 1; interpolated to a 256-entry table.
_ANCHORS = np.array(
    [
        [48, 18, 59],
        [70, 107, 227],
        [40, 187, 236],
        [50, 241, 152],
        [164, 252, 60],
        [238, 207, 58],
        [251, 128, 34],
        [207, 52, 11],
        [122, 4, 3],
    ],
    dtype=np.float64,
)
_X = np.linspace(0.0, 1.0, len(_ANCHORS))
LUT = np.stack([np.interp(np.linspace(0, 1, 256), _X, _ANCHORS[:, c]) for c in range(3)], axis=-1).astype(
    np.uint8
)


def colorize(
    values: np.ndarray, valid: np.ndarray | None = None, *, lo: float | None = None, hi: float | None = None
) -> np.ndarray:
    """(H, W) float → (H, W, 3) uint8. Robust range from the 2nd/98th percentiles of valid pixels."""
    vals = values.astype(np.float64)
    ok = np.isfinite(vals) & (vals > 0)
    if valid is not None:
        ok &= valid
    out = np.zeros((*vals.shape, 3), dtype=np.uint8)
    if not ok.any():
        return out
    v = vals[ok]
    lo = float(np.percentile(v, 2)) if lo is None else lo
    hi = float(np.percentile(v, 98)) if hi is None else hi
    scale = max(hi - lo, 1e-9)
    idx = np.clip((vals - lo) / scale * 255, 0, 255)
    idx = np.where(ok, 255 - idx, 0).astype(np.uint8)  # near = warm (high index)
    out[ok] = LUT[idx[ok]]
    return out


def downsample(img: np.ndarray, width: int, height: int) -> np.ndarray:
    """Nearest-neighbour resize to (height, width) — enough for a terminal preview."""
    h, w = img.shape[:2]
    rows = (np.arange(height) * h // max(1, height)).clip(0, h - 1)
    cols = (np.arange(width) * w // max(1, width)).clip(0, w - 1)
    return img[rows][:, cols]
