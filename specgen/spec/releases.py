"""The public weights a depth_net run can start from: what each file is, its licence and where it comes from.

Sources (read 2026-12): the Depth Anything V2 README (relative releases; "Depth-Anything-V2-Small model is under the
Apache-2.0 license. Depth-Anything-V2-Base/Large/Giant models are under the CC-BY-NC-4.0 license"; the Giant is
listed as "Coming soon" — not public), its ``metric_depth/README.md`` (six metric models, Hypersim indoor trained with
``max_depth`` 20 and Virtual KITTI 2 outdoor with 80, S/B/L), and the DINOv2 README ("DINOv2 code and model weights
are released under the Apache License 2.0"; backbone-only files on Meta's download server, not on the Hugging Face
Hub in this layout: the Hub's ``facebook/dinov2-*`` repos hold the transformers layout TAO cannot load).

Parameter counts are the tensors' sums (``specgen.data.checkpoints.expected_shapes`` gives the same numbers); the
size is float32 bytes. Which spec key takes each kind is ``specgen/job/weights.py``'s business.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ReleaseKind = Literal["relative", "metric", "backbone"]

DA2_CODE = "https://github.com/DepthAnything/Depth-Anything-V2"
DINOV2_CODE = "https://github.com/facebookresearch/dinov2"
DINOV2_BASE_URL = "https://dl.fbaipublicfiles.com/dinov2"
HF_BASE_URL = "https://huggingface.co"

_PARAMS = {"vits": 24_785_089, "vitb": 97_470_785, "vitl": 335_315_649}
_DINO_PARAMS = {"vits": 22_056_576, "vitb": 86_580_480, "vitl": 304_368_640, "vitg": 1_136_480_768}
_SIZE_NAME = {"vits": "Small", "vitb": "Base", "vitl": "Large", "vitg": "Giant"}
_LICENCE = {"vits": "Apache-2.0", "vitb": "CC-BY-NC-4.0", "vitl": "CC-BY-NC-4.0"}


@dataclass(frozen=True)
class Release:
    """One public weights file."""

    name: str  # what ``depthnet weights fetch NAME`` takes
    title: str
    kind: ReleaseKind  # relative / metric: a whole Depth Anything V2 model; backbone: a bare DINOv2
    encoder: str
    licence: str  # SPDX identifier
    parameters: int
    filename: str
    repo_id: str | None  # the Hugging Face Hub repo; None when the file is not on the Hub
    url: str  # where it comes from, for people (and the one download a person does by hand)
    max_depth: float | None = None  # metric releases: the dataset.max_depth they were trained with
    trained_on: str | None = None

    @property
    def size_bytes(self) -> int:
        return 4 * self.parameters  # float32

    @property
    def fetchable(self) -> bool:
        return self.repo_id is not None

    @property
    def non_commercial(self) -> bool:
        return "NC" in self.licence

    def size_text(self) -> str:
        mb = self.size_bytes / 1e6
        return f"{mb / 1000:.2f} GB" if mb >= 1000 else f"{mb:.0f} MB"


def _da2(encoder: str) -> Release:
    repo = f"depth-anything/Depth-Anything-V2-{_SIZE_NAME[encoder]}"
    filename = f"depth_anything_v2_{encoder}.pth"
    return Release(
        name=f"da2-{encoder}",
        title=f"Depth Anything V2 {_SIZE_NAME[encoder]} (relative)",
        kind="relative",
        encoder=encoder,
        licence=_LICENCE[encoder],
        parameters=_PARAMS[encoder],
        filename=filename,
        repo_id=repo,
        url=f"{HF_BASE_URL}/{repo}/resolve/main/{filename}",
    )


def _metric(dataset: str, encoder: str) -> Release:
    nice, repo_part, max_depth, where = {
        "hypersim": ("Hypersim", "Hypersim", 20.0, "Hypersim (synthetic indoor scenes)"),
        "vkitti": ("Virtual KITTI 2", "VKITTI", 80.0, "Virtual KITTI 2 (synthetic outdoor driving)"),
    }[dataset]
    repo = f"depth-anything/Depth-Anything-V2-Metric-{repo_part}-{_SIZE_NAME[encoder]}"
    filename = f"depth_anything_v2_metric_{dataset}_{encoder}.pth"
    return Release(
        name=f"da2-metric-{dataset}-{encoder}",
        title=f"Depth Anything V2 {_SIZE_NAME[encoder]} metric, {nice}",
        kind="metric",
        encoder=encoder,
        licence=_LICENCE[encoder],
        parameters=_PARAMS[encoder],
        filename=filename,
        repo_id=repo,
        url=f"{HF_BASE_URL}/{repo}/resolve/main/{filename}",
        max_depth=max_depth,
        trained_on=where,
    )


def _dinov2(encoder: str) -> Release:
    stem = f"dinov2_{encoder}14"
    return Release(
        name=f"dinov2-{encoder}14",
        title=f"DINOv2 ViT-{encoder[-1].upper()}/14 backbone",
        kind="backbone",
        encoder=encoder,
        licence="Apache-2.0",
        parameters=_DINO_PARAMS[encoder],
        filename=f"{stem}_pretrain.pth",
        repo_id=None,
        url=f"{DINOV2_BASE_URL}/{stem}/{stem}_pretrain.pth",
    )


RELEASES: tuple[Release, ...] = (
    *(_da2(e) for e in ("vits", "vitb", "vitl")),
    *(_metric(d, e) for d in ("hypersim", "vkitti") for e in ("vits", "vitb", "vitl")),
    *(_dinov2(e) for e in ("vits", "vitb", "vitl", "vitg")),
)

#: What is not public, said when someone asks for it.
NOT_PUBLIC = {
    "da2-vitg": "the Depth Anything V2 Giant (ViT-G) weights are not public (its README says 'Coming soon'); "
    "use da2-vitl, or train ViT-G from dinov2-vitg14"
}


def find_release(name: str) -> Release | None:
    """A release by its name, or by its file name (``depth_anything_v2_vits.pth``)."""
    wanted = name.strip().lower()
    return next((r for r in RELEASES if wanted in (r.name, r.filename.lower())), None)


def release_for_file(path: str) -> Release | None:
    """The release a downloaded file is, from its name (how the wizard recalls a metric release's max_depth)."""
    base = path.replace("\\", "/").rsplit("/", 1)[-1].lower()
    return next((r for r in RELEASES if r.filename.lower() == base), None)
