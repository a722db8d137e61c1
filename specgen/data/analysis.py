"""Per-image error analysis of an inference run with ground truth, computed the way TAO 7.3.0's mono evaluator does.

TAO's ``evaluate`` reports four numbers pooled over every valid pixel of the run and writes nothing per image; its
``inference`` with ``save_raw_pfm`` writes each prediction at the input's size, from the same transforms and the
same post-processing (``PostProcess``: un-pad, bilinear back to the original size) as evaluate's test step. So an
inference run whose annotation lines carry ground truth gives, per image, exactly the predictions evaluate scored.

What TAO does (``nvidia_tao_pytorch/cv/depth_net/evaluation/mono_evaluator.py``, ``MonoDepthEvaluator.update``):
- valid pixels: the dataset class's own mask (``specgen.data.doctor.decode``: range, the NYU box for NYUDV2*);
- relative models (``align_gt``: the model type contains "relative"): per image, scale and shift fitted by least
  squares (``align_depth_least_square``: ``lstsq([pred, 1], gt)`` on the valid pixels), then prediction and ground
  truth clipped to ≥ 1e-8 — in the class's ground-truth space (disparity for the relative classes);
- metric models: prediction and ground truth clipped to ``[dataset.min_depth, dataset.max_depth]``;
- ``abs_rel`` = mean |p − g| / g, ``d1..d3`` = share with max(g/p, p/g) < 1.25, 1.25², 1.25³ (``_abs_rel_update``,
  ``_delta_log_update``); pooled over all valid pixels of the run, not averaged per image.
TAO declares a ``sum_rmse`` state but never fills it; RMSE here is √mean (p − g)² over the same pixels and values
(metres for metric models, the ground truth's disparity units after alignment for relative ones).

Error by depth range: the valid pixels of the whole run in three bins of equal pixel count (terciles of the ground
truth, "near" being small depth or large disparity), so each bin is judged on a third of the evidence and the bins
follow the data's own range (fixed metre edges would leave a bin empty on a table-top set). To read each file once,
the terciles come from a 4096-bin log-spaced histogram of the ground truth (edges within 0.7 %).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from specgen.data.doctor.decode import (
    METRIC_DEFAULT_RANGE,
    NYU_CROP,
    Decoded,
    UnsupportedExtension,
    decode,
    nyu_crop_applies,
)
from specgen.data.doctor.readers import UnreadableFile, read_depth_raw, read_pfm
from specgen.data.doctor.report import read_annotation
from specgen.data.inference_outputs import output_for, pfm_collisions, pfm_path_for

METRICS = ("abs_rel", "rmse", "d1")
#: Which way is worse, for sorting "worst first".
WORSE_IS_HIGHER = {"abs_rel": True, "rmse": True, "d1": False}
CLIP_RELATIVE = 1e-8  # TAO: "avoid 0 disparity"
_FINE_BINS = 4096
_LOG_RANGE_RELATIVE = (
    -8.0,
    4.0,
)  # log10 of the clipped ground truth: disparity ≥ 1e-8, relative classes < 1000


@dataclass(frozen=True)
class Sample:
    """One annotation line with ground truth, and where TAO put its raw prediction."""

    image: str
    gt: str
    pfm: str
    dataset_name: str


@dataclass(frozen=True)
class Setup:
    """What decides the numbers besides the files: the model family and the spec's depth range."""

    relative: bool
    min_depth: float | None = None  # dataset.min_depth (the class gets it only when both are set, as in TAO)
    max_depth: float | None = None

    @property
    def clip_range(self) -> tuple[float, float]:
        """The metric evaluator's clip (TAO takes dataset.min/max_depth; null there crashes it: we use the
        class defaults)."""
        lo, hi = METRIC_DEFAULT_RANGE
        return (
            lo if self.min_depth is None else self.min_depth,
            hi if self.max_depth is None else self.max_depth,
        )

    @property
    def class_range(self) -> tuple[float | None, float | None]:
        if self.min_depth is None or self.max_depth is None:
            return None, None
        return self.min_depth, self.max_depth


@dataclass
class ImageError:
    image: str
    gt: str
    pfm: str
    pixels: int = 0
    abs_rel: float = math.nan
    rmse: float = math.nan
    d1: float = math.nan
    problem: str | None = None  # one line naming the file, when this image could not be scored


