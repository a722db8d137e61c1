"""Per-action spec builders: one request in, a validated spec (or the list of problems) out.

The wizard and the ``depthnet spec`` command call the same function, so what the UI shows is what the
CLI writes.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from specgen.job.validate import accept_known_failures, check_spec, errors
from specgen.job.weights import Route, readable_checkpoint, route_file
from specgen.spec.actions import Action
from specgen.spec.catalog import METRIC_MODEL
from specgen.spec.keypaths import set_path
from specgen.spec.problems import Problem, from_validation_error
from specgen.spec.recipes import TRT_WORKSPACE, get_recipe
from specgen.spec.schema import ConvertSpec, ExperimentSpec

DEFAULT_ENCODER = "vitl"  # TAO's schema default


class SpecError(ValueError):
    """The request cannot produce a valid spec; ``problems`` says why, one line each."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(p.line() for p in problems))
        self.problems = problems


class BuildRequest(BaseModel):
    """Everything a person decides for one action's spec."""

    action: Action
    model_type: str = METRIC_MODEL
    dataset_name: str = "NYUDV2"
    data_file: str | None = None
    val_data_file: str | None = None
    results_dir: str
    #: train: the weights to start from (their key follows from what the file holds); other actions: the .pth
    checkpoint: str | None = None
    #: None: not chosen — the start file's encoder, else the default (``DEFAULT_ENCODER``)
    encoder: str | None = None
    recipe: str = "finetune"
    min_depth: float | None = None
    max_depth: float | None = None
    onnx_file: str | None = None
    trt_engine: str | None = None
    calibration_images_dir: str | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)
    allow_known_failure: bool = False  # write it although the data says the loss will be NaN (explicit only)


def default_val_file(data_file: str) -> str | None:
    """train.txt → the val.txt beside it, when it exists (what ``depthnet convert`` writes)."""
    p = Path(data_file)
    if p.name == "train.txt" and (p.parent / "val.txt").is_file():
        return str(p.parent / "val.txt")
    return None


def _source(data_file: str, dataset_name: str) -> list[dict[str, str]]:
    return [{"data_file": data_file, "dataset_name": dataset_name}]


def _log_every(data: dict[str, Any], req: BuildRequest) -> int | None:
    """Per-step chart points: from the run's length (lines in the train file, batch, GPUs, epochs)."""
    import math

    from specgen.spec.keypaths import get_path_or_none
    from specgen.spec.recipes import log_every_for
    from specgen.spec.schema import SplitDataset, TrainConfig

    try:
        with open(req.data_file or "", "rb") as f:
            lines = sum(1 for line in f if line.strip())
    except OSError:
        return None
    batch = (
        get_path_or_none(data, "dataset.train_dataset.batch_size")
        or SplitDataset.model_fields["batch_size"].default
    )
    gpus = get_path_or_none(data, "train.num_gpus") or TrainConfig.model_fields["num_gpus"].default
    epochs = (
        req.overrides.get("train.num_epochs")
        or get_path_or_none(data, "train.num_epochs")
        or TrainConfig.model_fields["num_epochs"].default
    )
    if not all(isinstance(v, int) and v > 0 for v in (batch, gpus, epochs)) or not lines:
        return None
    return log_every_for(epochs * math.ceil(lines / (batch * gpus)), req.encoder or DEFAULT_ENCODER)


def start_route(req: BuildRequest) -> Route | None:
    """Where ``req.checkpoint`` goes (``specgen/job/weights.py`` decides), or None when there is none to route: no
    checkpoint, or (for evaluate/inference/export/quantize) a file not on this machine yet — validate says so. A
    train start must be here: its key depends on what the file holds."""
    if not req.checkpoint or req.action == "gen_trt_engine":
        return None
    if req.action != "train" and not readable_checkpoint(req.checkpoint):
        return None
    bn = req.overrides.get("model.mono_backbone.use_bn", False) is True
    cls = req.overrides.get("model.mono_backbone.use_clstoken", False) is True
    return route_file(req.checkpoint, req.model_type, req.encoder, req.action, use_bn=bn, use_clstoken=cls)


def resolved_encoder(req: BuildRequest, route: Route | None = None) -> str:
    """The encoder the spec gets: the one chosen, else the start file's, else TAO's default."""
    return req.encoder or (route.encoder if route is not None else None) or DEFAULT_ENCODER


