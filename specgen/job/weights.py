"""Which spec key a weights file goes to, by what TAO 7.3.0 really loads — the one place that decides it.

Measured on the real TAO 7.3.0 (one H200, ``shared/fixtures/tao-7.3.0-h200/README.md``, the use-case matrix) and
read in its code (``dpt.py``: ``model.mono_backbone.pretrained_path`` is loaded into the DINOv2 backbone at model
construction — a Lightning file's ``model.pretrained.*``, else for Relative the file as-is, for Metric the keys
holding ``pretrained.``; ``train.pretrained_model_path`` is a strict load of the whole model — a Lightning file as
is, a public file with ``model.`` prefixed and, for Metric, ``depth_head`` renamed ``metric_depth_head``):

==========  =====================  ==================================  ==============================================
model_type  file                   key                                  what happens
==========  =====================  ==================================  ==============================================
any         public DA-V2 release   ``train.pretrained_model_path``      the whole model loads (Metric: the relative
                                                                        head starts the metric head)
Relative    bare DINOv2            ``model.mono_backbone.pretrained…``  the backbone loads, the head starts from scratch
Metric      bare DINOv2            —                                    refused: TAO fails after ~48 s (Missing key(s)
                                                                        "cls_token" …)
any         TAO, same head         ``train.pretrained_model_path``      the whole model loads
Metric      TAO Relative           ``model.mono_backbone.pretrained…``  "metric from scratch on a relative backbone"
Relative    TAO Metric             ``model.mono_backbone.pretrained…``  the backbone loads, a relative head from scratch
any         DDP (``module.*``)     —                                    refused: every key misses; strip-ddp fixes it
any         another encoder        —                                    refused: size mismatch
==========  =====================  ==================================  ==============================================

Never both keys: TAO loads the backbone at construction, then the whole-model load overwrites it. Evaluate and
inference take a TAO checkpoint or a public release (whole models); export and quantize take TAO checkpoints only.
The CLI (``spec --checkpoint``, ``validate``, ``next``), the wizard's Weights and Spec steps and the run preflight all
ask :func:`route` (or :func:`checkpoint_problems`), so each refusal comes in under 2 s instead of TAO's 43–95 s.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from specgen.data.checkpoints import CheckpointError, CheckpointInfo, inspect_checkpoint
from specgen.spec.catalog import METRIC_MODEL
from specgen.spec.problems import Problem
from specgen.spec.recipes import FRESH_RELATIVE_SEED, TAO_DEFAULT_SEED
from specgen.spec.releases import release_for_file

if TYPE_CHECKING:
    from specgen.spec.schema import ExperimentSpec

WHOLE = "train.pretrained_model_path"
BACKBONE = "model.mono_backbone.pretrained_path"
START_KEYS = (WHOLE, BACKBONE)
Start = Literal["whole", "backbone", "none"]
#: Where each action reads its checkpoint (train: the two start keys).
CHECKPOINT_KEYS = {
    "evaluate": "evaluate.checkpoint",
    "inference": "inference.checkpoint",
    "export": "export.checkpoint",
    "quantize": "quantize.model_path",
}
STRIP_DDP = "depthnet weights strip-ddp {file} -o {out}"
#: Above this lr a fresh Relative head died on the real TAO 7.3.0 (5e-5 and 1e-4 dead, 5e-6 alive; spec/recipes.py).
FRESH_HEAD_MAX_LR = 5e-6


@dataclass(frozen=True)
class Route:
    """Where a file goes for one model and action, or why it cannot go anywhere (``problem``)."""

    key: str | None  # the spec key the file goes to (None: refused)
    encoder: str | None  # the encoder the spec must use (the file's)
    start: Start  # whole model, backbone only (head from scratch), or none (refused)
    notes: tuple[str, ...] = ()
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def head_from_scratch(self) -> bool:
        return self.start == "backbone"


def _head_of(model_type: str) -> str:
    return "metric" if model_type == METRIC_MODEL else "relative"


def _short(info: CheckpointInfo) -> str:
    return os.path.basename(info.path) or info.path


def _refuse(info: CheckpointInfo, key: str, message: str, fix: str, encoder: str | None = None) -> Route:
    return Route(None, encoder or info.encoder, "none", (), Problem(path=key, message=message, fix=fix))


def _default_key(action: str) -> str:
    return WHOLE if action == "train" else CHECKPOINT_KEYS.get(action, f"{action}.checkpoint")


def strip_ddp_name(path: str) -> str:
    stem, ext = os.path.splitext(path)
    return f"{stem}_nomodule{ext or '.pth'}"


def route(
    info: CheckpointInfo,
    model_type: str,
    encoder: str | None = None,
    action: str = "train",
    *,
    use_bn: bool = False,
    use_clstoken: bool = False,
) -> Route:
    """The key ``info``'s file goes to for a ``model_type`` model and ``action`` (``encoder``: the spec's
    ``model.encoder``, or None when the person did not choose one — then the file's is taken, and said)."""
    key = _default_key(action)
    name = _short(info)
    what = info.describe()
    if info.format == "safetensors":
        return _refuse(
            info,
            key,
            f"{name} is a .safetensors file ({what}); TAO 7.3.0 reads weights with torch.load, which fails on it",
            f"convert it once: python -c \"import torch, safetensors.torch as s; torch.save(s.load_file('{info.path}'), "
            f"'{os.path.splitext(info.path)[0]}.pth')\"",
        )
    if info.layout == "ddp":
        inner = info.keys.inner
        return _refuse(
            info,
            key,
            f"{name} holds {inner} weights saved from a DistributedDataParallel model: every key starts with "
            f"{info.keys.prefix!r}, so TAO's strict load misses all of them",
            "rewrite the key names once (nothing else changes): "
            + STRIP_DDP.format(file=info.path, out=strip_ddp_name(info.path)),
        )
    if info.layout == "unknown":
        detail = info.notes[0] if info.notes else f"first keys: {', '.join(info.first_keys[:3]) or 'none'}"
        return _refuse(
            info,
            key,
            f"{name} is not a layout TAO 7.3.0 loads ({detail})",
            "give a TAO checkpoint, a public Depth Anything V2 release or a DINOv2 backbone (depthnet weights list)",
        )
    if info.encoder is None:
        return _refuse(
            info,
            key,
            f"{name}: {what}; its widths match no Depth Anything V2 encoder",
            "use a vits/vitb/vitl/vitg file",
        )
    notes: list[str] = []
    if encoder is None:
        notes.append(f"encoder {info.encoder} taken from the file (model.encoder: {info.encoder})")
    elif encoder != info.encoder:
        width = {"vits": 384, "vitb": 768, "vitl": 1024, "vitg": 1536}
        return _refuse(
            info,
            key,
            f"{name} holds a {info.encoder} model and model.encoder is {encoder}: TAO's strict load fails "
            f"(size mismatch for cls_token: [1, 1, {width[info.encoder]}] from checkpoint, "
            f"[1, 1, {width.get(encoder, '?')}] in current model)",
            f"set model.encoder: {info.encoder} (--encoder {info.encoder}), or use a {encoder} file",
        )
    head = _head_of(model_type)
    model_name = "Metric" if head == "metric" else "Relative"
    if action == "train":
        return _train_route(info, model_type, notes, use_bn=use_bn, use_clstoken=use_clstoken)
    # evaluate / inference / export / quantize: a whole model
    if info.layout == "dinov2" or not info.has_head:
        return _refuse(
            info,
            key,
            f"{name} is a backbone only ({what}): {action} needs a whole model (backbone and head)",
            "train from it first (depthnet spec train --checkpoint FILE) and use that run's checkpoint",
        )
    if info.layout == "public" and action in ("export", "quantize"):
        return _refuse(
            info,
            key,
            f"{name} is a public Depth Anything V2 release: TAO 7.3.0's {action} loads Lightning checkpoints only",
            f"fine-tune from it first (depthnet spec train --checkpoint {info.path}; even one epoch) and {action} "
            "that run's checkpoint",
        )
    if info.layout == "public" and info.keys.head == "metric":
        return _refuse(
            info,
            key,
            f"{name}: {info.notes[0] if info.notes else 'metric_depth_head keys'}",
            "rename the keys",
        )
    if info.layout == "tao" and info.head and info.head != head:
        return _refuse(
            info,
            key,
            f"{name} is a TAO checkpoint of a {info.head.capitalize()} model: a {model_name} model's strict load fails "
            f'(Missing key(s) "model.{_head_key(head)}.…", Unexpected key(s) "model.{_head_key(info.head)}.…")',
            f"set model.model_type: {_model_type(info.head)}, or give a {model_name} checkpoint",
        )
    if (info.keys.use_bn, info.keys.use_clstoken) != (use_bn, use_clstoken):
        return _refuse(info, key, *_architecture(info, use_bn, use_clstoken))
    if info.layout == "public" and head == "metric":
        notes.append(
            "a public file in a Metric model: TAO renames depth_head → metric_depth_head; a relative release's "
            "head predicts metres only after fine-tuning"
        )
    return Route(key, info.encoder, "whole", tuple(notes))


