"""After a run: derive the next action's spec from a finished one, so "evaluate this checkpoint" is one key away.

The source is the spec a run was launched with (or the ``experiment.yaml`` TAO wrote) plus its results folder.
What carries over is what must agree between actions: model type and encoder, the metric depth block
(``dataset.normalize_depth/min_depth/max_depth`` — export needs it as much as evaluate), the data classes, and the
files the source produced (checkpoint → ONNX → engine). Every derived spec names its parent in a header line, so a
chain export → engine → TensorRT evaluate can still find the train run's validation data.
"""

from __future__ import annotations

import copy
import os
import posixpath
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from specgen.job.validate import accept_known_failures, check_spec, errors
from specgen.spec.docker_cmd import DEPLOY_IMAGE, TRAIN_IMAGE
from specgen.spec.keypaths import get_path_or_none as get_path
from specgen.spec.keypaths import set_path
from specgen.spec.names import NEXT_ACTIONS
from specgen.spec.paths import action_results_dir, free_path, free_results_dir
from specgen.spec.problems import Problem, from_validation_error
from specgen.spec.recipes import TRT_WORKSPACE
from specgen.spec.render import SpecFileError, read_yaml, render
from specgen.spec.schema import STEREO_ONLY, ExperimentSpec

#: Where a source finds the data a derived action reads, most specific first.
DATA_SPLITS: dict[str, tuple[str, ...]] = {
    "evaluate": ("test_dataset", "val_dataset", "infer_dataset"),
    "inference": ("infer_dataset", "test_dataset", "val_dataset"),
    "quantize": ("train_dataset",),
}
DERIVED_FROM = "derived-from:"
_CKPT = re.compile(r"model_epoch_(\d+)_step_(\d+)\.pth$")


class ChainError(ValueError):
    """The next spec cannot be derived; the message says why and what to do."""

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class Source(BaseModel):
    """A finished run as the chain sees it: its action, the spec it ran with and its own results folder."""

    action: str
    spec_path: str
    results_dir: str  # the action's folder, e.g. <results_dir>/train
    data: dict[str, Any]

    @classmethod
    def from_spec(cls, action: str, spec_path: str, results_dir: str | None = None) -> Source:
        try:
            data = read_yaml(spec_path)
        except SpecFileError as exc:
            raise ChainError(str(exc)) from None
        return cls(
            action=action,
            spec_path=os.path.abspath(spec_path),
            data=data,
            results_dir=results_dir or action_results_dir(data, action),
        )


class Choices(BaseModel):
    """What a person may decide on top of the derivation (every field optional)."""

    checkpoint: str | None = None
    data_file: str | None = None
    dataset_name: str | None = None
    onnx_file: str | None = None
    trt_engine: str | None = None
    data_type: str | None = None
    calibration_images_dir: str | None = None
    results_dir: str | None = None  # the new action's own folder (``<action>.results_dir``)
    overrides: dict[str, Any] = Field(default_factory=dict)
    #: The data says the derived run's loss/metrics will be NaN, and the person goes on anyway (explicit only).
    allow_known_failure: bool = False


class Derived(BaseModel):
    action: str
    spec: ExperimentSpec
    problems: list[Problem]
    notes: list[str]
    image: str  # the container image the action runs in (deploy image for TensorRT)
    parent: str  # the source spec

    def header(self) -> str:
        return (
            f"depth_net {self.action} spec — derived by depthnet next\n{DERIVED_FROM} {self.parent}\n"
            f"run: depth_net {self.action} -e <this file>   (image {self.image})"
        )

    def text(self, *, full: bool = False) -> str:
        return render(self.spec, full=full, header=self.header())

    def default_path(self) -> Path:
        """``<results_dir>/specs/<action>[_trt].yaml``, the first free name."""
        trt = (
            "_trt"
            if self.action in ("evaluate", "inference") and getattr(self.spec, self.action).trt_engine
            else ""
        )
        return Path(free_path(str(Path(self.spec.results_dir or ".") / "specs" / f"{self.action}{trt}.yaml")))


# --------------------------------------------------------------------------- checkpoints