def build_data(req: BuildRequest) -> dict[str, Any]:
    """The spec as a plain dict, before validation (so overrides can still touch any key). A checkpoint that no
    key of this action takes raises SpecError with the refusal (one line, the fix)."""
    route = start_route(req)
    if route is not None and route.problem is not None:
        raise SpecError([route.problem])
    encoder = resolved_encoder(req, route)
    if encoder != req.encoder:
        req = req.model_copy(update={"encoder": encoder})
    data: dict[str, Any] = {
        "results_dir": req.results_dir,
        "model": {"model_type": req.model_type, "encoder": encoder},
        "dataset": {"dataset_name": "MonoDataset"},
    }
    start = (route.start if route is not None else "none") if req.action == "train" else "whole"
    recipe = get_recipe(req.recipe, req.model_type, req.min_depth, req.max_depth, start=start)
    for value in recipe.values:
        if value.path.startswith("train.") and req.action != "train":
            continue
        if value.path.startswith(("dataset.train_dataset", "dataset.val_dataset")) and req.action not in (
            "train",
            "quantize",
        ):
            continue
        set_path(data, value.path, value.value)

    act = req.action
    if act in ("train", "quantize"):
        if req.data_file:
            set_path(data, "dataset.train_dataset.data_sources", _source(req.data_file, req.dataset_name))
        val = req.val_data_file or (default_val_file(req.data_file) if req.data_file else None)
        if val:
            set_path(data, "dataset.val_dataset.data_sources", _source(val, req.dataset_name))
        if req.data_file and "train.log_every_n_steps" not in req.overrides:
            every = _log_every(data, req)
            if every is not None:
                set_path(data, "train.log_every_n_steps", every)
    elif act == "evaluate" and req.data_file:
        set_path(data, "dataset.test_dataset.data_sources", _source(req.data_file, req.dataset_name))
    elif act == "inference" and req.data_file:
        set_path(data, "dataset.infer_dataset.data_sources", _source(req.data_file, req.dataset_name))

    results = req.results_dir
    if act == "train" and req.checkpoint and route is not None and route.key:
        set_path(data, route.key, req.checkpoint)
    if act in ("evaluate", "inference") and req.checkpoint:
        set_path(data, f"{act}.checkpoint", req.checkpoint)
    if act == "export":
        if req.checkpoint:
            set_path(data, "export.checkpoint", req.checkpoint)
        set_path(
            data,
            "export.onnx_file",
            req.onnx_file
            or posixpath.join(results, "export", f"{req.model_type.lower()}_{req.encoder}.onnx"),
        )
        # TAO's default 544 is not a multiple of the ViT patch (14): its export fails under torch 2.11
        set_path(data, "export.input_height", 518)
        set_path(data, "export.input_width", 518)
    if act == "gen_trt_engine":
        onnx = req.onnx_file or posixpath.join(
            results, "export", f"{req.model_type.lower()}_{req.encoder}.onnx"
        )
        set_path(data, "gen_trt_engine.onnx_file", onnx)
        set_path(data, TRT_WORKSPACE.path, TRT_WORKSPACE.value)
        set_path(
            data,
            "gen_trt_engine.trt_engine",
            req.trt_engine
            or posixpath.join(results, "gen_trt_engine", f"{req.model_type.lower()}_{req.encoder}.engine"),
        )
    if act == "quantize":
        if req.checkpoint:
            set_path(data, "quantize.model_path", req.checkpoint)
        if req.calibration_images_dir:
            set_path(data, "dataset.quant_calibration_dataset.images_dir", req.calibration_images_dir)

    for path, value in req.overrides.items():
        set_path(data, path, value)
    return data


def build_spec(req: BuildRequest, *, check_files: bool = True) -> tuple[ExperimentSpec, list[Problem]]:
    """Build and validate. Raises SpecError when there is any error; returns the warnings otherwise."""
    data = build_data(req)
    try:
        spec = ExperimentSpec.model_validate(data)
    except ValidationError as err:
        raise SpecError(from_validation_error(err, ExperimentSpec)) from None
    problems = check_spec(spec, req.action, check_files=check_files)
    if req.allow_known_failure:
        problems = accept_known_failures(problems)
    if errors(problems):
        raise SpecError(errors(problems))
    return spec, problems


class ConvertRequest(BaseModel):
    data_root: str
    results_dir: str
    image_patterns: list[str]
    depth_patterns: list[str]
    image_extension: str = ".jpg"
    depth_extension: str = ".png"
    split_ratio: float = 0.8


def build_convert_spec(req: ConvertRequest) -> ConvertSpec:
    """The spec for ``depth_net convert -e`` inside the container; extensions written exactly as given."""
    return ConvertSpec(
        data_root=req.data_root,
        results_dir=req.results_dir,
        image_dir_pattern=list(req.image_patterns),
        depth_dir_pattern=list(req.depth_patterns),
        image_extension=req.image_extension,
        depth_extension=req.depth_extension,
        split_ratio=req.split_ratio,
    )
