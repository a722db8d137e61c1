"""Every recipe key and reason against what TAO 7.3.0's code does (facts §3.5, §3.8; TAO Deploy 7.3.0's
EngineBuilder multiplies workspace_size by 2**30). A reason that claims a warm-up, norm clipping or MB is false."""

from __future__ import annotations

import pytest
from conftest import REPO

from specgen.job.references import spec_overrides_md
from specgen.spec.keypaths import iter_fields
from specgen.spec.recipes import RECIPES, STARTS, TRT_WORKSPACE, get_recipe
from specgen.spec.schema import ExperimentSpec

#: key → (words the reason must hold, words it must not): what TAO 7.3.0 really does with the key
FACTS = {
    "train.optim.lr": (["10×"], []),  # backbone lr; every other parameter (the DPT head) 10×
    "train.optim.lr_scheduler": (["linear", "every optimizer step"], ["polynomial", "warm-up then"]),
    "train.clip_grad_norm": (["value", "each gradient element"], ["norm clipping"]),
    "train.optim.weight_decay": (["AdamW"], []),
    "train.precision": (["fp16"], []),
    "train.seed": (["dead", "1234"], []),  # measured on an H200 (benchmarks/gpu_lr_probe.sh)
    "gen_trt_engine.tensorrt.workspace_size": (["GiB", "2**30"], ["workspace in MB"]),
}
#: keys depth_net 7.3.0 reads nowhere: a recipe that sets them promises what does not happen
UNREAD = {"train.optim.warmup_steps", "train.optim.momentum", "train.checkpoint_interval_steps"}
DATASET_AND_RUN = ("dataset.", "train.num_epochs", "train.log_every_n_steps", "train.validation_interval")


def all_values():
    for model_type in ("MetricDepthAnything", "RelativeDepthAnything"):
        for name in RECIPES:
            for start in STARTS:
                yield from get_recipe(name, model_type, start=start).values
    yield TRT_WORKSPACE


@pytest.mark.parametrize("value", list({v.path: v for v in all_values()}.values()), ids=lambda v: v.path)
def test_each_recipe_key_is_real_read_and_its_reason_true(value):
    keys = {path for path, _f, section in iter_fields(ExperimentSpec) if not section}
    assert value.path in keys, f"{value.path} is not a TAO spec key"
    assert value.path not in UNREAD, f"{value.path} is read nowhere by depth_net 7.3.0"
    if value.path.startswith(DATASET_AND_RUN) or value.path.startswith("train.checkpoint_interval"):
        return
    assert value.path in FACTS, f"{value.path}: add what TAO 7.3.0 does with it to FACTS"
    must, never = FACTS[value.path]
    for word in must:
        assert word in value.reason, (value.path, word)
    for word in never:
        assert word not in value.reason, (value.path, word)


def test_the_lr_follows_the_start():
    lr = {
        s: get_recipe("finetune", "RelativeDepthAnything", start=s).as_dict()["train.optim.lr"]
        for s in STARTS
    }
    assert lr == {
        "whole": 5e-6,
        "backbone": 5e-6,
        "none": 5e-6,
    }  # a fresh Relative head died at 5e-5 and 1e-4
    seeds = {
        (m, s): get_recipe("finetune", m, start=s).as_dict().get("train.seed")
        for m in ("RelativeDepthAnything", "MetricDepthAnything")
        for s in STARTS
    }
    assert seeds == {
        ("RelativeDepthAnything", "whole"): None,
        ("RelativeDepthAnything", "backbone"): 42,
        ("RelativeDepthAnything", "none"): 42,
        ("MetricDepthAnything", "whole"): None,
        ("MetricDepthAnything", "backbone"): None,
        ("MetricDepthAnything", "none"): None,
    }
    assert TRT_WORKSPACE.value == 8  # GiB


def test_the_references_say_the_same():
    text = spec_overrides_md() + (REPO / "references" / "finetuning.md").read_text()
    assert "Warm-up then" not in text and "warm-up then decay" not in text
    assert "gentle first updates" not in text and "Gradient-norm clipping" not in text
    params = (REPO / "references" / "parameters.md").read_text()
    assert "Builder workspace in MB" not in params and "GiB" in params
