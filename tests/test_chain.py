"""After training: every derived spec merges into the real TAO schema and carries what must agree between actions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import tao_merge
from torchzip import state_dict, write_torch_zip

from specgen.data.checkpoints import expected_shapes
from specgen.job.builders import BuildRequest, build_spec
from specgen.job.chain import ChainError, Choices, Source, derive, find_checkpoint, parent_of
from specgen.spec.docker_cmd import DEPLOY_IMAGE, TRAIN_IMAGE, image_for_spec
from specgen.spec.paths import free_path
from specgen.spec.render import render

MODELS = {"MetricDepthAnything": "NYUDV2", "RelativeDepthAnything": "NYUDV2Relative"}


def train_run(tmp: Path, model_type: str = "MetricDepthAnything", encoder: str = "vitl") -> Source:
    """A finished train run on disk: its spec (with public backbone weights), its folder, its checkpoints."""
    ann = tmp / "ann"
    ann.mkdir(parents=True, exist_ok=True)
    (ann / "train.txt").write_text(f"{tmp}/data/a/rgb_0.jpg {tmp}/data/a/sync_depth_0.png\n")
    (ann / "val.txt").write_text(f"{tmp}/data/b/rgb_1.jpg {tmp}/data/b/sync_depth_1.png\n")
    weights = tmp / "weights" / f"depth_anything_v2_{encoder}.pth"  # the public layout (meta tensors)
    weights.parent.mkdir(exist_ok=True)
    write_torch_zip(weights, state_dict(expected_shapes(encoder), meta=True))
    spec, _ = build_spec(
        BuildRequest(
            action="train",
            model_type=model_type,
            dataset_name=MODELS[model_type],
            data_file=str(ann / "train.txt"),
            results_dir=str(tmp / "results"),
            encoder=encoder,
            checkpoint=str(weights),
        ),
        check_files=False,
    )
    path = tmp / "train.yaml"
    path.write_text(render(spec))
    train_dir = tmp / "results" / "train"
    train_dir.mkdir(parents=True, exist_ok=True)
    (train_dir / "model_epoch_004_step_00100.pth").write_bytes(b"w")
    (train_dir / "model_epoch_009_step_00200.pth").write_bytes(b"w")
    (train_dir / "dn_model_latest.pth").symlink_to("model_epoch_009_step_00200.pth")
    return Source.from_spec("train", str(path))


def save(tmp: Path, derived, name: str, action: str, results: str | None = None) -> Source:
    path = tmp / "specs" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(derived.text())
    return Source.from_spec(action, str(path), results)


def merged(tao_config, derived):
    experiment_config, _ = tao_config
    return tao_merge(experiment_config, derived.text()), tao_merge(experiment_config, derived.text(full=True))


@pytest.mark.parametrize("model_type", list(MODELS))
@pytest.mark.parametrize("encoder", ["vits", "vitl"])
def test_every_chain_from_a_train_run_merges_into_tao(tmp_path, tao_config, model_type, encoder):
    src = train_run(tmp_path, model_type, encoder)
    metric = model_type == "MetricDepthAnything"
    ckpt = str(tmp_path / "results" / "train" / "model_epoch_009_step_00200.pth")
    seen = {}
    for action in ("evaluate", "inference", "export", "quantize"):
        d = derive(src, action, Choices(calibration_images_dir="/data/calib"))
        minimal, _full = merged(tao_config, d)
        seen[action] = d
        assert minimal.model.model_type == model_type and minimal.model.encoder == encoder
        assert minimal.dataset.dataset_name == "MonoDataset"
        assert (minimal.dataset.min_depth, minimal.dataset.max_depth) == (
            (0.001, 10.0) if metric else (None, None)
        )
        assert (
            d.spec.model.mono_backbone.pretrained_path is None
        )  # the checkpoint replaces the public weights
        assert d.image == TRAIN_IMAGE and d.parent == src.spec_path
    assert seen["evaluate"].spec.evaluate.checkpoint == ckpt  # the concrete file, not the moving link
    assert seen["evaluate"].spec.dataset.test_dataset.data_sources[0].data_file == str(
        tmp_path / "ann" / "val.txt"
    )
    assert seen["evaluate"].spec.dataset.test_dataset.data_sources[0].dataset_name == MODELS[model_type]
    assert seen["inference"].spec.inference.save_raw_pfm is True
    assert seen["inference"].spec.dataset.infer_dataset.data_sources[0].data_file.endswith("val.txt")
    assert seen["export"].spec.export.checkpoint == ckpt
    assert seen["export"].spec.export.onnx_file == str(
        tmp_path / "results" / "export" / f"{model_type.lower()}_{encoder}.onnx"
    )
    q = seen["quantize"].spec
    assert q.quantize.model_path == ckpt and q.dataset.quant_calibration_dataset.images_dir == "/data/calib"
    assert q.dataset.train_dataset.data_sources and q.dataset.val_dataset.data_sources

    # export → gen_trt_engine → TensorRT evaluate / inference (deploy image), data found two specs up.
    exp = save(tmp_path, seen["export"], "export.yaml", "export")
    assert parent_of(exp.spec_path) == src.spec_path
    for dtype in ("FP32", "BF16"):
        gen = derive(exp, "gen_trt_engine", Choices(data_type=dtype))
        minimal, _ = merged(tao_config, gen)
        assert minimal.gen_trt_engine.onnx_file == seen["export"].spec.export.onnx_file
        assert minimal.gen_trt_engine.tensorrt.data_type == dtype
        assert minimal.gen_trt_engine.trt_engine.endswith(f".{dtype.lower()}.engine")
        assert gen.image == DEPLOY_IMAGE and (minimal.dataset.max_depth == 10.0) == metric
    gen_src = save(tmp_path, gen, "gen.yaml", "gen_trt_engine")
    for action in ("evaluate", "inference"):
        trt = derive(gen_src, action)
        minimal, _ = merged(tao_config, trt)
        section = getattr(trt.spec, action)
        assert section.trt_engine == gen.spec.gen_trt_engine.trt_engine and section.checkpoint is None
        assert section.results_dir == str(tmp_path / "results" / f"{action}_trt")
        split = trt.spec.dataset.test_dataset if action == "evaluate" else trt.spec.dataset.infer_dataset
        assert split.data_sources[0].data_file == str(tmp_path / "ann" / "val.txt")
        assert any("2 up the chain" in n for n in trt.notes)
        assert trt.image == DEPLOY_IMAGE == image_for_spec(action, trt.spec)
    # evaluate → inference / export and inference → evaluate reuse the same checkpoint.
    ev = save(tmp_path, seen["evaluate"], "evaluate.yaml", "evaluate")
    inf = save(tmp_path, seen["inference"], "inference.yaml", "inference")
    for source, action in ((ev, "inference"), (ev, "export"), (inf, "evaluate")):
        d = derive(source, action)
        merged(tao_config, d)
        assert getattr(d.spec, action).checkpoint == ckpt


def test_fp16_engine_refused_for_vitl_with_the_reason_and_allowed_as_warning_for_vits(tmp_path):
    src = train_run(tmp_path / "l", encoder="vitl")
    exp = save(tmp_path / "l", derive(src, "export"), "export.yaml", "export")
    with pytest.raises(
        ChainError, match="FP16 overflows in the vitl mono backbone.*use FP32, or BF16 on an SM80"
    ):
        derive(exp, "gen_trt_engine", Choices(data_type="FP16"))
    small = train_run(tmp_path / "s", encoder="vits")
    exp_s = save(tmp_path / "s", derive(small, "export"), "export.yaml", "export")
    d = derive(exp_s, "gen_trt_engine", Choices(data_type="FP16"))
    assert [p.severity for p in d.problems if p.path == "gen_trt_engine.tensorrt.data_type"] == ["warning"]


def test_fixed_batch_onnx_sets_the_engine_profile(tmp_path):
    src = train_run(tmp_path)
    exp = save(
        tmp_path, derive(src, "export", Choices(overrides={"export.batch_size": 4})), "export.yaml", "export"
    )
    g = derive(exp, "gen_trt_engine").spec.gen_trt_engine
    assert g.batch_size == 4 and (
        g.tensorrt.min_batch_size,
        g.tensorrt.opt_batch_size,
        g.tensorrt.max_batch_size,
    ) == (4, 4, 4)


def test_free_names_keep_runs_and_onnx_files_apart(tmp_path):
    src = train_run(tmp_path)
    onnx = tmp_path / "results" / "export" / "metricdepthanything_vitl.onnx"
    onnx.parent.mkdir(parents=True)
    onnx.write_text("old")
    d = derive(src, "export")
    assert d.spec.export.onnx_file == str(onnx.with_name("metricdepthanything_vitl_2.onnx"))
    assert any("exists and TAO refuses to overwrite it" in n for n in d.notes)
    assert free_path(str(onnx)) == d.spec.export.onnx_file
    (tmp_path / "results" / "evaluate").mkdir(parents=True)
    (tmp_path / "results" / "evaluate" / "status.json").write_text("{}\n")
    e = derive(src, "evaluate")
    assert e.spec.evaluate.results_dir == str(tmp_path / "results" / "evaluate_2")
    assert (
        derive(src, "evaluate", Choices(results_dir="/elsewhere")).spec.evaluate.results_dir == "/elsewhere"
    )


def test_refusals_say_what_to_do(tmp_path):
    src = train_run(tmp_path)
    with pytest.raises(
        ChainError,
        match="gen_trt_engine cannot follow train; after train you can run evaluate, "
        "inference, export, quantize; export first",
    ):
        derive(src, "gen_trt_engine")
    for f in (tmp_path / "results" / "train").iterdir():
        f.unlink()
    with pytest.raises(ChainError, match="holds no checkpoint .* pass --checkpoint"):
        derive(src, "evaluate")
    assert (
        derive(src, "evaluate", Choices(checkpoint="/x/model.pth")).spec.evaluate.checkpoint == "/x/model.pth"
    )
    # A hand-written export spec has no parent: TensorRT evaluate must be told its data.
    exp_path = tmp_path / "hand_export.yaml"
    exp_path.write_text(
        "results_dir: /r\nmodel:\n  encoder: vits\nexport:\n  checkpoint: /c.pth\n  onnx_file: /r/m.onnx\n"
    )
    gen = save(
        tmp_path,
        derive(Source.from_spec("export", str(exp_path)), "gen_trt_engine"),
        "gen.yaml",
        "gen_trt_engine",
    )
    with pytest.raises(ChainError, match="evaluate needs data .* pass --data-file"):
        derive(gen, "evaluate")
    d = derive(gen, "evaluate", Choices(data_file="/d/test.txt", dataset_name="NYUDV2"))
    assert d.spec.dataset.test_dataset.data_sources[0].data_file == "/d/test.txt"
    with pytest.raises(ChainError, match="no such file"):
        Source.from_spec("train", str(tmp_path / "missing.yaml"))


def test_checkpoint_without_the_latest_link_is_the_highest_epoch(tmp_path):
    for name in (
        "model_epoch_002_step_00010.pth",
        "model_epoch_010_step_00050.pth",
        "model_epoch_009_step_00045.pth",
    ):
        (tmp_path / name).write_bytes(b"")
    assert find_checkpoint(str(tmp_path)).endswith("model_epoch_010_step_00050.pth")


# --------------------------------------------------------------------------- CLI (local backend, real files)


@pytest.fixture()
def local_project(tmp_path, depth_net_on_path):
    from runkit import make_project

    return make_project(tmp_path)


def _run(spec: Path, action: str, *extra: str):
    from runkit import depthnet

    return depthnet("run", action, "-e", str(spec), "--backend", "local", "--json-events", *extra)


def _run_id(done) -> str:
    return done.stderr.split("run ", 1)[1].split()[0]


def test_cli_next_chain_evaluate_compare_and_refuse_a_nan_run(local_project, tao_config):
    from runkit import EVAL_ABS_REL, depthnet, events, verdict

    p = local_project
    trained = _run(p.spec("train", "train.yaml"), "train")
    assert trained.returncode == 0, trained.stderr
    run_id = _run_id(trained)
    done = depthnet("next", run_id, "evaluate")
    assert done.returncode == 0, done.stderr
    spec = p.out / "results" / "specs" / "evaluate.yaml"
    assert done.stdout.splitlines() == [f"wrote {spec}", f"next: depthnet run evaluate -e {spec}"]
    assert "checkpoint: " + str(p.out / "results/train/model_epoch_001_step_00024.pth") in done.stderr
    tao_merge(tao_config[0], spec.read_text())
    first = _run(spec, "evaluate")
    assert first.returncode == 0 and verdict(events(first.stdout))["kpi"]["val/abs_rel"] == EVAL_ABS_REL
    # A second evaluation gets its own folder and spec name; its metrics are compared side by side.
    done = depthnet("next", run_id, "evaluate")
    spec2 = p.out / "results" / "specs" / "evaluate_2.yaml"
    assert done.returncode == 0 and f"wrote {spec2}" in done.stdout
    assert (
        f"{p.out}/results/evaluate already holds a run: writing to {p.out}/results/evaluate_2" in done.stderr
    )
    second = _run(
        spec2, "evaluate", "--env", "EMU_ABS_REL=0.26098368644714355", "--env", "EMU_D1=0.2343404006958008"
    )
    assert second.returncode == 0
    table = json.loads(depthnet("metrics", _run_id(first), _run_id(second), "--json").stdout)
    rows = {r["key"]: r for r in table["rows"]}
    assert (
        rows["val/abs_rel"]["values"] == [EVAL_ABS_REL, 0.26098368644714355]
        and rows["val/abs_rel"]["best"] == 1
    )
    assert rows["val/d1"]["best"] == 0 and round(rows["val/d1"]["deltas"][1], 4) == -0.03
    human = depthnet("metrics", _run_id(first), _run_id(second)).stdout
    assert "AbsRel" in human and "-0.0200▲ *" in human and "-0.0300▼" in human
    # The run's own results folder works as a reference too.
    assert depthnet("metrics", str(p.out / "results" / "evaluate")).returncode == 0
    # -o refuses to replace a file without --force.
    again = depthnet("next", run_id, "export", "-o", str(spec))
    assert again.returncode == 1 and "exists" in again.stderr and "Traceback" not in again.stderr
    # A NaN train run is refused, with the reason; --allow-failed derives anyway.
    bad = _run(
        p.spec("train", "bad.yaml", dataset="MetricMonoDataset", results="bad"),
        "train",
        "--allow-known-failure",
    )
    assert bad.returncode == 1
    refused = depthnet("next", _run_id(bad), "evaluate")
    assert refused.returncode == 1
    assert (
        f"run {_run_id(bad)} failed: train_loss is NaN at epoch 0 although TAO printed PASS" in refused.stderr
    )
    assert "--allow-failed" in refused.stderr
    assert depthnet("next", _run_id(bad), "evaluate", "--allow-failed", "-o", "-").returncode == 0
    # Unknown run and wrong follower are one-line errors.
    unknown = depthnet("next", "nope", "evaluate")
    assert unknown.returncode == 1 and "no run 'nope'" in unknown.stderr
    wrong = depthnet("next", run_id, "gen_trt_engine")
    assert wrong.returncode == 1 and "export first" in wrong.stderr


def test_cli_outputs_lists_pictures_with_their_pfm(local_project):
    from runkit import depthnet

    p = local_project
    trained = _run(p.spec("train", "train.yaml"), "train")
    assert trained.returncode == 0
    done = depthnet("next", _run_id(trained), "inference")
    assert done.returncode == 0, done.stderr
    inf = _run(p.out / "results" / "specs" / "inference.yaml", "inference")
    assert inf.returncode == 0, inf.stdout[-500:]
    rows = json.loads(depthnet("outputs", _run_id(inf), "--stats", "--json").stdout)
    val = (p.out / "ann" / "val.txt").read_text().split()
    assert sorted(r["input"] for r in rows) == sorted(val[0::2])
    assert all(r["input_exists"] and r["pfm"] and r["stats"]["median"] == 2.0 for r in rows)
    assert all("/inference_images/" in r["output"] and "/inference_pfm/" in r["pfm"] for r in rows)
    wrong = depthnet("outputs", _run_id(trained))
    assert wrong.returncode == 1 and "give an inference run" in wrong.stderr


def test_an_existing_onnx_named_by_hand_is_refused_with_a_free_name(tmp_path):
    src = train_run(tmp_path)
    onnx = tmp_path / "mine.onnx"
    onnx.write_text("old")
    with pytest.raises(
        ChainError, match=f"already exists and TAO refuses to overwrite it; use {tmp_path}/mine_2.onnx"
    ):
        derive(src, "export", Choices(onnx_file=str(onnx)))
    assert onnx.read_text() == "old"


def test_cli_inference_on_a_folder_of_own_images(local_project, tao_config):
    from depthgen import rgb
    from runkit import depthnet

    p = local_project
    trained = _run(p.spec("train", "train.yaml"), "train")
    mine = p.root / "mine"
    rgb(mine / "a" / "x.jpg", 32, 32)
    rgb(mine / "b.png", 32, 32)
    rgb(mine / "c.JPG", 32, 32)
    rgb(mine / "with space.jpg", 32, 32)
    out = p.out / "results" / "specs" / "mine.yaml"
    done = depthnet("next", _run_id(trained), "inference", "--images-dir", str(mine), "-o", str(out))
    assert done.returncode == 0, done.stderr
    listed = p.out / "results" / "specs" / "mine_images.txt"
    assert listed.read_text().splitlines() == [str(mine / "a" / "x.jpg"), str(mine / "b.png")]  # one column
    assert "rename to lower case" in done.stderr and "a space in the path" in done.stderr
    tao_merge(tao_config[0], out.read_text())
    ran = _run(out, "inference")
    assert ran.returncode == 0, ran.stdout[-400:]
    rows = json.loads(depthnet("outputs", _run_id(ran), "--json").stdout)
    assert sorted(r["input"] for r in rows) == [str(mine / "a" / "x.jpg"), str(mine / "b.png")]
    bad = depthnet("next", _run_id(trained), "evaluate", "--images-dir", str(mine))
    assert bad.returncode == 2 and "--images-dir is for inference" in bad.stderr
