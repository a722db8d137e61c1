"""Spec validation: the schema (types, keys, options) plus what TAO only finds out at run time."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from specgen.data.annotation_check import Mode, check_annotation_files
from specgen.job.weights import checkpoint_problems
from specgen.spec.actions import ACTIONS
from specgen.spec.catalog import METRIC_MODEL, RELATIVE_MODEL, check_pair
from specgen.spec.problems import Problem, from_validation_error
from specgen.spec.schema import ExperimentSpec, SplitDataset

#: The data splits each action reads.
ACTION_SPLITS: dict[str, tuple[str, ...]] = {
    "train": ("train_dataset", "val_dataset"),
    "evaluate": ("test_dataset",),
    "inference": ("infer_dataset",),
    "export": (),
    "quantize": ("train_dataset", "val_dataset"),
    "gen_trt_engine": (),
}


def sample_depth_paths(data_file: str, limit: int = 20) -> list[str]:
    """A few depth paths from an annotation file, when it is readable here (for the raw-NYU hint)."""
    try:
        if not Path(data_file).is_file():  # never open a FIFO or a device
            return []
        with open(data_file, encoding="utf-8", errors="replace") as handle:
            lines = [next(handle, "") for _ in range(limit)]
    except OSError:
        return []
    return [parts[-1] for line in lines if len(parts := line.split()) >= 2]


def validate_data(
    data: dict[str, Any],
    action: str | None = None,
    *,
    check_files: bool = True,
    allow_known_failure: bool = False,
    annotations: bool = False,
    annotation_mode: Mode = "auto",
    progress: Callable[[str, int, float], None] | None = None,
) -> tuple[ExperimentSpec | None, list[Problem]]:
    """Validate a parsed spec dict. Returns the model (None when the schema fails) and every problem. A known
    failure (the data says the loss will be NaN, a line names a file TAO cannot read, a checkpoint that does not
    fit) is an error unless ``allow_known_failure``."""
    try:
        spec = ExperimentSpec.model_validate(data)
    except ValidationError as err:
        return None, from_validation_error(err, ExperimentSpec)
    found = check_spec(
        spec,
        action,
        check_files=check_files,
        annotations=annotations,
        annotation_mode=annotation_mode,
        progress=progress,
    )
    return spec, accept_known_failures(found) if allow_known_failure else found


def accept_known_failures(problems: list[Problem]) -> list[Problem]:
    """The explicit override: what the data says will fail stays in the list, as a warning."""
    return [q.model_copy(update={"severity": "warning"}) if q.known_failure else q for q in problems]


#: Doctor findings that mean the run cannot learn: TAO trains on, prints PASS, and every loss is NaN.
KNOWN_FAILURES = ("EMPTY_MASK", "ENCODING_MISMATCH")


def known_failures(spec: ExperimentSpec, action: str | None) -> list[Problem]:
    """The data doctor on (a small sample of) the files the action reads, when they are on this machine."""
    out: list[Problem] = []
    splits = ACTION_SPLITS.get(action or "train", ())[
        :1
    ]  # where the loss comes from: train, test or infer data
    for split in splits:
        for i, src in enumerate(_sources(getattr(spec.dataset, split))[:2]):
            if not Path(src.data_file).is_file():
                continue
            for code, message, fix in _doctor_alerts(
                src.data_file,
                src.dataset_name,
                spec.model.model_type,
                spec.dataset.min_depth,
                spec.dataset.max_depth,
            ):
                out.append(
                    Problem(
                        path=f"dataset.{split}.data_sources[{i}].dataset_name",
                        known_failure=True,
                        message=f"{code}: {message} — this run's loss will be NaN",
                        fix=fix,
                    )
                )
    return out


def _doctor_alerts(
    data_file: str, dataset_name: str, model_type: str, min_depth: float | None, max_depth: float | None
) -> list[tuple[str, str, str]]:
    st = Path(data_file).stat()
    return list(
        _doctor_cached(data_file, st.st_mtime_ns, st.st_size, dataset_name, model_type, min_depth, max_depth)
    )


@lru_cache(maxsize=32)
def _doctor_cached(
    data_file: str,
    _mtime: int,
    _size: int,
    dataset_name: str,
    model_type: str,
    min_depth: float | None,
    max_depth: float | None,
) -> tuple[tuple[str, str, str], ...]:
    """Once per version of the annotation file and choice of class: the wizard validates often."""
    from specgen.data.doctor import diagnose

    try:
        report = diagnose(
            data_file, dataset_name, model_type, min_depth=min_depth, max_depth=max_depth, sample=8
        )
    except (OSError, ValueError):
        return ()
    return tuple(
        (f.code, f.message, f.fix)
        for f in report.findings
        if f.code in KNOWN_FAILURES and f.severity == "error"
    )


#: Problems of one annotation file named one by one; the rest are counted in one more line.
SHOWN_PER_FILE = 5


def annotation_problems(
    spec: ExperimentSpec,
    action: str | None,
    *,
    mode: Mode = "auto",
    progress: Callable[[str, int, float], None] | None = None,
) -> list[Problem]:
    """Before TAO's minute is spent: every annotation line of the splits the action reads names files that exist,
    and its RGB image opens (header only) — TAO finds a missing file only when a DataLoader worker reaches its line
    (c_missing_file: ~95 s in on an H200, hours into a big list). Each problem is an error that only
    ``--allow-known-failure`` lets through (TAO will fail on it). Files not on this machine are skipped (said
    elsewhere: they may exist only inside the container)."""
    files: dict[str, str] = {}
    for split in ACTION_SPLITS.get(action or "train", ()):
        for i, src in enumerate(_sources(getattr(spec.dataset, split))):
            if Path(src.data_file).is_file():
                files[f"dataset.{split}.data_sources[{i}].data_file"] = src.data_file
    if not files:
        return []
    out: list[Problem] = []
    said: set[str] = set()
    reports = check_annotation_files(files, mode=mode, progress=progress)
    for key, report in reports.items():
        if report.annotation_file in said:
            continue  # the same file in two splits: once
        said.add(report.annotation_file)
        if report.error:
            out.append(Problem(severity="warning", path=key, message=report.error, fix="check the file"))
            continue
        sampled = (
            f" (a sample of {report.checked} of {report.lines} lines looked at)" if report.sampled else ""
        )
        # A relative path is TAO's working directory's, unknown here: the preflight's own check names those lines.
        named = [q for q in report.problems if not q.path or os.path.isabs(q.path)]
        for problem in named[:SHOWN_PER_FILE]:
            out.append(
                Problem(
                    path=key,
                    known_failure=True,
                    message=problem.text(),
                    fix="fix that line or the file: TAO stops at the first file it cannot read, minutes in"
                    + sampled,
                )
            )
        more = report.problem_count - (len(report.problems) - len(named)) - min(len(named), SHOWN_PER_FILE)
        if more > 0:
            out.append(
                Problem(
                    path=key,
                    known_failure=True,
                    message=f"{more} more line(s) of {report.annotation_file} name files TAO cannot read",
                    fix="`depthnet validate` lists the first ones; fix the paths (or re-run convert)"
                    + sampled,
                )
            )
    return out


def _sources(split: SplitDataset) -> list[Any]:
    return list(split.data_sources or [])


def batch_problems(spec: ExperimentSpec) -> list[Problem]:
    """A train batch (× GPUs) larger than the training pairs listed: an epoch has 0 steps and TAO's LambdaLR divides
    by them (``ZeroDivisionError`` ~1 min in, measured on an H200: batch 512 over 6 pairs). Lines are counted only
    up to the batch (a million-line list costs nothing); files not on this machine are not counted."""
    per_step = spec.dataset.train_dataset.batch_size * max(1, spec.train.num_gpus or 1)
    total = 0
    for src in _sources(spec.dataset.train_dataset):
        path = Path(src.data_file)
        if not path.is_file():
            return []
        try:
            with open(path, "rb") as f:
                for line in f:
                    total += bool(line.strip())
                    if total >= per_step:
                        return []
        except OSError:
            return []
    if not _sources(spec.dataset.train_dataset):
        return []
    gpus = f" × {spec.train.num_gpus} GPUs" if (spec.train.num_gpus or 1) > 1 else ""
    return [
        Problem(
            path="dataset.train_dataset.batch_size",
            known_failure=True,
            message=f"batch {spec.dataset.train_dataset.batch_size}{gpus} is more than the {total} training pairs "
            "listed: an epoch has 0 steps and TAO's LambdaLR divides by them (ZeroDivisionError)",
            fix=f"set dataset.train_dataset.batch_size to at most {max(1, total // max(1, spec.train.num_gpus or 1))}",
        )
    ]


def check_spec(
    spec: ExperimentSpec,
    action: str | None = None,
    *,
    check_files: bool = True,
    annotations: bool = False,
    annotation_mode: Mode = "auto",
    progress: Callable[[str, int, float], None] | None = None,
) -> list[Problem]:
    """Problems TAO's schema lets through but the run would hit (or silently suffer from). With ``check_files``
    the files on this machine are looked at too: the data doctor on a sample, the checkpoints' layout and encoder;
    with ``annotations`` (``depthnet validate``; not the builders that write a spec for data that may be elsewhere,
    nor the launch, whose preflight checks each listed file against the mounts first) also every annotation line's
    files (``annotation_mode``: "auto" checks
    all of a list up to 20,000 lines and a seeded sample of a bigger one, "all" every line; ``progress(key, lines,
    fraction)`` hears how far)."""
    p: list[Problem] = []
    mt = spec.model.model_type
    ds = spec.dataset

    for key in spec.stereo_keys_ignored():
        p.append(
            Problem(
                severity="warning",
                path=key,
                message="stereo-only key, ignored by the mono pipeline",
                fix="remove it; it will not be written to the spec",
            )
        )
    if ds.dataset_name != "MonoDataset":
        p.append(
            Problem(
                path="dataset.dataset_name",
                message=f"{ds.dataset_name!r} builds the stereo data pipeline (TAO's default is StereoDataset)",
                fix="set dataset.dataset_name: MonoDataset (exact case)",
            )
        )
    if mt not in (METRIC_MODEL, RELATIVE_MODEL):
        p.append(
            Problem(
                path="model.model_type",
                message=f"{mt} is a stereo model",
                fix=f"use {METRIC_MODEL} or {RELATIVE_MODEL} for monocular depth",
            )
        )

    for split_name in ("train_dataset", "val_dataset", "test_dataset", "infer_dataset"):
        for i, src in enumerate(_sources(getattr(ds, split_name))):
            base = f"dataset.{split_name}.data_sources[{i}]"
            depths = sample_depth_paths(src.data_file) if check_files else []
            for issue in check_pair(mt, src.dataset_name, depths):
                p.append(
                    Problem(
                        severity=issue.severity,
                        path=f"{base}.dataset_name",
                        message=issue.message,
                        fix=issue.fix,
                    )
                )
            if check_files and not Path(src.data_file).is_file():
                p.append(
                    Problem(
                        severity="warning",
                        path=f"{base}.data_file",
                        message=f"{src.data_file} does not exist on this machine",
                        fix="check the path (fine if it only exists inside the container)",
                    )
                )

    both = ds.min_depth is not None and ds.max_depth is not None
    if mt == RELATIVE_MODEL and (ds.min_depth is not None or ds.max_depth is not None):
        p.append(
            Problem(
                severity="error" if both else "warning",
                path="dataset.min_depth" if ds.min_depth is not None else "dataset.max_depth",
                message=(
                    "a relative run must not set min_depth/max_depth: TAO passes them to the relative dataset "
                    "class, which fails with an unexpected-keyword TypeError"
                    if both
                    else "min_depth/max_depth mean nothing to a relative run"
                ),
                fix="remove dataset.min_depth and dataset.max_depth (set them only for MetricDepthAnything)",
            )
        )
    if both and ds.min_depth >= ds.max_depth:  # type: ignore[operator]
        p.append(
            Problem(
                path="dataset.min_depth",
                message=f"min_depth {ds.min_depth} is not below max_depth {ds.max_depth}",
                fix="no pixel can be valid: make min_depth < max_depth",
            )
        )
    if mt == METRIC_MODEL and ds.normalize_depth:
        p.append(
            Problem(
                severity="warning",
                path="dataset.normalize_depth",
                message="a metric run with normalize_depth rescales every map to [0, 1]: metres are lost and +inf (missing depth) becomes NaN",
                fix="set dataset.normalize_depth: false for metric depth",
            )
        )

    if check_files and mt in (METRIC_MODEL, RELATIVE_MODEL):
        if annotations:  # every line (depthnet validate); the doctor's sample below runs wherever files are
            p += annotation_problems(spec, action, mode=annotation_mode, progress=progress)
        p += known_failures(spec, action)
        if (action or "train") == "train":
            p += batch_problems(spec)
    if mt in (METRIC_MODEL, RELATIVE_MODEL):
        # TAO fails on each of these (the measured matrix of specgen/job/weights.py): an error that only the
        # explicit override (--allow-known-failure) lets through, as for the data's known failures.
        p += [
            q.model_copy(update={"known_failure": True}) if q.severity == "error" else q
            for q in checkpoint_problems(spec, action, check_files=check_files)
        ]
    if action is not None:
        p += _check_action(spec, action)
    if action == "inference" and spec.inference.save_raw_pfm and check_files:
        p += _pfm_collisions(spec)
    return p


def _pfm_collisions(spec: ExperimentSpec) -> list[Problem]:
    """TAO names raw PFM outputs by substring replacement over the whole path: inputs may share one file."""
    from specgen.data.doctor.report import read_annotation
    from specgen.data.inference_outputs import pfm_collisions
    from specgen.spec.paths import action_results_dir

    images: list[str] = []
    for src in _sources(spec.dataset.infer_dataset):
        try:
            images += [row[0] for row in read_annotation(src.data_file)]
        except OSError:
            continue
    clashes = pfm_collisions(images, action_results_dir(spec, "inference"))
    if not clashes:
        return []
    pfm, names = next(iter(clashes.items()))
    return [
        Problem(
            severity="warning",
            path="inference.save_raw_pfm",
            message=f"{sum(len(v) for v in clashes.values())} inputs share {len(clashes)} PFM paths (TAO "
            f"replaces png/jpg/jpeg anywhere in the path): {' and '.join(names[:2])} both → {pfm}; "
            "the later overwrites the earlier",
            fix="rename the folders whose names contain png, jpg or jpeg, or rely on the inference_images pictures",
        )
    ]


def _check_action(spec: ExperimentSpec, action: str) -> list[Problem]:
    p: list[Problem] = []
    if action not in ACTIONS:
        return [
            Problem(
                path="action", message=f"unknown action {action!r}", fix=f"use one of {', '.join(ACTIONS)}"
            )
        ]
    for split in ACTION_SPLITS[action]:
        if not _sources(getattr(spec.dataset, split)):
            p.append(
                Problem(
                    path=f"dataset.{split}.data_sources",
                    message=f"{action} needs data here",
                    fix="add an entry with data_file and dataset_name",
                )
            )
    section = getattr(spec, action)
    if not spec.results_dir and not getattr(section, "results_dir", None):
        p.append(
            Problem(
                path="results_dir",
                message=f"neither results_dir nor {action}.results_dir is set (TAO fails with a ValueError)",
                fix="set results_dir; the action writes to <results_dir>/" + action,
            )
        )
    metric = spec.model.model_type == METRIC_MODEL
    if action in ("evaluate", "inference") and not (section.checkpoint or section.trt_engine):
        p.append(
            Problem(
                path=f"{action}.checkpoint",
                message="missing",
                fix="give the .pth checkpoint to use (or trt_engine in TAO Deploy)",
            )
        )
    if action == "export":
        if not spec.export.checkpoint:
            p.append(
                Problem(path="export.checkpoint", message="missing", fix="give the trained .pth checkpoint")
            )
        if not spec.export.onnx_file:
            p.append(
                Problem(
                    path="export.onnx_file",
                    message="missing",
                    fix="give the .onnx path to write (it must not exist yet)",
                )
            )
        for key in ("input_height", "input_width"):
            value = getattr(spec.export, key)
            if value % 14:
                near = max(14, round(value / 14) * 14)
                p.append(
                    Problem(
                        path=f"export.{key}",
                        message=f"{value} is not a multiple of the ViT patch size 14: "
                        'TAO 7.3.0\'s export fails (torch.export: "not a multiple of patch height 14")',
                        fix=f"use {near} (or the training crop size)",
                    )
                )
    if (
        action in ("export", "evaluate", "inference")
        and metric
        and (spec.dataset.min_depth is None or spec.dataset.max_depth is None)
    ):
        p.append(
            Problem(
                severity="warning",
                path="dataset.max_depth",
                message=f"metric {action} without the dataset depth block: TAO falls back to 0.001–10 m",
                fix="copy dataset.normalize_depth/min_depth/max_depth from the train spec",
            )
        )
    if action == "gen_trt_engine":
        g = spec.gen_trt_engine
        if not g.onnx_file:
            p.append(
                Problem(
                    path="gen_trt_engine.onnx_file", message="missing", fix="give the exported .onnx file"
                )
            )
        if not g.trt_engine:
            p.append(
                Problem(
                    path="gen_trt_engine.trt_engine", message="missing", fix="give the engine path to write"
                )
            )
        if g.tensorrt.workspace_size > 64:
            p.append(
                Problem(
                    severity="warning",
                    path="gen_trt_engine.tensorrt.workspace_size",
                    message=f"{g.tensorrt.workspace_size} is read in GiB by TAO Deploy 7.3.0 (workspace × 2**30): "
                    f"it asks TensorRT for {g.tensorrt.workspace_size} GiB",
                    fix="give GiB, e.g. 8",
                )
            )
        if g.tensorrt.data_type == "FP16":
            p.append(
                Problem(
                    severity="error" if spec.model.encoder in ("vitl", "vitg") else "warning",
                    path="gen_trt_engine.tensorrt.data_type",
                    message=f"FP16 overflows in the {spec.model.encoder} mono backbone's attention and gives NaN/garbage depth",
                    fix="use FP32, or BF16 on an SM80+ GPU",
                )
            )
        if g.tensorrt.data_type == "BF16":
            p.append(
                Problem(
                    severity="warning",
                    path="gen_trt_engine.tensorrt.data_type",
                    message="BF16 engines need an SM80+ GPU (A100, H100, L40, RTX 30/40)",
                    fix="use FP32 on older GPUs",
                )
            )
    if action == "quantize":
        if not spec.dataset.quant_calibration_dataset.images_dir:
            p.append(
                Problem(
                    path="dataset.quant_calibration_dataset.images_dir",
                    message="missing",
                    fix="give a folder of calibration RGB images",
                )
            )
        if not spec.quantize.model_path:
            p.append(
                Problem(
                    path="quantize.model_path",
                    message="missing",
                    fix="give the trained .pth checkpoint to quantise",
                )
            )
    if action == "train":
        if spec.train.precision == "bf16":
            # Measured on an H100 with TAO 7.3.0 (benchmarks/gpu_memory.sh): the first validation's picture calls
            # .numpy() on a bfloat16 tensor (utils/misc.py vis_mono) and training dies there.
            p.append(
                Problem(
                    path="train.precision",
                    known_failure=True,
                    message="bf16 training crashes in TAO 7.3.0 at the first validation (vis_mono calls "
                    ".numpy() on a bfloat16 tensor: TypeError: Got unsupported ScalarType BFloat16)",
                    fix="use fp32 (or fp16, which halves activation memory)",
                )
            )
        if spec.train.precision == "fp16":
            p.append(
                Problem(
                    severity="warning",
                    path="train.precision",
                    message="fp16 can overflow in ViT attention and give a NaN loss",
                    fix="prefer fp32 (or bf16 on SM80+)",
                )
            )
        if len(spec.train.gpu_ids) != spec.train.num_gpus:
            p.append(
                Problem(
                    severity="warning",
                    path="train.gpu_ids",
                    message=f"{len(spec.train.gpu_ids)} gpu_ids for num_gpus {spec.train.num_gpus}",
                    fix="make train.gpu_ids list exactly num_gpus devices",
                )
            )
    return p


def errors(problems: list[Problem]) -> list[Problem]:
    return [x for x in problems if x.severity == "error"]