def find_checkpoint(train_dir: str) -> str:
    """The checkpoint a train run left: the file ``dn_model_latest.pth`` points at (a concrete name, so training
    on does not change what was evaluated), else the highest ``model_epoch_*_step_*.pth``."""
    latest = Path(train_dir) / "dn_model_latest.pth"
    if latest.exists():
        return str(latest.resolve()) if latest.is_symlink() else str(latest)
    found = []
    if Path(train_dir).is_dir():
        for p in Path(train_dir).glob("*.pth"):
            if m := _CKPT.search(p.name):
                found.append((int(m.group(1)), int(m.group(2)), str(p)))
    if not found:
        raise ChainError(
            f"{train_dir} holds no checkpoint (dn_model_latest.pth or model_epoch_*_step_*.pth): the "
            "run did not finish an epoch; pass --checkpoint to use another .pth"
        )
    return max(found)[2]


def parent_of(spec_path: str) -> str | None:
    """The spec a derived spec came from, read from its header (None for hand-written specs)."""
    try:
        with open(spec_path, encoding="utf-8") as f:
            for line in f:
                if not line.startswith("#"):
                    return None
                if DERIVED_FROM in line:
                    return line.split(DERIVED_FROM, 1)[1].strip() or None
    except OSError:
        return None
    return None


def _lineage(source: Source, limit: int = 6) -> list[dict[str, Any]]:
    """The source spec, then its parents (as far as their files still exist)."""
    specs, seen = [source.data], {source.spec_path}
    path: str | None = source.spec_path
    while (
        len(specs) < limit
        and path
        and (path := parent_of(path))
        and path not in seen
        and os.path.isfile(path)
    ):
        seen.add(path)
        try:
            specs.append(read_yaml(path))
        except SpecFileError:
            break
    return specs


def _find_sources(source: Source, action: str) -> tuple[list[dict[str, Any]], dict[str, Any], str] | None:
    """(data_sources, the split's other settings, where found) for the data the derived action reads."""
    for depth, data in enumerate(_lineage(source)):
        for split in DATA_SPLITS[action]:
            block = get_path(data, f"dataset.{split}") or {}
            if block.get("data_sources"):
                where = f"dataset.{split}" + (
                    "" if depth == 0 else f" of an earlier spec ({depth} up the chain)"
                )
                return (
                    copy.deepcopy(block["data_sources"]),
                    {k: v for k, v in block.items() if k != "data_sources"},
                    where,
                )
    return None


# --------------------------------------------------------------------------- derivation


def _engine_for(source: Source) -> str | None:
    return get_path(source.data, "gen_trt_engine.trt_engine") if source.action == "gen_trt_engine" else None


def _checkpoint_for(source: Source, choices: Choices) -> str:
    if choices.checkpoint:
        return choices.checkpoint
    if source.action == "train":
        return find_checkpoint(source.results_dir)
    for key in (f"{source.action}.checkpoint", "quantize.model_path"):
        if value := get_path(source.data, key):
            return value
    raise ChainError(f"{source.spec_path} names no checkpoint; pass --checkpoint")


def _base(source: Source) -> dict[str, Any]:
    """What every derived spec shares with its source: results root, model, the depth block."""
    # TAO's experiment.yaml holds every key of the schema, the stereo pipeline's too: only mono keys carry over.
    model = {
        k: v
        for k, v in copy.deepcopy(source.data.get("model") or {}).items()
        if k not in STEREO_ONLY["model"]
    }
    backbone = model.get("mono_backbone") or {}
    backbone.pop("pretrained_path", None)  # the trained checkpoint replaces the public weights
    if backbone:
        model["mono_backbone"] = backbone
    else:
        model.pop("mono_backbone", None)
    dataset = {
        k: v
        for k, v in (source.data.get("dataset") or {}).items()
        if k in ("dataset_name", "normalize_depth", "min_depth", "max_depth")
    }
    dataset.setdefault("dataset_name", "MonoDataset")
    out = {
        "results_dir": source.data.get("results_dir") or os.path.dirname(source.results_dir),
        "model": model,
        "dataset": dataset,
    }
    if "wandb" in source.data:
        out["wandb"] = copy.deepcopy(source.data["wandb"])
    return out


def _start_of(source: Source) -> str | None:
    """What the source train run started from (its spec's start key), for the derived spec's notes."""
    if source.action != "train":
        return None
    for key in ("train.pretrained_model_path", "model.mono_backbone.pretrained_path"):
        if value := get_path(source.data, key):
            return f"the train run started from {value} ({key}); the derived spec uses its trained checkpoint"
    return "the train run started from random weights (a sanity run)"