def _head_key(head: str) -> str:
    return "metric_depth_head" if head == "metric" else "depth_head"


def _model_type(head: str) -> str:
    return "MetricDepthAnything" if head == "metric" else "RelativeDepthAnything"


def _architecture(info: CheckpointInfo, use_bn: bool, use_clstoken: bool) -> tuple[str, str]:
    return (
        f"{_short(info)} has a head with use_bn={info.keys.use_bn}, use_clstoken={info.keys.use_clstoken} and the "
        f"spec builds use_bn={use_bn}, use_clstoken={use_clstoken}: the strict load fails",
        f"set model.mono_backbone.use_bn: {str(info.keys.use_bn).lower()} and model.mono_backbone.use_clstoken: "
        f"{str(info.keys.use_clstoken).lower()}",
    )


def _train_route(
    info: CheckpointInfo, model_type: str, notes: list[str], *, use_bn: bool, use_clstoken: bool
) -> Route:
    name = _short(info)
    head = _head_of(model_type)
    model_name = "Metric" if head == "metric" else "Relative"
    enc = info.encoder
    scratch = f"the {head} head starts from scratch"

    def whole(*extra: str) -> Route:
        if info.has_head and (info.keys.use_bn, info.keys.use_clstoken) != (use_bn, use_clstoken):
            return _refuse(info, WHOLE, *_architecture(info, use_bn, use_clstoken))
        return Route(WHOLE, enc, "whole", (*notes, *extra))

    def backbone(*extra: str) -> Route:
        return Route(
            BACKBONE, enc, "backbone", (*notes, *extra, f"{scratch}: the recipe trains a fresh head")
        )

    if info.layout == "tao":
        if info.head == head:
            return whole(
                f"whole model (backbone + {head} head) from the TAO checkpoint"
                + (f" of epoch {info.epoch}" if info.epoch is not None else "")
                + " — its optimizer state is not resumed (that is train.resume_training_checkpoint_path)"
            )
        if info.head == "relative":  # a Metric model on a Relative checkpoint
            return backbone(
                'NVIDIA\'s "metric from scratch on top of a relative backbone": the backbone comes from the TAO '
                'Relative checkpoint (a whole-model load fails: Missing key(s) "model.metric_depth_head.…")'
            )
        return backbone(
            f"the backbone comes from the TAO {(info.head or 'headless').capitalize()} checkpoint (a whole-model "
            f"load into a {model_name} model fails on the head's names)"
        )
    if info.layout == "public":
        if info.keys.head == "metric":
            return _refuse(
                info,
                WHOLE,
                f"{name}: {info.notes[0] if info.notes else 'head keys named metric_depth_head'}",
                "rename metric_depth_head.* to depth_head.* (or use a public release as it was published)",
            )
        if info.has_head:
            return whole(
                "whole model (backbone + head) from the public release"
                + (
                    "; TAO renames its depth_head → metric_depth_head (a relative release's head predicts metres "
                    "only after fine-tuning)"
                    if head == "metric"
                    else ""
                )
            )
        if head == "metric":  # pretrained.* only: TAO strips the prefix for Metric
            return backbone("the backbone comes from the file's pretrained.* keys")
        return _refuse(
            info,
            BACKBONE,
            f"{name} holds only pretrained.* keys (a DA-V2 backbone with its prefix): a Relative model loads a backbone "
            'file as-is, so every key misses (Unexpected key(s) "pretrained.cls_token", …)',
            "strip the 'pretrained.' prefix (a bare DINOv2 loads as a Relative backbone), or use a whole public release",
        )
    # bare DINOv2
    if head == "metric":
        return _refuse(
            info,
            BACKBONE,
            f"{name} is a bare DINOv2 backbone: a Metric model keeps only keys holding 'pretrained.' from a backbone "
            'file, so TAO\'s strict load fails after ~48 s (Missing key(s) "cls_token", …)',
            "start the Metric model from a public release (depthnet weights list: a da2-* or da2-metric-* file, "
            "train.pretrained_model_path), or train a Relative model from this backbone",
        )
    return backbone("the backbone comes from the DINOv2 file")


