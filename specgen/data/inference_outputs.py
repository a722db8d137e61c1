"""What ``depth_net inference`` wrote, and how to look at it.

TAO mirrors each input image's own path under ``<results>/inference_images/`` (the picture there is the input and
the predicted depth side by side). With ``inference.save_raw_pfm`` it also writes the raw prediction to a path made
by replacing ``png``/``jpg``/``jpeg`` *anywhere in the path* by ``pfm`` and ``inference_images`` by
``inference_pfm`` — so two inputs whose paths differ only there (``/d/png/a.png`` and ``/d/pfm/a.png``) share
one PFM and the second overwrites the first. We reproduce the naming to find the files, and flag the collision.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image
from pydantic import BaseModel

from specgen.data.colormap import colorize
from specgen.data.doctor.preview import PreviewImages
from specgen.data.doctor.readers import UnreadableFile, read_pfm

IMAGES, PFMS = "inference_images", "inference_pfm"
IMAGE_EXTS = (".png", ".jpg", ".jpeg")


def pfm_path_for(output_image: str) -> str:
    """TAO's raw-output name for an ``inference_images`` picture (whole-path substring replacement)."""
    path = output_image
    for token in ("png", "jpg", "jpeg"):
        path = path.replace(token, "pfm")
    return path.replace(IMAGES, PFMS)


def output_for(input_image: str, inference_dir: str) -> str:
    """Where TAO puts the picture for an input image: its absolute path mirrored under inference_images."""
    return os.path.join(inference_dir, IMAGES, os.path.abspath(input_image).lstrip("/"))


class InferenceOutput(BaseModel):
    output: str  # the side-by-side picture TAO wrote
    input: str  # the input image it mirrors
    pfm: str | None  # the raw prediction, when save_raw_pfm was on and the file is there

    @property
    def input_exists(self) -> bool:
        return os.path.isfile(self.input)


def list_outputs(inference_dir: str) -> list[InferenceOutput]:
    """Every picture under ``inference_images``, with its input and PFM, in path order."""
    root = Path(inference_dir) / IMAGES
    out: list[InferenceOutput] = []
    if not root.is_dir():
        return out
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if not name.lower().endswith(IMAGE_EXTS):
                continue
            picture = os.path.join(dirpath, name)
            pfm = pfm_path_for(picture)
            out.append(
                InferenceOutput(
                    output=picture,
                    input="/" + os.path.relpath(picture, root),
                    pfm=pfm if os.path.isfile(pfm) else None,
                )
            )
    return sorted(out, key=lambda o: o.output)


def pfm_collisions(inputs: list[str], inference_dir: str) -> dict[str, list[str]]:
    """PFM paths that more than one input would be written to (the later one silently wins)."""
    by_pfm: dict[str, list[str]] = defaultdict(list)
    for image in inputs:
        by_pfm[pfm_path_for(output_for(image, inference_dir))].append(image)
    return {pfm: names for pfm, names in by_pfm.items() if len(names) > 1}


def _thumb(
    image: Image.Image, width: int, resample: Image.Resampling = Image.Resampling.BILINEAR
) -> np.ndarray:
    image = image.convert("RGB")
    image.thumbnail((width, width), resample)
    return np.asarray(image)


def prediction_stats(values: np.ndarray) -> dict[str, float | None]:
    """min / median / max of the finite positive predicted values, and their share of all pixels."""
    v = values[np.isfinite(values) & (values > 0)]
    if not v.size:
        return {"min": None, "median": None, "max": None, "finite": 0.0}
    return {
        "min": float(v.min()),
        "median": float(np.median(v)),
        "max": float(v.max()),
        "finite": v.size / values.size,
    }


def preview(item: InferenceOutput, *, relative: bool = False, width: int = 160) -> PreviewImages:
    """Input RGB beside the predicted depth as a colour map. The RGB comes from the input when it is readable here
    (else the left half of TAO's picture), the depth from the PFM (else the right half of TAO's picture, already
    coloured by TAO). Raises UnreadableFile with the path when neither can be read."""
    try:
        with Image.open(item.output) as im:
            picture = im.convert("RGB")
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnreadableFile(f"{item.output}: cannot be read ({exc})") from None
    half = picture.width // 2
    rgb_image = picture.crop((0, 0, half, picture.height))
    if item.input_exists:
        try:
            with Image.open(item.input) as im:
                rgb_image = im.convert("RGB")
        except (OSError, SyntaxError, ValueError):
            pass  # TAO's own left half is the same picture
    rgb = _thumb(rgb_image, width)
    if item.pfm is None:
        depth = _thumb(picture.crop((half, 0, picture.width, picture.height)), width)
        return PreviewImages(
            rgb, depth, "predicted depth (TAO's picture; no PFM: set inference.save_raw_pfm)", [], ""
        )
    values = read_pfm(item.pfm).astype(np.float64)
    if values.ndim == 3:
        values = values[..., 0]
    ok = np.isfinite(values) & (values > 0)
    unit = "disparity (relative)" if relative else "m"
    shown = (
        np.where(ok, 1.0 / np.where(ok, values, 1.0), 0.0) if relative else values
    )  # near = warm either way
    coloured = Image.fromarray(colorize(shown, ok))
    depth = _thumb(coloured, width, Image.Resampling.NEAREST)
    hist: list[tuple[float, float, int]] = []
    caption = f"predicted {unit}: no finite positive value"
    stats = prediction_stats(values)
    low, median, high, finite = stats["min"], stats["median"], stats["max"], stats["finite"] or 0.0
    if low is not None and median is not None and high is not None:
        counts, edges = np.histogram(values[ok], bins=12)
        hist = [(float(edges[i]), float(edges[i + 1]), int(c)) for i, c in enumerate(counts)]
        caption = f"predicted {unit}: {low:.3g}–{high:.3g}, median {median:.3g}" + (
            f"; {1 - finite:.0%} not finite" if finite < 1 else ""
        )
    return PreviewImages(rgb, depth, caption, hist, unit)


__all__ = [
    "InferenceOutput",
    "UnreadableFile",
    "list_outputs",
    "output_for",
    "pfm_collisions",
    "pfm_path_for",
    "prediction_stats",
    "preview",
]


def image_list(folder: str) -> tuple[list[str], list[str]]:
    """Images under ``folder`` that TAO's inference reads (``.png``/``.jpg``/``.jpeg``, case-sensitive, no space in
    the path: lines are split on spaces), in path order; and one line per file skipped, with the reason."""
    images: list[str] = []
    skipped: list[str] = []
    for dirpath, dirs, files in os.walk(os.path.abspath(folder)):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            if name.endswith(IMAGE_EXTS):
                if " " in path:
                    skipped.append(f"{path}: a space in the path breaks TAO's annotation line; rename it")
                else:
                    images.append(path)
            elif name.lower().endswith(IMAGE_EXTS):
                skipped.append(f"{path}: TAO matches extensions case-sensitively; rename to lower case")
    return sorted(images), skipped
