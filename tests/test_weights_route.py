"""Routing by TAO 7.3.0's measured use-case matrix (shared/fixtures/tao-7.3.0-h200/README.md): every row is a test,
on the real layouts (tests/fixtures/checkpoints). ``tao_outcome`` is what TAO does with a file in a key; ``route``
is where we put it."""

from __future__ import annotations

from pathlib import Path

import pytest
from torchzip import state_dict, write_torch_zip

from specgen.data.checkpoints import expected_shapes, inspect_checkpoint
from specgen.job.builders import BuildRequest, SpecError, build_spec, start_route
from specgen.job.validate import validate_data
from specgen.job.weights import BACKBONE, WHOLE, route, tao_outcome
from specgen.spec.recipes import get_recipe

FIX = Path(__file__).parent / "fixtures" / "checkpoints"
REL, MET = "RelativeDepthAnything", "MetricDepthAnything"
FILES = {
    "public": "public_layout_vitb.pth",
    "dinov2": "dinov2_layout_vitb.pth",
    "tao_relative": "tao_relative_vitb.pth",
    "tao_metric": "tao_metric_vits.pth",
}


def info(kind: str):
    return inspect_checkpoint(FIX / FILES[kind])


# The matrix, row by row: (model_type, key, file, what TAO 7.3.0 did)
MATRIX = [
    (REL, BACKBONE, "public", "fails"),  # after ~43 s: Unexpected key(s) "pretrained.cls_token", …
    (REL, BACKBONE, "dinov2", "backbone"),
    (REL, WHOLE, "public", "whole"),
    (MET, WHOLE, "public", "whole"),  # depth_head → metric_depth_head
    (MET, BACKBONE, "public", "backbone"),  # the backbone only, head random
    (MET, WHOLE, "tao_relative", "fails"),  # Missing key(s) "model.metric_depth_head.…"
    (MET, BACKBONE, "dinov2", "fails"),  # after ~48 s: Missing key(s) "cls_token", …
    (MET, BACKBONE, "tao_relative", "backbone"),
    (MET, WHOLE, "tao_metric", "whole"),
    (REL, WHOLE, "tao_relative", "whole"),
    (REL, WHOLE, "tao_metric", "fails"),  # Missing key(s) "model.depth_head.…"
]


@pytest.mark.parametrize(("model_type", "key", "kind", "outcome"), MATRIX)
def test_what_tao_does_with_each_file_in_each_key(model_type, key, kind, outcome):
    assert tao_outcome(info(kind), model_type, key) == outcome


def test_another_encoder_fails_in_every_key():
    """The matrix's `evaluate.checkpoint` of another encoder: a size mismatch."""
    vitb = info("tao_relative")
    for key in (WHOLE, BACKBONE, "evaluate.checkpoint"):
        assert tao_outcome(vitb, REL, key, encoder="vits") == "fails"


#: (model_type, file) → the key we choose, and what it starts from
ROUTES = [
    (REL, "public", WHOLE, "whole"),
    (MET, "public", WHOLE, "whole"),
    (REL, "dinov2", BACKBONE, "backbone"),
    (REL, "tao_relative", WHOLE, "whole"),
    (MET, "tao_metric", WHOLE, "whole"),
    (MET, "tao_relative", BACKBONE, "backbone"),  # NVIDIA's metric from scratch on a relative backbone
    (REL, "tao_metric", BACKBONE, "backbone"),
]


@pytest.mark.parametrize(("model_type", "kind", "key", "start"), ROUTES)
def test_each_file_goes_where_tao_loads_the_most_of_it(model_type, kind, key, start):
    f = info(kind)
    r = route(f, model_type)
    assert r.ok and (r.key, r.start, r.encoder) == (key, start, f.encoder)
    assert tao_outcome(f, model_type, key) == start  # never a key TAO fails with
    assert r.notes[0] == f"encoder {f.encoder} taken from the file (model.encoder: {f.encoder})"
    if start == "backbone":
        assert any("head starts from scratch" in n for n in r.notes)