PATCH = 14  # the ViT patch: torch.export refuses an input size that is not a multiple (seen on the real TAO 7.3.0)


def export_size(source: Source, notes: list[str]) -> dict[str, int]:
    """The export input size: the training crop (a multiple of 14), never TAO's default 544 — TAO 7.3.0's export
    fails with "Input image height 544 is not a multiple of patch height 14" under torch 2.11."""
    crop = (source.data.get("dataset") or {}).get("train_dataset", {}) or {}
    size = (crop.get("augmentation") or {}).get("crop_size") if isinstance(crop, dict) else None
    if not (
        isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v % PATCH == 0 for v in size)
    ):
        size = [518, 518]
    notes.append(
        f"export input {size[0]}×{size[1]} (the training crop; TAO's default 544 is not a multiple of "
        f"the ViT patch {PATCH} and its export fails)"
    )
    return {"input_height": size[0], "input_width": size[1]}


def _data_block(source: Source, action: str, choices: Choices, notes: list[str]) -> dict[str, Any]:
    if choices.data_file:
        name = choices.dataset_name or _first_class(source) or "NYUDV2"
        return {"data_sources": [{"data_file": choices.data_file, "dataset_name": name}]}
    found = _find_sources(source, action)
    if found is None:
        raise ChainError(
            f"{action} needs data and no spec up the chain from {source.spec_path} lists any; "
            "pass --data-file (an annotation file; one column is enough for inference)"
        )
    sources, settings, where = found
    if choices.dataset_name:
        for s in sources:
            s["dataset_name"] = choices.dataset_name
    notes.append(f"data: {', '.join(s['data_file'] for s in sources)} (from {where})")
    return {**settings, "data_sources": sources}


def _first_class(source: Source) -> str | None:
    for data in _lineage(source):
        for split in ("train_dataset", "val_dataset", "test_dataset", "infer_dataset"):
            for s in get_path(data, f"dataset.{split}.data_sources") or []:
                if s.get("dataset_name"):
                    return s["dataset_name"]
    return None