@dataclass
class RangeBin:
    name: str  # near / mid / far
    lo: float  # ground-truth edges, in ``unit``
    hi: float
    unit: str
    pixels: int
    abs_rel: float
    rmse: float
    d1: float


@dataclass
class Analysis:
    images: list[ImageError]
    bins: list[RangeBin]
    pooled: dict[str, float]  # TAO's pooling over every valid pixel: abs_rel, d1, d2, d3 (+ rmse)
    unit: str  # of the ground truth and the errors: m or disparity
    notes: list[str] = field(default_factory=list)

    @property
    def scored(self) -> list[ImageError]:
        return [i for i in self.images if i.problem is None]

    @property
    def problems(self) -> list[str]:
        return [i.problem for i in self.images if i.problem]

    def worst(self, k: int | None = None, by: str = "abs_rel") -> list[ImageError]:
        """Scored images, worst first by ``by``; an image whose value is NaN (a NaN prediction) is the worst."""
        ranked = sorted(self.scored, key=lambda i: sort_key(i, by))
        return ranked if k is None else ranked[:k]

    def to_json(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "pooled": self.pooled,
            "bins": [asdict(b) for b in self.bins],
            "images": [asdict(i) for i in self.images],
            "notes": self.notes,
        }


def sort_key(item: ImageError, by: str) -> tuple[int, float]:
    """Worst first by ``by``; NaN before any number; an image that could not be scored last."""
    if item.problem is not None:
        return (2, 0.0)
    value = getattr(item, by)
    if math.isnan(value):
        return (0, 0.0)
    return (1, -value if WORSE_IS_HIGHER[by] else value)


# ---------------------------------------------------------------------------------------------- what to score


def setup_from_spec(spec: dict[str, Any]) -> Setup:
    """TAO's rule: the evaluator aligns when the model type contains "relative" (``_build_model_criterion``), and
    clips metric predictions to ``dataset.min_depth/max_depth``."""
    dataset = spec.get("dataset") or {}
    model_type = str((spec.get("model") or {}).get("model_type") or "MetricDepthAnything")

    def number(key: str) -> float | None:
        value = dataset.get(key)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    return Setup("relative" in model_type.lower(), number("min_depth"), number("max_depth"))


def describe(setup: Setup) -> str:
    """How the numbers were made, in one phrase."""
    if setup.relative:
        return "relative model: scale and shift fitted per image by least squares, then clipped to ≥ 1e-8"
    lo, hi = setup.clip_range
    return f"metric model: prediction and ground truth clipped to {lo:g}–{hi:g} m"


def samples_from_spec(spec: dict[str, Any], inference_dir: str) -> tuple[list[Sample], list[str]]:
    """The lines of an inference spec's ``dataset.infer_dataset.data_sources`` that carry ground truth, each with
    the PFM TAO wrote for it; and notes (lines without ground truth, annotation files that cannot be read, inputs
    sharing one PFM). Raises nothing: the notes say what is missing."""
    sources = ((spec.get("dataset") or {}).get("infer_dataset") or {}).get("data_sources") or []
    samples: list[Sample] = []
    notes: list[str] = []
    images: list[str] = []
    for source in sources:
        data_file, name = source.get("data_file"), source.get("dataset_name")
        if not data_file or not name:
            continue
        try:
            rows = read_annotation(str(data_file))
        except OSError as exc:
            notes.append(str(exc))
            continue
        without = 0
        for image, gt in rows:
            images.append(image)
            if gt is None:
                without += 1
                continue
            samples.append(Sample(image, gt, pfm_path_for(output_for(image, inference_dir)), str(name)))
        if without:
            notes.append(
                f"{data_file}: {without} of {len(rows)} lines name no ground truth (image only); skipped"
            )
    for pfm, names in pfm_collisions(images, inference_dir).items():
        notes.append(f"{pfm} holds the prediction of {names[-1]} only: TAO wrote {len(names)} inputs to it")
    return samples, notes


# ---------------------------------------------------------------------------------------------- the numbers


@dataclass
class Scored:
    """One image's valid pixels after TAO's alignment and clipping (flat arrays), with its decoded ground truth."""

    pred: np.ndarray
    gt: np.ndarray
    decoded: Decoded
    aligned: np.ndarray  # the prediction as scored, full size (NaN outside the valid mask)


