from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from specgen.job.builders import BuildRequest, SpecError, build_spec
from specgen.spec.recipes import get_recipe, precision_choices
from specgen.spec.render import load_spec, render, write_spec

ACTIONS = ["train", "evaluate", "inference", "export", "quantize", "gen_trt_engine"]


def request(action, model_type="MetricDepthAnything", recipe="finetune", encoder="vitl", dataset=None, **kw):
    dataset = dataset or ("NYUDV2" if model_type == "MetricDepthAnything" else "NYUDV2Relative")
    base = dict(
        action=action,
        model_type=model_type,
        dataset_name=dataset,
        data_file="/data/train.txt",
        val_data_file="/data/val.txt",
        results_dir="/results/run1",
        encoder=encoder,
        recipe=recipe,
        checkpoint=None if action == "train" else "/results/run1/train/dn_model_latest.pth",
        calibration_images_dir="/data/calib",
    )
    base.update(kw)
    return BuildRequest(**base)


@pytest.mark.parametrize(
    "action,model_type,recipe",
    itertools.product(
        ACTIONS, ["MetricDepthAnything", "RelativeDepthAnything"], ["finetune", "sanity", "plain"]
    ),
)
def test_every_combination_builds_and_round_trips(action, model_type, recipe):
    spec, _warnings = build_spec(request(action, model_type, recipe), check_files=False)
    for full in (False, True):
        assert load_spec(render(spec, full=full)) == spec


def test_train_wires_train_and_val_and_the_finetune_values():
    public = str(Path(__file__).parent / "fixtures/checkpoints/public_layout_vitb.pth")
    spec, _ = build_spec(request("train", checkpoint=public, encoder=None), check_files=False)
    assert spec.train.pretrained_model_path == public and spec.model.encoder == "vitb"
    assert spec.dataset.dataset_name == "MonoDataset"
    assert spec.dataset.train_dataset.data_sources[0].model_dump() == {
        "data_file": "/data/train.txt",
        "dataset_name": "NYUDV2",
    }
    assert spec.dataset.val_dataset.data_sources[0].data_file == "/data/val.txt"
    assert spec.train.optim.lr == 5e-6 and spec.train.optim.lr_scheduler == "LambdaLR"
    assert spec.train.clip_grad_norm == 0.1 and "warmup_steps" not in render(spec)  # read nowhere by TAO
    assert spec.train.optim.weight_decay == 1e-4 and spec.train.precision == "fp32"
    assert (spec.dataset.min_depth, spec.dataset.max_depth, spec.dataset.normalize_depth) == (
        0.001,
        10.0,
        False,
    )


def test_relative_recipes_never_set_the_depth_range():
    for recipe in ("finetune", "sanity", "plain"):
        spec, _ = build_spec(request("train", "RelativeDepthAnything", recipe), check_files=False)
        assert spec.dataset.min_depth is None and spec.dataset.max_depth is None


def test_metric_depth_block_reaches_export():
    spec, _ = build_spec(request("export", min_depth=0.3, max_depth=8.0), check_files=False)
    assert (spec.dataset.min_depth, spec.dataset.max_depth) == (0.3, 8.0)
    assert spec.export.checkpoint.endswith("dn_model_latest.pth")
    assert spec.export.onnx_file == "/results/run1/export/metricdepthanything_vitl.onnx"
    text = render(spec)
    assert "min_depth: 0.3" in text and "max_depth: 8.0" in text


def test_each_action_gets_its_data_and_checkpoint():
    ev, _ = build_spec(request("evaluate", data_file="/data/test.txt"), check_files=False)
    assert ev.dataset.test_dataset.data_sources[0].data_file == "/data/test.txt" and ev.evaluate.checkpoint
    inf, _ = build_spec(request("inference", data_file="/data/test.txt"), check_files=False)
    assert (
        inf.dataset.infer_dataset.data_sources[0].data_file == "/data/test.txt" and inf.inference.checkpoint
    )
    q, _ = build_spec(request("quantize"), check_files=False)
    assert q.dataset.quant_calibration_dataset.images_dir == "/data/calib" and q.quantize.model_path
    assert q.dataset.val_dataset.data_sources