# --------------------------------------------------------------------------- files, specs


@lru_cache(maxsize=64)
def _inspect_cached(path: str, _mtime: int, _size: int) -> CheckpointInfo:
    return inspect_checkpoint(path)


def inspect_file(path: str) -> CheckpointInfo:
    """:func:`inspect_checkpoint`, once per version of the file (the wizard and validate ask often)."""
    try:
        st = os.stat(path)
    except OSError:
        return inspect_checkpoint(path)  # says why in one line
    return _inspect_cached(os.path.abspath(path), st.st_mtime_ns, st.st_size)


def readable_checkpoint(path: str) -> bool:
    """True when the inspector can read ``path`` (an action's checkpoint that is not here yet, or a placeholder,
    is left to the run; a start file must be readable: its key depends on what it holds)."""
    try:
        inspect_file(path)
    except CheckpointError:
        return False
    return True


def route_file(
    path: str,
    model_type: str,
    encoder: str | None = None,
    action: str = "train",
    *,
    key: str | None = None,
    use_bn: bool = False,
    use_clstoken: bool = False,
) -> Route:
    """:func:`route` for a path: a file that cannot be read is refused with the inspector's line."""
    where = key or _default_key(action)
    try:
        info = inspect_file(path)
    except CheckpointError as exc:
        message = str(exc)
        fix = "check the path (depthnet weights list shows the public files; depthnet weights fetch gets one)"
        return Route(None, encoder, "none", (), Problem(path=where, message=message, fix=fix))
    return route(info, model_type, encoder, action, use_bn=use_bn, use_clstoken=use_clstoken)