def tao_valid_mask(dataset_name: str, decoded: Decoded) -> np.ndarray:
    """The class's valid mask as TAO's evaluate/inference sees it. The ground truth keeps its original size there,
    and NYUDV2/NYUDV2Relative apply their box (rows 45–470, cols 41–600) to whatever size it has; the doctor's mask
    applies the box only to 640×480 maps (its other sizes concern training crops), so for another size the box is
    applied here."""
    valid = decoded.valid & np.isfinite(decoded.values)
    if nyu_crop_applies(dataset_name):
        box = np.zeros_like(valid)
        box[NYU_CROP] = True
        valid &= box
    return valid


def read_prediction(path: str) -> np.ndarray:
    """The raw PFM TAO wrote (one channel), top-down. Raises UnreadableFile naming the file."""
    pred = read_pfm(path)
    return pred[..., 0] if pred.ndim == 3 else pred


def score_image(sample: Sample, setup: Setup) -> Scored:
    """Align and clip one image's prediction as TAO's evaluator does. Raises UnreadableFile / UnsupportedExtension /
    ValueError, each one line naming the file."""
    pred = read_prediction(sample.pfm).astype(np.float64)
    lo, hi = setup.class_range
    decoded = decode(sample.dataset_name, read_depth_raw(sample.gt), sample.gt, min_depth=lo, max_depth=hi)
    if decoded.values.shape[:2] != pred.shape:
        raise ValueError(
            f"{sample.pfm}: prediction {pred.shape[1]}×{pred.shape[0]} but ground truth {sample.gt} is "
            f"{decoded.values.shape[1]}×{decoded.values.shape[0]}: TAO compares them pixel by pixel"
        )
    valid = tao_valid_mask(sample.dataset_name, decoded)
    p = pred[valid]
    g = decoded.values[valid].astype(np.float64)
    if setup.relative:
        if p.size:
            a = np.stack([p, np.ones_like(p)], axis=1)
            (scale, shift), *_ = np.linalg.lstsq(a, g, rcond=None)
            p = p * scale + shift
        p = np.maximum(p, CLIP_RELATIVE)
        g = np.maximum(g, CLIP_RELATIVE)
    else:
        c_lo, c_hi = setup.clip_range
        p = np.clip(p, c_lo, c_hi)
        g = np.clip(g, c_lo, c_hi)
    aligned = np.full(pred.shape, np.nan)
    aligned[valid] = p
    return Scored(p, g, decoded, aligned)


