"""The mono dataset classes of TAO 7.3.0 depth_net and which model_type each pairs with.

A wrong pair is the cheapest mistake to make and one of the most expensive to find: a metric model on a
relative (disparity) class, or the other way round, trains without complaint on the wrong targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from specgen.spec.names import METRIC_MODEL, RELATIVE_MODEL

if TYPE_CHECKING:  # the CLI reads DATASETS for its choices before anything is validated: no pydantic here
    from specgen.spec.problems import Finding

Kind = Literal["metric", "relative"]


@dataclass(frozen=True)
class DatasetClass:
    name: str
    kind: Kind
    ground_truth: str
    depth_exts: tuple[str, ...]
    explanation: str

    @property
    def model_type(self) -> str:
        return METRIC_MODEL if self.kind == "metric" else RELATIVE_MODEL


DATASETS: tuple[DatasetClass, ...] = (
    DatasetClass(
        "NYUDV2",
        "metric",
        "16-bit PNG in millimetres (raw NYU sync_depth_*.png), 640×480",
        (".png",),
        "NYU Depth V2: divides by 1000 to metres, keeps 0.001–10 m, then crops rows 45–470 × cols 41–600.",
    ),
    DatasetClass(
        "MetricMonoDataset",
        "metric",
        "depth already in metres: float PFM, or PNG whose raw pixel value is metres",
        (".png", ".pfm"),
        "Generic metric class: no unit conversion; valid where min_depth < d < max_depth (default 0.001–10).",
    ),
    DatasetClass(
        "NYUDV2Relative",
        "relative",
        "16-bit PNG in millimetres (raw NYU sync_depth_*.png), 640×480",
        (".png",),
        "NYU Depth V2 for relative training: millimetres → metres, 0.001–10 m mask, NYU crop, then disparity (1/d).",
    ),
    DatasetClass(
        "RelativeMonoDataset",
        "relative",
        "relative depth / disparity: float PFM (flipped) or PNG raw values; valid where value < 1000",
        (".png", ".pfm"),
        "Generic relative class: values used as disparity with no unit conversion; only values under 1000 count.",
    ),
    DatasetClass(
        "ThreeDVLM",
        "relative",
        "NumPy .npy depth in metres",
        (".npy",),
        "ThreeDVLM: .npy depth × 1000, converted to disparity.",
    ),
    DatasetClass(
        "FSD",
        "relative",
        "8-bit RGB PNG encoding depth as R·255² + G·255 + B (millimetres)",
        (".png",),
        "FSD: decodes 24-bit RGB-encoded depth, ÷ 1000, 0 → +inf.",
    ),
    DatasetClass(
        "NvCLIP",
        "relative",
        "PFM disparity, stored top-down (not flipped)",
        (".pfm",),
        "NvCLIP: PFM read without the vertical flip.",
    ),
    DatasetClass(
        "IssacStereo",
        "relative",
        "PFM disparity (bottom-up, flipped on read)",
        (".pfm",),
        "Isaac Sim stereo data (TAO's spelling 'Issac'): PFM disparity, flipped vertically.",
    ),
    DatasetClass(
        "Crestereo",
        "relative",
        "16-bit PNG disparity × 32",
        (".png",),
        "CREStereo: 16-bit PNG disparity divided by 32.",
    ),
    DatasetClass(
        "Middlebury",
        "relative",
        "PFM disparity (flipped) or PNG (0 → +inf)",
        (".pfm", ".png"),
        "Middlebury: PFM disparity, flipped vertically; PNG with 0 as invalid.",
    ),
)

_BY_LOWER = {d.name.lower(): d for d in DATASETS}
RAW_NYU_HINT = "sync_depth_"


def lookup_dataset(name: str) -> DatasetClass | None:
    """TAO matches dataset_name case-insensitively; so do we."""
    return _BY_LOWER.get(name.strip().lower())


def classes_for(model_type: str) -> list[DatasetClass]:
    return [d for d in DATASETS if d.model_type == model_type]


def nyu_class_for(model_type: str) -> str:
    return "NYUDV2" if model_type == METRIC_MODEL else "NYUDV2Relative"


def check_pair(model_type: str, dataset_name: str, depth_paths: list[str] | None = None) -> list[Finding]:
    """Problems with a model_type / dataset_name pair (the house's one ``Finding`` type).

    ``depth_paths`` (a few depth paths from the annotation file) feeds the raw-NYU file-name heuristic;
    the data doctor backs it with what the files contain.
    """
    from specgen.spec.problems import Finding

    ds = lookup_dataset(dataset_name)
    if ds is None:
        return [
            Finding(
                severity="error",
                message=f"unknown dataset class {dataset_name!r} (TAO fails: 'Dataset type {dataset_name} not supported')",
                fix=f"use one of {', '.join(d.name for d in DATASETS)}",
            )
        ]
    issues: list[Finding] = []
    if model_type not in (METRIC_MODEL, RELATIVE_MODEL):
        issues.append(
            Finding(
                severity="error",
                message=f"model_type {model_type!r} is not a mono model",
                fix=f"use {METRIC_MODEL} or {RELATIVE_MODEL}",
            )
        )
    elif ds.model_type != model_type:
        alternatives = ", ".join(d.name for d in classes_for(model_type))
        issues.append(
            Finding(
                severity="error",
                message=f"{ds.name} is a {ds.kind} class and pairs with {ds.model_type}, not {model_type}",
                fix=f"set model_type {ds.model_type}, or pick a class for {model_type}: {alternatives}",
            )
        )
    generic = ds.name in ("MetricMonoDataset", "RelativeMonoDataset")
    looks_nyu = any(RAW_NYU_HINT in p.rsplit("/", 1)[-1] for p in depth_paths or ())
    if generic and looks_nyu and model_type in (METRIC_MODEL, RELATIVE_MODEL):
        better = nyu_class_for(model_type)
        issues.append(
            Finding(
                severity="warning",
                message=(
                    f"{ds.name} with files named like raw NYU ({RAW_NYU_HINT}*.png, uint16 millimetres): "
                    "the generic class reads millimetres as metres, the valid mask is empty and train_loss is NaN"
                ),
                fix=f"use dataset_name {better} (run `depthnet doctor` to confirm from the files)",
            )
        )
    return issues


def pairing_table() -> list[dict[str, str]]:
    return [
        {
            "dataset_name": d.name,
            "model_type": d.model_type,
            "kind": d.kind,
            "ground_truth": d.ground_truth,
            "depth_extensions": " ".join(d.depth_exts),
            "explanation": d.explanation,
        }
        for d in DATASETS
    ]
