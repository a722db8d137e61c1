"""Arrays for the data-check pictures: an RGB sample and its depth as the chosen class sees it, coloured."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from specgen.data.colormap import colorize
from specgen.data.doctor.decode import UnsupportedExtension, decode
from specgen.data.doctor.readers import UnreadableFile, read_depth_raw


@dataclass
class PreviewImages:
    rgb: np.ndarray
    depth_rgb: np.ndarray
    caption: str
    histogram: list[tuple[float, float, int]]  # (lo, hi, count) of valid values
    unit: str


def preview_images(
    image: str,
    depth: str,
    dataset_name: str,
    *,
    min_depth: float | None = None,
    max_depth: float | None = None,
    width: int = 160,
    bins: int = 12,
) -> PreviewImages:
    """Small arrays (``width`` pixels wide) for the terminal; raises UnreadableFile/UnsupportedExtension."""
    try:
        with Image.open(image) as im:
            im.draft("RGB", (width, width))
            rgb = im.convert("RGB")
            rgb.thumbnail((width, width))
            rgb_arr = np.asarray(rgb)
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnreadableFile(f"{image}: cannot be read ({exc})") from None
    raw = read_depth_raw(depth)
    dec = decode(dataset_name, raw, depth, min_depth=min_depth, max_depth=max_depth)
    coloured = Image.fromarray(colorize(dec.values, dec.valid))
    coloured.thumbnail((width, width), Image.Resampling.NEAREST)
    values = dec.values[dec.valid & np.isfinite(dec.values)]
    hist: list[tuple[float, float, int]] = []
    if values.size:
        counts, edges = np.histogram(values, bins=bins)
        hist = [(float(edges[i]), float(edges[i + 1]), int(c)) for i, c in enumerate(counts)]
    ratio = float(dec.valid.mean())
    caption = f"depth as {dataset_name} reads it ({dec.unit}); valid {ratio:.0%} — black = invalid"
    return PreviewImages(rgb_arr, np.asarray(coloured), caption, hist, dec.unit)


__all__ = ["PreviewImages", "UnreadableFile", "UnsupportedExtension", "preview_images"]