def _errors(p: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(p - g) / g
        sq = (p - g) ** 2
        ratio = np.maximum(g / p, p / g)
    return rel, sq, ratio


def analyse(
    samples: Sequence[Sample],
    setup: Setup,
    *,
    progress: Callable[[int, int], None] | None = None,
    notes: Sequence[str] = (),
) -> Analysis:
    """Score every sample, one file at a time (memory stays one image), calling ``progress(done, total)`` after
    each; an unreadable or mismatched file becomes that image's one-line ``problem``, never an exception."""
    images: list[ImageError] = []
    fine = _FineHistogram(setup)
    sums = np.zeros(6)  # abs_rel, sq, d1, d2, d3, pixels
    unit = "disparity" if setup.relative else "m"
    for n, sample in enumerate(samples, 1):
        item = ImageError(sample.image, sample.gt, sample.pfm)
        try:
            scored = score_image(sample, setup)
        except (UnreadableFile, UnsupportedExtension, ValueError, OSError) as exc:
            item.problem = _one_line(exc, sample)
        else:
            unit = scored.decoded.unit
            rel, sq, ratio = _errors(scored.pred, scored.gt)
            item.pixels = int(rel.size)
            if rel.size:
                item.abs_rel = float(rel.mean())
                item.rmse = float(math.sqrt(sq.mean()))
                item.d1 = float((ratio < 1.25).mean())
                sums += (
                    rel.sum(),
                    sq.sum(),
                    (ratio < 1.25).sum(),
                    (ratio < 1.25**2).sum(),
                    (ratio < 1.25**3).sum(),
                    rel.size,
                )
                fine.add(scored.gt, rel, sq, ratio < 1.25)
            else:
                item.problem = (
                    f"{sample.gt}: no valid ground-truth pixel for {sample.dataset_name}; nothing to score"
                )
        images.append(item)
        if progress is not None:
            progress(n, len(samples))
    total = sums[5]
    pooled = (
        {
            "abs_rel": float(sums[0] / total),
            "d1": float(sums[2] / total),
            "d2": float(sums[3] / total),
            "d3": float(sums[4] / total),
            "rmse": float(math.sqrt(sums[1] / total)),
            "pixels": int(total),
        }
        if total
        else {}
    )
    return Analysis(images, fine.terciles(unit), pooled, unit, list(notes))


def _one_line(exc: BaseException, sample: Sample) -> str:
    text = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
    if sample.pfm in text or sample.gt in text:
        return text
    return f"{sample.gt}: {text}"


class _FineHistogram:
    """Sums of the pixel errors per fine log-spaced bin of the ground truth, merged into terciles at the end."""

    def __init__(self, setup: Setup) -> None:
        if setup.relative:
            lo, hi = _LOG_RANGE_RELATIVE
        else:
            c_lo, c_hi = setup.clip_range
            lo, hi = math.log10(c_lo), math.log10(c_hi)
        self.log_edges = np.linspace(lo, hi, _FINE_BINS + 1)
        self.sums = np.zeros((4, _FINE_BINS))  # pixels, abs_rel, sq, d1
        self.lowest, self.highest = (
            math.inf,
            -math.inf,
        )  # the outer edges shown are the data's, not the range's

    def add(self, gt: np.ndarray, rel: np.ndarray, sq: np.ndarray, d1: np.ndarray) -> None:
        self.lowest, self.highest = min(self.lowest, float(gt.min())), max(self.highest, float(gt.max()))
        lo, hi = self.log_edges[0], self.log_edges[-1]  # evenly spaced: the bin is arithmetic, no search
        idx = np.clip(((np.log10(gt) - lo) * (_FINE_BINS / (hi - lo))).astype(np.intp), 0, _FINE_BINS - 1)
        self.sums[0] += np.bincount(idx, minlength=_FINE_BINS)
        for row, weights in ((1, rel), (2, sq), (3, d1)):
            self.sums[row] += np.bincount(idx, weights=weights.astype(np.float64), minlength=_FINE_BINS)

    def terciles(self, unit: str) -> list[RangeBin]:
        counts = self.sums[0]
        total = counts.sum()
        if not total:
            return []
        cum = np.cumsum(counts)
        cuts = [0, int(np.searchsorted(cum, total / 3)) + 1, int(np.searchsorted(cum, 2 * total / 3)) + 1]
        cuts = sorted({min(c, _FINE_BINS) for c in cuts}) + [_FINE_BINS]
        spans = [(a, b) for a, b in pairwise(cuts) if counts[a:b].sum()]
        edges = 10.0**self.log_edges
        edges[spans[0][0]], edges[spans[-1][1]] = self.lowest, self.highest
        if unit == "disparity":  # large disparity = near: list near first all the same
            spans = spans[::-1]
        names = (
            ("near", "mid", "far") if len(spans) == 3 else ("near", "far") if len(spans) == 2 else ("all",)
        )
        out = []
        for name, (a, b) in zip(names, spans, strict=True):
            n, rel, sq, d1 = self.sums[:, a:b].sum(axis=1)
            out.append(
                RangeBin(
                    name=name,
                    lo=float(edges[a]),
                    hi=float(edges[b]),
                    unit=unit,
                    pixels=int(n),
                    abs_rel=float(rel / n),
                    rmse=float(math.sqrt(sq / n)),
                    d1=float(d1 / n),
                )
            )
        return out


# ---------------------------------------------------------------------------------------------- pictures


@dataclass
class Panels:
    """Four pictures of one image for the results browser: RGB | ground truth | prediction (as scored) | |error|."""

    rgb: np.ndarray
    gt: np.ndarray
    pred: np.ndarray
    error: np.ndarray
    scales: str  # what the colours span: ground truth and prediction share a scale, the error has its own


def panels(sample: Sample, setup: Setup, *, width: int = 160) -> Panels:
    """Small coloured arrays (``width`` pixels wide): ground truth and prediction on one colour scale (near =
    warm), the absolute error from black (none) to red (the image's 98th percentile). Raises like score_image."""
    from PIL import Image

    from specgen.data.colormap import LUT, colorize

    scored = score_image(sample, setup)
    valid = np.isfinite(scored.aligned)
    gt = scored.decoded.values.astype(np.float64)
    disparity = scored.decoded.unit == "disparity"

    def shown(values: np.ndarray) -> np.ndarray:  # colorize puts small values warm: show depth, not disparity
        safe = np.where(valid, values, 1.0)
        return np.where(valid, 1.0 / safe if disparity else safe, 0.0)

    shown_gt, shown_pred = shown(gt), shown(scored.aligned)
    both = np.concatenate([shown_gt[valid], shown_pred[valid]])
    lo, hi = (float(np.percentile(both, 2)), float(np.percentile(both, 98))) if both.size else (None, None)
    err = np.where(valid, np.abs(scored.aligned - np.where(valid, gt, 0.0)), 0.0)
    top = float(np.percentile(err[valid], 98)) if valid.any() else 0.0
    err_rgb = np.zeros((*err.shape, 3), np.uint8)
    if top > 0:
        idx = (np.clip(err / top, 0.0, 1.0) * 255).astype(np.uint8)
        err_rgb[valid] = LUT[idx[valid]]
    try:
        with Image.open(sample.image) as im:
            im.draft("RGB", (width, width))
            rgb = im.convert("RGB")
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnreadableFile(f"{sample.image}: cannot be read ({exc})") from None

    def small(arr: np.ndarray | Image.Image, resample: Image.Resampling) -> np.ndarray:
        image = arr if isinstance(arr, Image.Image) else Image.fromarray(arr)
        image.thumbnail((width, width), resample)
        return np.asarray(image)

    nearest = Image.Resampling.NEAREST
    unit = scored.decoded.unit
    scale = (
        f"{np.percentile(gt[valid], 2):.3g}–{np.percentile(gt[valid], 98):.3g} {unit}" if valid.any() else "—"
    )
    return Panels(
        rgb=small(rgb, Image.Resampling.BILINEAR),
        gt=small(colorize(shown_gt, valid, lo=lo, hi=hi), nearest),
        pred=small(colorize(shown_pred, valid, lo=lo, hi=hi), nearest),
        error=small(err_rgb, nearest),
        scales=f"colours: truth {scale}"
        + (" (prediction scale+shift fitted)" if setup.relative else "")
        + f" · |error| 0–{top:.3g}"
        + (" m" if unit == "m" else ""),
    )


BIN_HEADERS = ("range", "ground truth", "pixels", "AbsRel", "RMSE", "δ1")


def bin_rows(bins: Sequence[RangeBin], dataset_names: Sequence[str] = ()) -> list[tuple[str, ...]]:
    """One row of cells per range bin (``BIN_HEADERS``), the same for the CLI and the app."""
    total = sum(b.pixels for b in bins) or 1
    metres = bool(dataset_names) and all(n.lower() == "nyudv2relative" for n in dataset_names)
    rows: list[tuple[str, ...]] = []
    for b in bins:
        if b.unit == "disparity":
            edges = f"disparity {b.lo:.3g}–{b.hi:.3g}"
            if metres:  # NYUDV2Relative's disparity is exactly 1/metres
                edges += f" ({1 / b.hi:.3g}–{1 / b.lo:.3g} m)"
        else:
            edges = f"{b.lo:.3g}–{b.hi:.3g} m"
        rows.append(
            (b.name, edges, f"{b.pixels / total:.0%}", f"{b.abs_rel:.4f}", f"{b.rmse:.4g}", f"{b.d1:.4f}")
        )
    return rows


def aligned(rows: Sequence[Sequence[str]], headers: Sequence[str] = BIN_HEADERS) -> list[str]:
    """Rows as text columns (left-aligned words, right-aligned numbers), header first."""
    table = [list(headers), *(list(r) for r in rows)]
    widths = [max(len(r[i]) for r in table) for i in range(len(headers))]
    return [
        "  ".join(
            cell.ljust(w) if i < 2 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in table
    ]


__all__ = [
    "METRICS",
    "Analysis",
    "ImageError",
    "Panels",
    "RangeBin",
    "Sample",
    "Setup",
    "analyse",
    "describe",
    "aligned",
    "bin_rows",
    "panels",
    "samples_from_spec",
    "score_image",
    "setup_from_spec",
    "sort_key",
]