def start_of(spec: ExperimentSpec) -> Start:
    """What a train spec starts from, by its keys (the recipe that fits follows from it)."""
    if spec.train.pretrained_model_path:
        return "whole"
    if spec.model.mono_backbone.pretrained_path:
        return "backbone"
    return "none"


def checkpoint_problems(
    spec: ExperimentSpec, action: str | None, *, check_files: bool = True
) -> list[Problem]:
    """Every way the spec's weights keys disagree with TAO 7.3.0: both start keys set, a file missing, a file in
    the wrong key (with the right one as the fix), export of a public release, a fresh head at a fine-tune lr, a
    metric release at another max_depth. What ``validate`` and the run preflight report."""
    out: list[Problem] = []
    act = action or "train"
    mt, enc = spec.model.model_type, spec.model.encoder
    bn, cls = spec.model.mono_backbone.use_bn, spec.model.mono_backbone.use_clstoken
    if act == "train":
        whole, backbone = spec.train.pretrained_model_path, spec.model.mono_backbone.pretrained_path
        if whole and backbone:
            out.append(
                Problem(
                    path=BACKBONE,
                    message="both start keys are set: TAO loads this backbone at construction, then "
                    "train.pretrained_model_path overwrites the whole model",
                    fix="keep one: remove model.mono_backbone.pretrained_path (the whole-model file has a backbone)",
                )
            )
        for key, path in ((WHOLE, whole), (BACKBONE, backbone)):
            if not path or not check_files:
                continue
            if not os.path.lexists(path):
                out.append(
                    Problem(
                        path=key,
                        message=f"{path} does not exist on this machine",
                        fix="give an existing file (depthnet weights list / fetch), or remove the key for random weights",
                    )
                )
                continue
            out += _start_problems(spec, key, path)
        if not whole and not backbone:
            out += _fresh_head_lr(spec, "no weights are set (random init)")
    elif act in CHECKPOINT_KEYS:
        key = CHECKPOINT_KEYS[act]
        path = spec.quantize.model_path if act == "quantize" else getattr(spec, act).checkpoint
        if path and check_files and os.path.lexists(path):
            try:
                inspect_file(path)
            except CheckpointError as exc:  # TAO's own output, or not written yet: the run will say
                out.append(Problem(severity="warning", path=key, message=str(exc), fix="check the file"))
            else:
                r = route_file(path, mt, enc, act, key=key, use_bn=bn, use_clstoken=cls)
                if r.problem is not None:
                    out.append(r.problem.model_copy(update={"path": key}))
    return out


Outcome = Literal["whole", "backbone", "fails"]


def tao_outcome(info: CheckpointInfo, model_type: str, key: str, encoder: str | None = None) -> Outcome:
    """What TAO 7.3.0 itself does with ``info``'s file in ``key`` (train's two start keys, or an action's
    checkpoint key): loads the whole model, loads the backbone only, or fails — the measured matrix, as code."""
    if info.format == "safetensors" or info.layout in ("ddp", "unknown") or info.encoder is None:
        return "fails"
    if encoder is not None and encoder != info.encoder:
        return "fails"
    head = _head_of(model_type)
    lightning = info.lightning_version is not None
    if key == BACKBONE:
        if lightning:
            return "backbone" if info.keys.has_backbone else "fails"
        if head == "relative":
            return "backbone" if info.layout == "dinov2" else "fails"
        return "backbone" if info.layout == "public" and info.keys.has_backbone else "fails"
    if lightning:
        return "whole" if info.head == head else "fails"
    if key in ("export.checkpoint", "quantize.model_path"):
        return "fails"
    if info.layout == "public" and info.has_head and info.keys.head == "relative" and info.keys.has_backbone:
        return "whole"
    return "fails"


