"""One typed spec through the engine: the spec file is read and validated once, into ``RunSpec``, and that object —
with its resolved results folder and data files — is what preflight, the launch, the monitor and the verdict use."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from specgen.spec.paths import action_results_dir
from specgen.spec.schema import ExperimentSpec

#: Which dataset splits each action reads (the others may be left in the spec and are not checked).
SPLITS: dict[str, tuple[str, ...]] = {
    "train": ("train_dataset", "val_dataset"),
    "evaluate": ("test_dataset",),
    "inference": ("infer_dataset",),
    "quantize": ("train_dataset", "val_dataset"),
}


class SpecUnusable(ValueError):
    """The spec cannot be run as it is; the message has every problem, one per line."""


@dataclass(frozen=True)
class RunSpec:
    action: str
    path: str  # absolute
    spec: ExperimentSpec
    data: dict[str, Any] = field(
        default_factory=dict, repr=False, compare=False
    )  # the YAML as read (for a job copy)
    results_dir: str = field(init=False)
    data_files: dict[str, str] = field(init=False)  # dotted key → annotation file the action reads

    def __post_init__(self) -> None:
        object.__setattr__(self, "results_dir", action_results_dir(self.spec, self.action))
        files: dict[str, str] = {}
        for split in SPLITS.get(self.action, ()):
            for i, src in enumerate(getattr(self.spec.dataset, split).data_sources or []):
                files[f"dataset.{split}.data_sources[{i}].data_file"] = src.data_file
        object.__setattr__(self, "data_files", files)

    @property
    def output_target(self) -> tuple[str, str] | None:
        """(key, path) of the one file the action must write, for export and the engine build."""
        if self.action == "export" and self.spec.export.onnx_file:
            return "export.onnx_file", self.spec.export.onnx_file
        if self.action == "gen_trt_engine" and self.spec.gen_trt_engine.trt_engine:
            return "gen_trt_engine.trt_engine", self.spec.gen_trt_engine.trt_engine
        return None

    @property
    def first_source(self) -> tuple[str, str] | None:
        """(annotation file, dataset class) the action learns or measures on first: where a NaN comes from."""
        split = "train_dataset" if self.action == "train" else "test_dataset"
        sources = getattr(self.spec.dataset, split).data_sources or []
        return (sources[0].data_file, sources[0].dataset_name) if sources else None


def load_run_spec(
    path: str, action: str, *, allow_known_failure: bool = False, check_files: bool = True
) -> RunSpec:
    """Read, parse and validate once; SpecUnusable (every error, one per line) when it cannot run — a run the data
    says will produce NaN included, unless ``allow_known_failure``. ``check_files=False`` judges the spec alone:
    a run judged after the fact, on another machine, names files that need not exist here."""
    from specgen.job.validate import errors, validate_data
    from specgen.spec.render import SpecFileError, read_yaml

    try:
        data = read_yaml(path)
    except SpecFileError as exc:
        raise SpecUnusable(str(exc)) from None
    spec, found = validate_data(
        data, action, check_files=check_files, allow_known_failure=allow_known_failure
    )
    if spec is None or errors(found):
        raise SpecUnusable("\n".join(p.line() for p in (errors(found) or found)))
    return RunSpec(action=action, path=os.path.abspath(path), spec=spec, data=data)


def try_load(path: str | None, action: str) -> RunSpec | None:
    """For judging a run after the fact: the spec when it can still be read, else None (the verdict goes on)."""
    if not path:
        return None
    try:
        return load_run_spec(
            path, action, allow_known_failure=True, check_files=False
        )  # judging, not launching
    except (SpecUnusable, OSError, ValueError):
        return None
