"""The real TAO schema is the oracle: every spec we can produce must merge into depth_net's ExperimentConfig."""

from __future__ import annotations

import dataclasses
import itertools
import math

import pytest
import yaml
from conftest import tao_merge, tao_structured

from specgen.job.builders import BuildRequest, ConvertRequest, build_convert_spec, build_spec
from specgen.spec.keypaths import iter_fields
from specgen.spec.render import TAO_MISSING_KEYS, render
from specgen.spec.schema import ConvertSpec, ExperimentSpec

ACTIONS = ["train", "evaluate", "inference", "export", "quantize", "gen_trt_engine"]
MODELS = {
    "MetricDepthAnything": ["NYUDV2", "MetricMonoDataset"],
    "RelativeDepthAnything": ["NYUDV2Relative", "RelativeMonoDataset"],
}


def cases():
    for action, (model_type, classes), recipe, encoder, full in itertools.product(
        ACTIONS,
        MODELS.items(),
        ["finetune", "sanity", "plain"],
        ["vits", "vitb", "vitl", "vitg"],
        [False, True],
    ):
        yield action, model_type, classes[0 if encoder in ("vits", "vitl") else 1], recipe, encoder, full


@pytest.mark.parametrize("action,model_type,dataset,recipe,encoder,full", list(cases()))
def test_every_built_spec_merges_into_tao(tao_config, action, model_type, dataset, recipe, encoder, full):
    experiment_config, _ = tao_config
    req = BuildRequest(
        action=action,
        model_type=model_type,
        dataset_name=dataset,
        data_file="/data/train.txt",
        val_data_file="/data/val.txt",
        results_dir="/results/r",
        encoder=encoder,
        recipe=recipe,
        checkpoint=None if action == "train" else "/results/r/train/dn_model_latest.pth",
        calibration_images_dir="/data/calib",
    )
    spec, _ = build_spec(req, check_files=False)
    merged = tao_merge(experiment_config, render(spec, full=full))
    assert merged.dataset.dataset_name == "MonoDataset"
    assert merged.model.model_type == model_type and merged.model.encoder == encoder
    ours = yaml.load(render(spec, full=True), Loader=yaml.CSafeLoader)  # the same data, in C
    # Nothing we write is silently changed by TAO's merge (type coercion, dropped keys).
    from omegaconf import OmegaConf

    theirs = OmegaConf.to_container(merged, resolve=False)
    for section in ("dataset", "model", "train", action):
        for key, value in ours[section].items():
            if key in theirs[section] and not isinstance(value, dict):
                assert theirs[section][key] == value, f"{section}.{key}"


def test_convert_spec_merges_into_tao_convert_config(tao_config):
    _, convert_config = tao_config
    spec = build_convert_spec(
        ConvertRequest(
            data_root="/data/nyu",
            results_dir="/data/nyu/ann",
            image_patterns=["rgb_", "/image/"],
            depth_patterns=["sync_depth_", "/depth/"],
            split_ratio=0.8,
        )
    )
    for full in (False, True):
        merged = tao_merge(convert_config, render(spec, full=full))
        assert list(merged.image_dir_pattern) == ["rgb_", "/image/"]
        assert merged.image_extension == ".jpg" and merged.split_ratio == 0.8


def _tao_defaults(schema_cls) -> dict:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(tao_structured(schema_cls), resolve=False)


def _lookup(tree: dict, path: str):
    cur = tree
    for part in path.split("."):
        cur = cur[part]
    return cur


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(float(a), float(b))
    return a == b


@pytest.mark.parametrize("schema,ours", [("experiment", ExperimentSpec), ("convert", ConvertSpec)])
def test_our_defaults_equal_taos_for_every_key_we_model(tao_config, schema, ours):
    tao_cls = tao_config[0] if schema == "experiment" else tao_config[1]
    tao = _tao_defaults(tao_cls)
    ours_default = ours().model_dump(mode="json")
    checked = 0
    for path, _field, is_section in iter_fields(ours):
        tao_value = _lookup(tao, path)  # KeyError here = we model a key TAO does not have
        if is_section:
            continue
        mine = _lookup(ours_default, path)
        if path in TAO_MISSING_KEYS or (schema == "convert" and path == "results_dir"):
            assert tao_value == "???" and mine is None, path
        else:
            assert _same(mine, tao_value), f"{path}: ours {mine!r} vs TAO {tao_value!r}"
        checked += 1
    assert checked > (150 if schema == "experiment" else 10)


def test_our_options_equal_taos_declared_options(tao_config):
    """Where TAO declares valid_options, we enforce exactly those (plus TAO's own default spelling)."""
    from typing import get_args

    from specgen.job.references import describe_type

    experiment_config, _ = tao_config

    def tao_fields(cls, prefix=""):
        for f in dataclasses.fields(cls):
            path = prefix + f.name
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            if dataclasses.is_dataclass(default):
                yield from tao_fields(type(default), path + ".")
            else:
                yield path, f.metadata.get("valid_options", "")

    ours = {p: describe_type(f.annotation)[1] for p, f, s in iter_fields(ExperimentSpec) if not s}
    compared = 0
    for path, options in tao_fields(experiment_config):
        if not options or path not in ours:
            continue
        declared = {o.strip() for o in str(options).split(",")}
        mine = set(ours[path])
        if path == "train.optim.lr_scheduler":
            declared.add("MultiStepLR")  # TAO's default value, missing from its own option list
        assert mine == declared, f"{path}: ours {sorted(mine)} vs TAO {sorted(declared)}"
        compared += 1
    assert compared >= 10
    assert get_args  # imported for clarity of intent
