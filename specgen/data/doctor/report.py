"""Diagnose an annotation file: sample pairs across scenes, decode as the chosen class, predict the run."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from specgen.data.doctor.decode import NYU_SHAPE, UnsupportedExtension, decode, nyu_crop_applies
from specgen.data.doctor.encoding import Encoding, Stats, classify
from specgen.data.doctor.readers import UnreadableFile, read_depth_raw, rgb_size
from specgen.spec.catalog import METRIC_MODEL, RELATIVE_MODEL, check_pair, lookup_dataset, nyu_class_for
from specgen.spec.names import DEFAULT_SAMPLE
from specgen.spec.problems import Finding

LOW_VALID = 0.05
#: Findings that mean TAO would crash, train on nothing or learn the wrong thing.
FAILING = frozenset(
    {
        "EMPTY_MASK",
        "ENCODING_MISMATCH",
        "PAIRING",
        "UNREADABLE",
        "EMPTY_FILE",
        "UNSUPPORTED_EXT",
        "DEPTH_TOO_SMALL",
    }
)


class SampleResult(BaseModel):
    image: str
    depth: str | None
    height: int | None = None
    width: int | None = None
    rgb_height: int | None = None
    rgb_width: int | None = None
    dtype: str | None = None
    valid_ratio: float | None = None
    error: str | None = None


class Suggestion(BaseModel):
    dataset_name: str | None
    model_type: str | None
    min_depth: float | None = None
    max_depth: float | None = None
    reason: str


class DoctorReport(BaseModel):
    data_file: str
    dataset_name: str
    model_type: str
    lines: int
    samples: list[SampleResult]
    encoding: Encoding | None
    valid_ratio: float | None
    findings: list[Finding]
    suggestion: Suggestion | None
    seconds: float

    @property
    def fails(self) -> bool:
        """The run would fail or learn the wrong thing."""
        if any(f.code in FAILING for f in self.findings):
            return True
        return bool(self.samples) and all(s.error for s in self.samples)


#: An annotation line is two paths; one longer than this is not a line of one (and is not read whole).
MAX_LINE = 1 << 16


def read_annotation(path: str) -> list[tuple[str, str | None]]:
    """TAO's line format (facts §2.2): split on single spaces; 1 column = image only, 2 = image depth, 3 or more =
    ``image right depth [mask]``: TAO reads the depth from column 2 whatever follows it, so do we (the last column
    would be the mask of a 4-column stereo line).

    Streamed line by line, never read whole: a NUL byte (a binary file, a sparse or zeroed one) or a line longer
    than ``MAX_LINE`` is refused at once, so a 3 GiB file of zeros is one clear line, not a minute of reading."""
    import stat

    try:
        if not stat.S_ISREG(Path(path).stat().st_mode):
            raise OSError(
                f"{path}: not a regular file (a folder, FIFO or device); give the annotation file itself"
            )
        rows: list[tuple[str, str | None]] = []
        with open(path, encoding="utf-8", newline=None) as f:
            for number, line in enumerate(iter(lambda: f.readline(MAX_LINE + 1), ""), 1):
                if len(line) > MAX_LINE or "\0" in line:
                    raise OSError(
                        f"{path}: line {number} is "
                        + ("binary (a NUL byte)" if "\0" in line else f"longer than {MAX_LINE:,} characters")
                        + ": not an annotation file; give the train/val/test .txt that `depthnet convert` wrote"
                    )
                line = line.rstrip("\n")
                if not line.strip():
                    continue
                parts = line.split(" ")
                if len(parts) == 1:
                    rows.append((parts[0], None))
                elif len(parts) == 2:
                    rows.append((parts[0], parts[1]))
                else:
                    rows.append((parts[0], parts[2]))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path}: no such annotation file; run `depthnet convert` first or check the path"
        ) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise OSError(
            f"{path}: cannot be read as a text annotation file ({exc.__class__.__name__})"
        ) from None
    return rows


def spread_sample(rows: list[tuple[str, str | None]], k: int) -> list[tuple[str, str | None]]:
    """Up to k rows, round-robin over scene folders so one big scene cannot hide another's problem."""
    groups: OrderedDict[str, list[tuple[str, str | None]]] = OrderedDict()
    for row in rows:
        groups.setdefault(str(Path(row[1] or row[0]).parent), []).append(row)
    picked: list[tuple[str, str | None]] = []
    buckets = [list(reversed(g[:: max(1, len(g) // max(1, k))])) for g in groups.values()]
    while len(picked) < k and any(buckets):
        for b in buckets:
            if b and len(picked) < k:
                picked.append(b.pop())
    return picked


def _fmt(x: float) -> float:
    return float(f"{x:.3g}")


def diagnose(
    data_file: str,
    dataset_name: str,
    model_type: str | None = None,
    *,
    min_depth: float | None = None,
    max_depth: float | None = None,
    normalize_depth: bool = False,
    sample: int = DEFAULT_SAMPLE,
    seed: int = 0,
) -> DoctorReport:
    start = time.perf_counter()
    ds = lookup_dataset(dataset_name)
    if ds is None:
        raise ValueError(f"unknown dataset class {dataset_name!r}; `depthnet pairs` lists the valid names")
    model_type = model_type or ds.model_type
    rows = read_annotation(data_file)
    findings: list[Finding] = []
    for issue in check_pair(model_type, ds.name):
        findings.append(
            Finding(
                code="PAIRING",
                severity=issue.severity,
                message=issue.message,
                fix=issue.fix,
                autofix={"model_type": ds.model_type},
            )
        )
    if model_type == RELATIVE_MODEL and (min_depth is not None or max_depth is not None):
        findings.append(
            Finding(
                code="PAIRING",
                severity="error",
                message="min_depth/max_depth given for a relative run: TAO's relative classes fail on them",
                fix="drop min_depth/max_depth for RelativeDepthAnything",
            )
        )

    rng = np.random.default_rng(seed)
    stats = Stats()
    results: list[SampleResult] = []
    unsupported: list[str] = []
    valid_ratios: list[float] = []
    has_inf = False
    for image, depth in spread_sample(rows, sample):
        res = SampleResult(image=image, depth=depth)
        results.append(res)
        try:
            res.rgb_height, res.rgb_width = rgb_size(image)
            if not image.endswith((".png", ".jpg", ".jpeg")):
                res.error = f"{image}: TAO reads only .png/.jpg/.jpeg images (case-sensitive)"
                continue
            if depth is None:
                continue
            raw = read_depth_raw(depth)
        except UnreadableFile as exc:
            res.error = str(exc)
            continue
        res.height, res.width = raw.shape[:2]
        res.dtype = str(raw.dtype)
        stats.add(raw, Path(depth).suffix, rng)
        try:
            dec = decode(ds.name, raw, depth, min_depth=min_depth, max_depth=max_depth)
        except UnsupportedExtension as exc:
            unsupported.append(f"{depth}: {exc}")
            continue
        res.valid_ratio = float(dec.valid.mean())
        valid_ratios.append(res.valid_ratio)
        has_inf = has_inf or bool(np.isinf(dec.values).any())

    if not rows:
        findings.append(
            Finding(
                code="EMPTY_FILE",
                severity="error",
                message=f"{data_file} lists no image: TAO's loader would have nothing to read",
                fix="write the annotation files again (depthnet convert) and check its report",
            )
        )
    unreadable = [r for r in results if r.error]
    if unreadable:  # one unreadable file stops TAO's data loader: an error, however few
        findings.append(
            Finding(
                code="UNREADABLE",
                severity="error",
                message=f"{len(unreadable)} of {len(results)} sampled pair(s) cannot be read as TAO would",
                examples=[r.error or "" for r in unreadable[:3]],
                fix="replace or remove those files, then re-run convert",
            )
        )
    if unsupported:
        findings.append(
            Finding(
                code="UNSUPPORTED_EXT",
                severity="error",
                message=f"{ds.name} cannot read {len(unsupported)} sampled depth file(s)",
                examples=unsupported[:3],
                fix="pick the class that reads this file type (`depthnet pairs`)",
            )
        )
    #: A depth map smaller than one ViT patch (14 px) is no map of its image: 0×0 or 1×1 was called healthy.
    tiny = [
        r for r in results if r.height is not None and r.width is not None and min(r.height, r.width) < 14
    ]
    if tiny:
        findings.append(
            Finding(
                code="DEPTH_TOO_SMALL",
                severity="error",
                message=f"{len(tiny)} sampled depth map(s) are smaller than 14×14 pixels: no depth map of its image",
                examples=[
                    f"{r.depth} {r.width}×{r.height} (RGB {r.rgb_width}×{r.rgb_height})" for r in tiny[:3]
                ],
                fix="re-export the depth maps at the RGB images' size",
            )
        )
    sizes = [
        r
        for r in results
        if r.height and r.rgb_height and r not in tiny and (r.height, r.width) != (r.rgb_height, r.rgb_width)
    ]
    if sizes:
        findings.append(
            Finding(
                code="RGB_DEPTH_SIZE_MISMATCH",
                severity="warning",
                message=f"{len(sizes)} pair(s) have RGB and depth of different sizes; crops will misalign",
                examples=[
                    f"{r.image} {r.rgb_width}×{r.rgb_height} vs {r.depth} {r.width}×{r.height}"
                    for r in sizes[:3]
                ],
                fix="resize or re-export so each RGB and depth map share one size",
            )
        )

    encoding = classify(stats) if stats.pixels else None
    if encoding is not None:
        findings += _encoding_findings(encoding, ds.name, model_type, stats)
    if nyu_crop_applies(ds.name):
        off = [r for r in results if r.height and (r.height, r.width) != NYU_SHAPE]
        if off:
            findings.append(
                Finding(
                    code="CROP_SIZE_MISMATCH",
                    severity="warning",
                    message=(
                        f"{ds.name} crops rows 45–470 × cols 41–600, assuming 640×480; "
                        f"{len(off)} sampled map(s) are {off[0].width}×{off[0].height}"
                    ),
                    fix="use 640×480 maps with NYUDV2*, or a generic class for other sizes",
                )
            )

    mean_valid = float(np.mean(valid_ratios)) if valid_ratios else None
    if valid_ratios:
        if max(valid_ratios) == 0.0:
            findings.insert(0, _empty_mask(ds.name, model_type, encoding, min_depth, max_depth))
        elif mean_valid is not None and mean_valid < LOW_VALID:
            findings.append(
                Finding(
                    code="LOW_VALID",
                    severity="warning",
                    message=f"only {mean_valid:.1%} of pixels are valid for {ds.name}: the loss is noisy and slow to converge",
                    fix="check min_depth/max_depth and the dataset class",
                )
            )
    if ds.kind == "metric" and encoding and encoding.to_metres and mean_valid and mean_valid > 0:
        lo = min_depth if min_depth is not None else 0.001
        hi = max_depth if max_depth is not None else 10.0
        metres = [p * encoding.to_metres for p in stats.percentiles([5, 50, 95])]
        if encoding.fits and ds.name in encoding.fits and (metres[1] > hi or metres[1] < lo):
            findings.append(
                Finding(
                    code="RANGE_CLIPS",
                    severity="warning",
                    message=f"most depths (median {metres[1]:.2f} m) fall outside min/max {lo}–{hi} m",
                    fix="widen min_depth/max_depth to the suggested range",
                )
            )
    if normalize_depth and has_inf:
        findings.append(
            Finding(
                code="NORMALIZE_NAN",
                severity="error",
                message="normalize_depth rescales by each map's min and max, and these maps contain +inf (missing depth): the targets become NaN",
                fix="set dataset.normalize_depth: false",
                autofix={"dataset.normalize_depth": False},
            )
        )
    suggestion = _suggest(encoding, model_type, stats)
    return DoctorReport(
        data_file=data_file,
        dataset_name=ds.name,
        model_type=model_type,
        lines=len(rows),
        samples=results,
        encoding=encoding,
        valid_ratio=mean_valid,
        findings=findings,
        suggestion=suggestion,
        seconds=time.perf_counter() - start,
    )


def _encoding_findings(enc: Encoding, chosen: str, model_type: str, stats: Stats) -> list[Finding]:
    if enc.confidence < 0.5 or chosen in enc.fits or enc.code == "empty":
        return []
    if enc.fits:
        classes = {name: ds for name in enc.fits if (ds := lookup_dataset(name)) is not None}
        better = [name for name, ds in classes.items() if ds.model_type == model_type] or enc.fits
        reads_as = _reads_as(chosen)
        return [
            Finding(
                code="ENCODING_MISMATCH",
                severity="error",
                message=f"the files hold {enc.label}, but {chosen} {reads_as}: the run trains on wrong targets",
                examples=enc.evidence,
                fix=f"use dataset_name {better[0]}",
                autofix={"dataset_name": better[0], "model_type": classes[better[0]].model_type},
            )
        ]
    return [
        Finding(
            code="ENCODING_MISMATCH",
            severity="error",
            message=f"the files hold {enc.label}, which no TAO mono class reads correctly; {chosen} {_reads_as(chosen)}",
            examples=enc.evidence,
            fix=enc.advice or "convert the depth files to a supported encoding",
        )
    ]


def _reads_as(name: str) -> str:
    return {
        "MetricMonoDataset": "reads raw values as metres",
        "RelativeMonoDataset": "reads raw values as disparity (valid only below 1000)",
        "NYUDV2": "reads 16-bit millimetres",
        "NYUDV2Relative": "reads 16-bit millimetres",
        "FSD": "reads RGB-encoded millimetres",
        "Crestereo": "reads 16-bit disparity ÷ 32",
        "ThreeDVLM": "reads .npy metres",
    }.get(name, "reads PFM disparity")


def _empty_mask(
    chosen: str, model_type: str, enc: Encoding | None, lo: float | None, hi: float | None
) -> Finding:
    ds = lookup_dataset(chosen)
    assert ds is not None
    if ds.kind == "metric":
        rng = f"{lo if lo is not None else 0.001}–{hi if hi is not None else 10} m"
        why = f"{chosen} keeps only depths within {rng}, and no sampled pixel is inside that range"
    else:
        why = f"{chosen} keeps only values below 1000, and no sampled pixel is"
    if (
        enc is not None
        and enc.code == "uint16_mm"
        and ds.name in ("MetricMonoDataset", "RelativeMonoDataset")
    ):
        why = (
            f"{chosen} reads these raw millimetres (e.g. 2000 = 2 m) as {'metres' if ds.kind == 'metric' else 'disparity'}, "
            f"so no pixel passes its valid range"
        )
    fit = (
        nyu_class_for(model_type)
        if enc is not None and enc.code == "uint16_mm"
        else (enc.fits[0] if enc and enc.fits else None)
    )
    autofix = {"dataset_name": fit} if fit else None
    return Finding(
        code="EMPTY_MASK",
        severity="error",
        message=f"this run's loss will be NaN: {why}; TAO will still print 'Execution status: PASS'",
        fix=f"use dataset_name {fit}" if fit else "fix the depth encoding or min_depth/max_depth",
        autofix=autofix,
    )


def _suggest(enc: Encoding | None, model_type: str, stats: Stats) -> Suggestion | None:
    if enc is None:
        return None
    fits = [f for f in enc.fits if (d := lookup_dataset(f)) is not None and d.model_type == model_type]
    if not fits and enc.fits:
        other = lookup_dataset(enc.fits[0])
        return Suggestion(
            dataset_name=enc.fits[0],
            model_type=other.model_type if other else None,
            reason=f"{enc.label} fits {enc.fits[0]}, which is a {other.kind if other else ''} class",
        )
    if not fits:
        return Suggestion(
            dataset_name=None, model_type=None, reason=enc.advice or f"no TAO class reads {enc.label}"
        )
    name = fits[0]
    if model_type == METRIC_MODEL and enc.to_metres:
        p_lo, p_hi = stats.percentiles([0.5, 99.5])
        lo = max(0.001, _fmt(p_lo * enc.to_metres * 0.9))
        hi = max(1.0, _fmt(math.ceil(p_hi * enc.to_metres * 1.1 * 10) / 10))
        return Suggestion(
            dataset_name=name,
            model_type=model_type,
            min_depth=lo,
            max_depth=hi,
            reason=f"{enc.label}; min/max from the 0.5th/99.5th percentiles ({lo}–{hi} m) with a 10 % margin",
        )
    return Suggestion(dataset_name=name, model_type=model_type, reason=f"{enc.label} is what {name} reads")
