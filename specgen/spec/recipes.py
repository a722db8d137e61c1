"""Fine-tune recipes: editable defaults, each value with the one-line reason the UI shows."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from specgen.spec.catalog import METRIC_MODEL
from specgen.spec.names import RECIPES, STARTS  # noqa: F401 (re-exported: callers read the starts beside the recipes)

RecipeName = Literal["finetune", "sanity", "plain"]

NYU_MIN_DEPTH = 0.001
NYU_MAX_DEPTH = 10.0


class RecipeValue(BaseModel):
    path: str
    value: Any
    reason: str


class Recipe(BaseModel):
    name: str
    title: str
    summary: str
    values: list[RecipeValue]

    def as_dict(self) -> dict[str, Any]:
        return {v.path: v.value for v in self.values}


Start = Literal["whole", "backbone", "none"]
START_TITLES = {
    "whole": "a whole pretrained model",
    "backbone": "a pretrained backbone, the head from scratch",
    "none": "random weights (a sanity run)",
}

#: The learning rate per start. TAO 7.3.0 gives parameters whose names hold ``pretrained`` (the DINOv2 backbone)
#: ``optim.lr`` and every other one (the DPT head) 10× that (facts §3.5). Measured on the real TAO 7.3.0 (one H200,
#: vitb, Redwood, 2 epochs; benchmarks/gpu_lr_probe.sh and gpu_finetune.sh): a fresh Relative head (its last layer
#: a ReLU) learned at 5e-6 from random weights and from a DINOv2 backbone, and died — every prediction 0, val/abs_rel
#: NaN, δ1 0 — at 5e-5 and 1e-4; a Metric model from random weights learned at both 1e-4 and 5e-6, better at 5e-6.
_LR: dict[str, RecipeValue] = {
    "whole": RecipeValue(
        path="train.optim.lr",
        value=5e-6,
        reason="Backbone and head are already trained: 5e-6 for the backbone (TAO gives the DPT head 10×, 5e-5) "
        "adapts Depth Anything V2 without wrecking its features.",
    ),
    "backbone": RecipeValue(
        path="train.optim.lr",
        value=5e-6,
        reason="The head starts from scratch, and TAO gives it 10× (5e-5). On the real TAO 7.3.0 a fresh Relative "
        "head learned at 5e-6 and died at 5e-5 (its ReLU stops every prediction at 0: val/abs_rel NaN, δ1 0).",
    ),
    "none": RecipeValue(
        path="train.optim.lr",
        value=5e-6,
        reason="Random weights (the head gets 10×): on the real TAO 7.3.0 a Relative head learned at 5e-6 and died at 1e-4 (TAO's "
        "default), and a Metric model learned faster at 5e-6 than at 1e-4. Proves the pipeline runs; a useful "
        "model needs pretrained weights.",
    ),
}

#: TAO's default ``train.seed`` is 1234. A fresh Relative head (random weights or a backbone-only start) at that seed
#: started dead on the real TAO 7.3.0 (vitb, crops 224 and 518, every lr from 5e-6 to 1e-4, and from a DINOv2
#: backbone); seeds 7 and 42 learned. Whether a head starts dead is a matter of its initial weights, so of the seed.
FRESH_RELATIVE_SEED = RecipeValue(
    path="train.seed",
    value=42,
    reason="A fresh Relative head ends in a ReLU and can start dead (every prediction 0, no gradient): at TAO's "
    "default seed 1234 it did on the real TAO 7.3.0, at 42 it learned. The verdict says so if it happens anyway.",
)
TAO_DEFAULT_SEED = 1234

_SCHEDULE = RecipeValue(
    path="train.optim.lr_scheduler",
    value="LambdaLR",
    reason="TAO 7.3.0's LambdaLR decays the lr linearly to 0 over the run, stepped every optimizer step (factor "
    "1 − step / (epochs × steps per epoch)); there is no warm-up (train.optim.warmup_steps is read nowhere).",
)

_COMMON = [
    RecipeValue(
        path="train.clip_grad_norm",
        value=0.1,
        reason="TAO passes it to Lightning as gradient_clip_val with the 'value' algorithm: each gradient element "
        "is clipped to ±0.1 (not the gradient's norm), capping the spikes of one bad batch.",
    ),
    RecipeValue(
        path="train.optim.weight_decay",
        value=1e-4,
        reason="AdamW's decoupled weight decay, TAO's default: mild; larger values pull pretrained weights toward "
        "zero.",
    ),
    RecipeValue(
        path="train.precision",
        value="fp32",
        reason="fp32 is the safe default: fp16 can overflow in the ViT attention and give NaN losses.",
    ),
]


def optimizer_values(start: str = "whole", model_type: str | None = None) -> list[RecipeValue]:
    """The optimizer values that suit what training starts from (whole model, backbone only, random); a Relative
    model whose head starts fresh also gets a seed its head was measured alive at."""
    seed = [FRESH_RELATIVE_SEED] if start != "whole" and model_type not in (None, METRIC_MODEL) else []
    return [_LR.get(start, _LR["whole"]), _SCHEDULE, *_COMMON, *seed]


#: ``gen_trt_engine.tensorrt.workspace_size``: TAO Deploy 7.3.0's EngineBuilder multiplies it by 2**30 (GiB; the
#: schema's description says MB), so the default 1024 asks TensorRT for a 1 TiB workspace.
TRT_WORKSPACE = RecipeValue(
    path="gen_trt_engine.tensorrt.workspace_size",
    value=8,
    reason="TAO Deploy 7.3.0 reads it in GiB (EngineBuilder: workspace × 2**30), not MB: the schema's 1024 asks "
    "for 1 TiB. 8 GiB leaves TensorRT room for its tactics on any 16 GB+ GPU.",
)


def metric_depth_block(
    min_depth: float = NYU_MIN_DEPTH, max_depth: float = NYU_MAX_DEPTH
) -> list[RecipeValue]:
    """The dataset depth block a metric run needs in train, evaluate, inference *and* export."""
    return [
        RecipeValue(
            path="dataset.normalize_depth",
            value=False,
            reason="Metric depth must stay in metres; per-map normalisation would also turn +inf into NaN.",
        ),
        RecipeValue(
            path="dataset.min_depth",
            value=min_depth,
            reason="Pixels nearer than this are ignored (invalid readings are 0).",
        ),
        RecipeValue(
            path="dataset.max_depth",
            value=max_depth,
            reason="Pixels farther than this are ignored; must cover your scenes' depth range.",
        ),
    ]


_SANITY = [
    RecipeValue(
        path="train.num_epochs", value=1, reason="One epoch is enough to see whether the loss is finite."
    ),
    RecipeValue(
        path="train.log_every_n_steps",
        value=1,
        reason="Log often so the first loss shows at once (the builders set the interval from the run length: ~200 chart points, at most ~2 a second).",
    ),
    RecipeValue(path="train.validation_interval", value=1, reason="Validate after the single epoch."),
    RecipeValue(path="train.checkpoint_interval", value=1, reason="Prove that checkpoints are written."),
    RecipeValue(
        path="dataset.train_dataset.batch_size",
        value=1,
        reason="Smallest batch: fits any GPU, starts fastest.",
    ),
    RecipeValue(
        path="dataset.train_dataset.workers", value=2, reason="Fewer loader processes start quicker."
    ),
    RecipeValue(
        path="dataset.val_dataset.batch_size", value=1, reason="Smallest batch for the quick validation."
    ),
    RecipeValue(path="dataset.val_dataset.workers", value=2, reason="Fewer loader processes start quicker."),
]


def get_recipe(
    name: str,
    model_type: str,
    min_depth: float | None = None,
    max_depth: float | None = None,
    start: str = "whole",
) -> Recipe:
    """The recipe for a model type and what training starts from (``whole``: a pretrained model; ``backbone``: a
    pretrained backbone with a fresh head; ``none``: random weights). Metric recipes carry the depth block;
    relative ones must not."""
    metric = model_type == METRIC_MODEL
    block = metric_depth_block(min_depth or NYU_MIN_DEPTH, max_depth or NYU_MAX_DEPTH) if metric else []
    kind = "metric" if metric else "relative"
    optim = optimizer_values(start, model_type)
    from_what = START_TITLES.get(start, START_TITLES["whole"])
    if name == "finetune":
        return Recipe(
            name="finetune",
            title=f"{kind.capitalize()} fine-tune",
            summary=f"Fine-tune Depth Anything V2 on your data ({kind} depth), starting from {from_what}.",
            values=[*optim, *block],
        )
    if name == "sanity":
        return Recipe(
            name="sanity",
            title="Sanity run",
            summary=f"The fine-tune settings for {from_what}, one short epoch, logged often: see a finite loss fast.",
            values=[*optim, *block, *_SANITY],
        )
    if name == "plain":
        return Recipe(
            name="plain",
            title="Plain TAO defaults",
            summary="TAO's own defaults (lr 1e-4, MultiStepLR) plus only what a mono run needs.",
            values=list(block),
        )
    raise ValueError(f"unknown recipe {name!r}; use one of {', '.join(RECIPES)}")


class PrecisionChoice(BaseModel):
    value: str
    available: bool
    reason: str


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".")[:2] if p.isdigit())


def precision_choices(tao_version: str = "7.3.0", sm: int | None = None) -> list[PrecisionChoice]:
    """fp32 always; fp16 always (risky); bf16 only on TAO >= 7.3.0 *and* an SM80+ GPU (A100, H100, L40 …)."""
    bf16_tao = _version_tuple(tao_version) >= (7, 3)
    bf16_gpu = sm is None or sm >= 80
    if not bf16_tao:
        bf16_reason = f"TAO {tao_version} accepts only fp32/fp16 (bf16 arrived in 7.3.0)."
    elif sm is not None and sm < 80:
        bf16_reason = f"your GPU is SM{sm}; bf16 needs SM80 or newer (A100, H100, L40, RTX 30/40)."
    else:
        bf16_reason = (
            "Half the activation memory with fp32's range on SM80+ GPUs — but TAO 7.3.0's train crashes at "
            "its first validation with bf16 (measured on an H100): evaluate/export only."
        )
    return [
        PrecisionChoice(value="fp32", available=True, reason="Recommended: exact, never overflows."),
        PrecisionChoice(
            value="fp16",
            available=True,
            reason="Saves memory but can overflow in ViT attention → NaN loss; use with care.",
        ),
        PrecisionChoice(value="bf16", available=bf16_tao and bf16_gpu, reason=bf16_reason),
    ]


#: Fewest steps between two logged points, per encoder: a step of ViT-S at batch 1 took 0.13–0.18 s on an H100
#: (tests/fixtures/tao-7.3.0 and benchmarks/gpu_e2e.sh), so 4 steps keep the chart at ≤ 1 point per 0.5 s.
MIN_LOG_EVERY = {"vits": 4, "vitb": 2, "vitl": 1, "vitg": 1}


def log_every_for(total_steps: int, encoder: str) -> int:
    """``train.log_every_n_steps`` for a live chart: about 200 points over the run (≥ 100 where the run is long
    enough) and never more than about 2 a second. TAO's default 500 logs nothing on a short run."""
    return max(MIN_LOG_EVERY.get(encoder, 1), total_steps // 200, 1)