def test_metric_on_a_relative_checkpoint_is_said_as_nvidia_documents_it():
    r = route(info("tao_relative"), MET, "vitb")
    assert any("metric from scratch on top of a relative backbone" in n for n in r.notes)


def test_refusals_name_the_cause_and_the_fix():
    r = route(info("dinov2"), MET, "vitb")
    assert not r.ok and r.key is None
    assert "Missing key(s)" in r.problem.message and "public release" in r.problem.fix
    r = route(info("public"), REL, "vits")
    assert "vitb" in r.problem.message and "vits" in r.problem.message and "--encoder vitb" in r.problem.fix


def test_ddp_files_are_refused_with_the_strip_command(tmp_path):
    ddp = write_torch_zip(
        tmp_path / "ddp.pth", state_dict(expected_shapes("vitb"), prefix="module.", meta=True)
    )
    r = route(inspect_checkpoint(ddp), REL)
    assert not r.ok and "module." in r.problem.message
    assert f"depthnet weights strip-ddp {ddp} -o {tmp_path / 'ddp_nomodule.pth'}" in r.problem.fix


@pytest.mark.parametrize(
    ("action", "kind", "ok"),
    [
        ("evaluate", "tao_relative", True),
        ("evaluate", "public", True),
        ("inference", "public", True),
        ("evaluate", "dinov2", False),
        ("export", "tao_relative", True),
        ("export", "public", False),  # TAO's export takes Lightning checkpoints only
        ("quantize", "public", False),
        ("evaluate", "tao_metric", False),  # a Metric checkpoint as a Relative model
    ],
)
def test_evaluate_inference_export_rules(action, kind, ok):
    f = info(kind)
    r = route(f, REL, f.encoder, action)
    assert r.ok is ok
    assert r.key == (
        (f"{action}.checkpoint" if action != "quantize" else "quantize.model_path") if ok else None
    )
    if action == "export" and not ok:
        assert (
            "Lightning checkpoints only" in r.problem.message and "fine-tune from it first" in r.problem.fix
        )


def _train(tmp_path, checkpoint, model_type=REL, encoder=None, **kw):
    return BuildRequest(
        action="train",
        model_type=model_type,
        dataset_name="NYUDV2Relative" if model_type == REL else "NYUDV2",
        data_file=str(tmp_path / "train.txt"),
        val_data_file=str(tmp_path / "val.txt"),
        results_dir=str(tmp_path / "r"),
        checkpoint=str(checkpoint) if checkpoint else None,
        encoder=encoder,
        **kw,
    )


def test_the_spec_builder_writes_the_routed_key_and_the_start_recipe(tmp_path):
    spec, _ = build_spec(_train(tmp_path, FIX / FILES["public"]), check_files=False)
    assert spec.train.pretrained_model_path == str(FIX / FILES["public"])
    assert spec.model.mono_backbone.pretrained_path is None and spec.model.encoder == "vitb"
    assert (
        spec.train.optim.lr == get_recipe("finetune", REL, start="whole").as_dict()["train.optim.lr"] == 5e-6
    )
    spec, _ = build_spec(_train(tmp_path, FIX / FILES["dinov2"]), check_files=False)
    assert spec.model.mono_backbone.pretrained_path == str(FIX / FILES["dinov2"])
    assert spec.train.pretrained_model_path is None
    assert spec.train.optim.lr == 5e-6 and spec.train.seed == 42  # a fresh Relative head: alive there
    spec, _ = build_spec(_train(tmp_path, None), check_files=False)
    assert spec.train.optim.lr == 5e-6 and spec.model.encoder == "vitl"
    with pytest.raises(SpecError, match="bare DINOv2"):
        build_spec(_train(tmp_path, FIX / FILES["dinov2"], MET), check_files=False)
    with pytest.raises(SpecError, match="no such file"):
        build_spec(_train(tmp_path, tmp_path / "gone.pth"), check_files=False)
    route_ = start_route(_train(tmp_path, FIX / FILES["tao_relative"], MET))
    assert route_ is not None and route_.key == BACKBONE