def _start_problems(spec: ExperimentSpec, key: str, path: str) -> list[Problem]:
    """One start key against its file: an error when TAO fails with it, a warning when TAO loads less than the
    file holds (a whole public release in the backbone key), the start's own warnings otherwise."""
    mt, enc = spec.model.model_type, spec.model.encoder
    bn, cls = spec.model.mono_backbone.use_bn, spec.model.mono_backbone.use_clstoken
    r = route_file(path, mt, enc, "train", key=key, use_bn=bn, use_clstoken=cls)
    if r.problem is not None:  # unreadable, or no key takes it (the refusal says why and what to do)
        return [r.problem.model_copy(update={"path": key})]
    info = inspect_file(path)
    outcome = tao_outcome(info, mt, key, enc)
    model = "Metric" if mt == METRIC_MODEL else "Relative"
    if r.key == key:
        return _start_warnings(spec, path, r)
    name = os.path.basename(path)
    if outcome == "fails":
        return [
            Problem(
                path=key,
                message=f"{name} ({info.describe()}) in {key}: TAO 7.3.0's strict load fails for a {model} model",
                fix=f"move it to {r.key}" + (f" ({r.notes[-1]})" if r.notes else ""),
            )
        ]
    return [
        Problem(
            severity="warning",
            path=key,
            message=f"{name} ({info.describe()}) in {key}: TAO loads only its backbone and the head starts "
            "from scratch, although the file holds a whole model",
            fix=f"move it to {r.key} to start from the whole model",
        )
    ]


def _fresh_head_lr(spec: ExperimentSpec, why: str) -> list[Problem]:
    """A fresh Relative head at an lr or seed it was measured dead at on the real TAO 7.3.0 (spec/recipes.py):
    TAO would print PASS for a model that predicts nothing; the verdict would say so only at the end."""
    if spec.model.model_type == METRIC_MODEL:  # its sigmoid head learned at every lr measured
        return []
    lr, seed = spec.train.optim.lr, spec.train.seed
    high, default_seed = lr > FRESH_HEAD_MAX_LR, seed == TAO_DEFAULT_SEED
    if not (high or default_seed):
        return []
    causes = [f"lr {lr:g} (the head gets 10×)"] * high + [
        f"TAO's default seed {TAO_DEFAULT_SEED}"
    ] * default_seed
    fixes = [f"train.optim.lr: {FRESH_HEAD_MAX_LR:g}"] * high + [
        f"train.seed: {FRESH_RELATIVE_SEED.value}"
    ] * default_seed
    return [  # one warning, every measured cause in it
        Problem(
            severity="warning",
            path="train.optim.lr" if high else "train.seed",
            message=f"{why}: the Relative head starts from scratch, and at {' and '.join(causes)} a fresh head died "
            "on the real TAO 7.3.0 (its ReLU stopped every prediction at 0: val/abs_rel NaN, δ1 0)",
            fix=f"set {' and '.join(fixes)} (the recipe's values: depthnet spec … --recipe finetune), or start "
            "from a whole model (train.pretrained_model_path)",
        )
    ]


def _start_warnings(spec: ExperimentSpec, path: str, r: Route) -> list[Problem]:
    out = _fresh_head_lr(spec, "a backbone-only start") if r.head_from_scratch else []
    release = release_for_file(path)
    if (
        release
        and release.max_depth is not None
        and spec.model.model_type == METRIC_MODEL
        and spec.dataset.max_depth is not None
        and spec.dataset.max_depth != release.max_depth
    ):
        out.append(
            Problem(
                severity="warning",
                path="dataset.max_depth",
                message=f"{release.name} was trained with max_depth {release.max_depth:g} and the spec says "
                f"{spec.dataset.max_depth:g}: the metric head predicts sigmoid × max_depth, so its first predictions "
                f"are scaled by {spec.dataset.max_depth / release.max_depth:.2g} until fine-tuning relearns the scale",
                fix=f"set dataset.max_depth: {release.max_depth:g} unless your scenes need another range",
            )
        )
    return out