def derive(source: Source, action: str, choices: Choices | None = None) -> Derived:
    """The next spec, validated like any other (the schema and the run-time checks). Raises ChainError."""
    choices = choices or Choices()
    allowed = NEXT_ACTIONS.get(source.action, ())
    if action not in allowed:
        after = f"; after {source.action} you can run {', '.join(allowed)}" if allowed else ""
        hint = (
            "; export first, then build the engine from the export run" if action == "gen_trt_engine" else ""
        )
        raise ChainError(f"{action} cannot follow {source.action}{after}{hint}")
    notes: list[str] = []
    start = _start_of(source)
    if start:
        notes.append(start)
    data = _base(source)
    root = data["results_dir"]
    model = data["model"]
    stem = f"{model.get('model_type', 'MetricDepthAnything').lower()}_{model.get('encoder', 'vitl')}"
    engine = _engine_for(source)
    image = DEPLOY_IMAGE if engine or action == "gen_trt_engine" else TRAIN_IMAGE

    if action in ("evaluate", "inference"):
        split = "test_dataset" if action == "evaluate" else "infer_dataset"
        data["dataset"][split] = _data_block(source, action, choices, notes)
        if engine:
            data[action] = {"trt_engine": choices.trt_engine or engine}
            notes.append(f"TensorRT {action} of {data[action]['trt_engine']} in the deploy image")
            default_dir = posixpath.join(root, f"{action}_trt")
        else:
            data[action] = {"checkpoint": _checkpoint_for(source, choices)}
            notes.append(f"checkpoint: {data[action]['checkpoint']}")
            default_dir = posixpath.join(root, action)
        if action == "inference":
            data[action]["save_raw_pfm"] = True
            notes.append(
                "inference.save_raw_pfm on: the results viewer reads the predicted values from the PFM files"
            )
        _own_results_dir(data, action, choices, default_dir, notes)
    elif action == "export":
        ckpt = _checkpoint_for(source, choices)
        default_onnx = posixpath.join(root, "export", f"{stem}.onnx")
        if choices.onnx_file and os.path.lexists(choices.onnx_file):
            raise ChainError(
                f"export.onnx_file {choices.onnx_file} already exists and TAO refuses to overwrite it; "
                f"use {free_path(choices.onnx_file)} (free) or remove the old file",
                [
                    Problem(
                        path="export.onnx_file",
                        message=f"{choices.onnx_file} already exists",
                        fix=f"use {free_path(choices.onnx_file)}",
                    )
                ],
            )
        onnx = choices.onnx_file or free_path(default_onnx)
        data["export"] = {"checkpoint": ckpt, "onnx_file": onnx, **export_size(source, notes)}
        notes.append(f"checkpoint: {ckpt}")
        notes.append(
            f"onnx_file: {onnx}"
            + (
                f" ({default_onnx} exists and TAO refuses to overwrite it)"
                if onnx != default_onnx and not choices.onnx_file
                else ""
            )
        )
        _own_results_dir(data, action, choices, posixpath.join(root, "export"), notes)
    elif action == "gen_trt_engine":
        onnx = choices.onnx_file or get_path(source.data, "export.onnx_file")
        if not onnx:
            raise ChainError(f"{source.spec_path} names no export.onnx_file; pass --onnx-file")
        dtype = (choices.data_type or "FP32").upper()
        engine_path = choices.trt_engine or free_path(
            posixpath.join(root, "gen_trt_engine", f"{Path(onnx).stem}.{dtype.lower()}.engine")
        )
        gen: dict[str, Any] = {
            "onnx_file": onnx,
            "trt_engine": engine_path,
            "tensorrt": {"data_type": dtype, "workspace_size": TRT_WORKSPACE.value},
        }
        batch = get_path(source.data, "export.batch_size")
        if isinstance(batch, int) and batch > 0:
            gen["batch_size"] = batch
            gen["tensorrt"].update(min_batch_size=batch, opt_batch_size=batch, max_batch_size=batch)
            notes.append(f"the ONNX has a fixed batch of {batch}: the engine profile uses it")
        data["gen_trt_engine"] = gen
        notes.append(f"engine: {engine_path} ({dtype}) from {onnx}")
        _own_results_dir(data, action, choices, posixpath.join(root, "gen_trt_engine"), notes)
    elif action == "quantize":
        ckpt = _checkpoint_for(source, choices)
        data["dataset"]["train_dataset"] = _data_block(source, action, choices, notes)
        val = get_path(source.data, "dataset.val_dataset")
        if val and val.get("data_sources"):
            data["dataset"]["val_dataset"] = copy.deepcopy(val)
        calib = choices.calibration_images_dir or _calibration_dir(data["dataset"]["train_dataset"])
        if calib:
            data["dataset"]["quant_calibration_dataset"] = {"images_dir": calib}
            if not choices.calibration_images_dir:
                notes.append(
                    f"calibration images: {calib} (the folder of the training images; pass "
                    "--calibration-images-dir to use another)"
                )
        data["quantize"] = {"model_path": ckpt}
        notes.append(f"model_path: {ckpt}")
        _own_results_dir(data, action, choices, posixpath.join(root, "quantize"), notes)

    for key, value in choices.overrides.items():
        set_path(data, key, value)
    try:
        spec = ExperimentSpec.model_validate(data)
    except ValidationError as err:
        probs = from_validation_error(err, ExperimentSpec)
        raise ChainError("\n".join(p.line() for p in probs), probs) from None
    problems = check_spec(spec, action)
    if choices.allow_known_failure:
        problems = accept_known_failures(problems)
    if errors(problems):
        raise ChainError("\n".join(p.line() for p in errors(problems)), errors(problems))
    return Derived(
        action=action, spec=spec, problems=problems, notes=notes, image=image, parent=source.spec_path
    )


def _own_results_dir(
    data: dict[str, Any], action: str, choices: Choices, default: str, notes: list[str]
) -> None:
    """Keep each run's status.json and outputs apart: a folder already holding a run gets a numbered sibling."""
    wanted = choices.results_dir or free_results_dir(default)
    if wanted != posixpath.join(data["results_dir"], action):
        data.setdefault(action, {})["results_dir"] = wanted
        if not choices.results_dir and wanted != default:
            notes.append(f"{default} already holds a run: writing to {wanted}")


def _calibration_dir(block: dict[str, Any]) -> str | None:
    """The folder holding the first listed training image (what the calibration usually should look like)."""
    from specgen.data.doctor.report import read_annotation

    for src in block.get("data_sources") or []:
        try:
            rows = read_annotation(src["data_file"])
        except OSError:
            continue
        if rows:
            return os.path.dirname(rows[0][0])
    return None