def _spec(tmp_path, **keys):
    data = {
        "results_dir": str(tmp_path / "r"),
        "model": {"model_type": keys.pop("model_type", REL), "encoder": keys.pop("encoder", "vitb")},
        "dataset": {"dataset_name": "MonoDataset"},
        "train": {"optim": {"lr": keys.pop("lr", 5e-6)}, "seed": keys.pop("seed", 1234)},
    }
    if "whole" in keys:
        data["train"]["pretrained_model_path"] = keys.pop("whole")
    if "backbone" in keys:
        data["model"]["mono_backbone"] = {"pretrained_path": keys.pop("backbone")}
    assert not keys
    return data


def _problems(tmp_path, **keys):
    _spec_, problems = validate_data(_spec(tmp_path, **keys), "train", check_files=True)
    return [
        p
        for p in problems
        if p.path in (WHOLE, BACKBONE, "train.optim.lr", "train.seed", "dataset.max_depth")
    ]


def test_validate_names_a_file_in_the_wrong_key_and_the_right_one(tmp_path):
    public, dino = str(FIX / FILES["public"]), str(FIX / FILES["dinov2"])
    (bad,) = _problems(tmp_path, backbone=public)
    assert bad.severity == "error" and bad.path == BACKBONE and f"move it to {WHOLE}" in bad.fix
    (warn,) = _problems(tmp_path, backbone=public, model_type=MET, lr=5e-5)  # loads, but only the backbone
    assert warn.severity == "warning" and f"move it to {WHOLE}" in warn.fix
    assert _problems(tmp_path, whole=public) == []
    both = _problems(tmp_path, whole=public, backbone=dino)
    assert any("both start keys" in p.message for p in both)
    (missing,) = _problems(tmp_path, whole=str(tmp_path / "none.pth"))
    assert missing.severity == "error" and "does not exist" in missing.message
    (wrong_enc,) = _problems(tmp_path, whole=public, encoder="vits")
    assert "size mismatch" in wrong_enc.message
    (fresh,) = _problems(tmp_path, backbone=dino, lr=5e-5, seed=42)
    assert fresh.severity == "warning" and fresh.path == "train.optim.lr" and "died" in fresh.message
    (seed,) = _problems(tmp_path, backbone=dino, lr=5e-6)  # TAO's default seed 1234
    assert seed.severity == "warning" and seed.path == "train.seed" and "train.seed: 42" in seed.fix
    assert _problems(tmp_path, backbone=dino, lr=5e-6, seed=42) == []
    relative = str(
        FIX / FILES["tao_relative"]
    )  # a Metric model takes its backbone; its sigmoid head learned at any lr
    assert _problems(tmp_path, backbone=relative, lr=5e-5, model_type=MET) == []


def test_a_metric_release_at_another_max_depth_is_said(tmp_path):
    release = tmp_path / "depth_anything_v2_metric_hypersim_vits.pth"
    write_torch_zip(release, state_dict(expected_shapes("vits"), meta=True))
    data = _spec(tmp_path, whole=str(release), model_type=MET, encoder="vits")
    data["dataset"] |= {"min_depth": 0.001, "max_depth": 10.0}
    _s, problems = validate_data(data, "train")
    (p,) = [p for p in problems if p.path == "dataset.max_depth"]
    assert p.severity == "warning" and "max_depth 20" in p.message and "dataset.max_depth: 20" in p.fix


def test_validate_refuses_export_of_a_public_release(tmp_path):
    data = {
        "results_dir": str(tmp_path / "r"),
        "model": {"model_type": REL, "encoder": "vitb"},
        "dataset": {"dataset_name": "MonoDataset"},
        "export": {"checkpoint": str(FIX / FILES["public"]), "onnx_file": str(tmp_path / "m.onnx")},
    }
    _s, problems = validate_data(data, "export")
    assert any(p.path == "export.checkpoint" and p.severity == "error" for p in problems)
    data["export"]["checkpoint"] = str(FIX / FILES["tao_relative"])
    _s, problems = validate_data(data, "export")
    assert not any(p.path == "export.checkpoint" for p in problems)