def test_sanity_run_is_one_short_logged_epoch():
    spec, _ = build_spec(request("train", recipe="sanity"), check_files=False)
    assert spec.train.num_epochs == 1 and spec.train.log_every_n_steps == 1
    assert spec.dataset.train_dataset.batch_size == 1


def test_every_recipe_value_has_a_reason():
    for mt in ("MetricDepthAnything", "RelativeDepthAnything"):
        for name in ("finetune", "sanity", "plain"):
            assert all(v.reason for v in get_recipe(name, mt).values)


def test_bf16_only_on_sm80_and_tao_73():
    by = {c.value: c for c in precision_choices("7.3.0", 86)}
    assert by["bf16"].available and by["fp32"].available
    assert not {c.value: c for c in precision_choices("7.3.0", 75)}["bf16"].available
    old = {c.value: c for c in precision_choices("6.25.0", 90)}["bf16"]
    assert not old.available and "6.25" in old.reason


def test_missing_inputs_are_one_line_errors():
    with pytest.raises(SpecError) as exc:
        build_spec(request("train", val_data_file=None), check_files=False)
    assert (
        str(exc.value)
        == "dataset.val_dataset.data_sources: train needs data here: add an entry with data_file and dataset_name"
    )
    with pytest.raises(SpecError) as exc:
        build_spec(request("evaluate", checkpoint=None), check_files=False)
    assert "evaluate.checkpoint: missing" in str(exc.value)


def test_val_file_defaults_to_the_sibling_of_train(tmp_path):
    (tmp_path / "train.txt").write_text("a b\n")
    (tmp_path / "val.txt").write_text("c d\n")
    spec, _ = build_spec(request("train", data_file=str(tmp_path / "train.txt"), val_data_file=None))
    assert spec.dataset.val_dataset.data_sources[0].data_file == str(tmp_path / "val.txt")


def test_overrides_reach_any_key_and_are_validated():
    spec, _ = build_spec(
        request("train", overrides={"train.num_epochs": 3, "model.mono_backbone.pretrained_path": "/w.pth"}),
        check_files=False,
    )
    assert spec.train.num_epochs == 3 and spec.model.mono_backbone.pretrained_path == "/w.pth"
    with pytest.raises(SpecError, match=r"train\.optim\.lrr: unknown key: did you mean train\.optim\.lr\?"):
        build_spec(request("train", overrides={"train.optim.lrr": 1}), check_files=False)


def test_write_is_atomic_and_refuses_to_overwrite(tmp_path):
    from specgen.spec.atomicio import RefusedOverwrite

    spec, _ = build_spec(request("train"), check_files=False)
    out = tmp_path / "spec.yaml"
    write_spec(out, spec)
    before = out.read_text()
    with pytest.raises(RefusedOverwrite):
        write_spec(out, spec, full=True)
    assert out.read_text() == before
    write_spec(out, spec, full=True, overwrite=True)
    assert out.read_text() != before
    assert [p.name for p in tmp_path.iterdir()] == ["spec.yaml"]  # no temp files left behind


def test_raw_nyu_names_with_generic_class_warn(tmp_path):
    ann = tmp_path / "train.txt"
    ann.write_text("/d/s/rgb_00000.jpg /d/s/sync_depth_00000.png\n")
    (tmp_path / "val.txt").write_text("/d/s/rgb_00001.jpg /d/s/sync_depth_00001.png\n")
    _, warnings = build_spec(
        request("train", dataset="MetricMonoDataset", data_file=str(ann), val_data_file=None)
    )
    msgs = [w.line() for w in warnings if w.path.endswith("dataset_name")]
    assert msgs and all("use dataset_name NYUDV2" in m for m in msgs)
