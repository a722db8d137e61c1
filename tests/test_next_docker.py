"""After training, through a real Docker engine (the emulator image): evaluate, inference with a real depth map as
the prediction, export with its overwrite refusal, and the TensorRT chain in the Deploy image's place.

These fail (not skip) under CI, where ``.ci/run`` starts dockerd on a private socket.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from depthgen import write_pfm
from runkit import EVAL_ABS_REL, depthnet, events, make_project, verdict
from test_run_docker import _container, run

from specgen.spec.docker_cmd import DEPLOY_IMAGE

pytestmark = pytest.mark.usefixtures("docker_client")


def run_id_of(done) -> str:
    return done.stderr.split("run ", 1)[1].split()[0]


def next_spec(run_id: str, action: str, *extra: str) -> str:
    done = depthnet("next", run_id, action, *extra)
    assert done.returncode == 0, done.stderr
    return done.stdout.split("wrote ", 1)[1].split()[0]


@pytest.fixture()
def trained(tmp_path, emu_image):
    project = make_project(tmp_path)
    done = run(project, "train", project.spec("train", "train.yaml"), emu_image)
    assert done.returncode == 0, done.stderr
    return project, run_id_of(done)


def test_evaluate_and_inference_derived_from_a_docker_train_run(trained, emu_image, docker_client):
    project, train_id = trained
    results = project.out / "results"
    spec = next_spec(train_id, "evaluate")
    done = run(project, "evaluate", spec, emu_image)
    assert done.returncode == 0, done.stderr
    v = verdict(events(done.stdout))
    assert v["passed"] and v["kpi"]["val/abs_rel"] == EVAL_ABS_REL
    c = _container(docker_client, run_id_of(done))
    assert c.attrs["Config"]["Cmd"] == ["depth_net", "evaluate", "-e", spec]
    assert json.loads(depthnet("metrics", run_id_of(done), "--json").stdout)["rows"][0]["values"] == [
        EVAL_ABS_REL
    ]

    # Inference: the emulator copies a real depth map (metres) as its "prediction"; we read it back from the PFM.
    truth = np.linspace(0.5, 6.0, 48 * 64, dtype=np.float32).reshape(48, 64)
    pfm = write_pfm(results / "emu_prediction.pfm", truth)
    spec = next_spec(train_id, "inference")
    done = run(project, "inference", spec, emu_image, "--env", f"EMU_PFM={pfm}")
    assert done.returncode == 0, done.stderr
    assert verdict(events(done.stdout))["reason"] == "inference finished"
    rows = json.loads(depthnet("outputs", run_id_of(done), "--stats", "--json").stdout)
    val_images = (project.out / "ann" / "val.txt").read_text().split()[0::2]
    assert sorted(r["input"] for r in rows) == sorted(val_images)
    for r in rows:
        assert r["output"] == str(results / "inference" / "inference_images") + r["input"]
        assert r["stats"]["min"] == pytest.approx(0.5) and r["stats"]["max"] == pytest.approx(6.0)
        assert r["stats"]["median"] == pytest.approx(float(np.median(truth)))


def test_export_refusal_free_name_and_the_tensorrt_chain(trained, emu_image):
    project, train_id = trained
    results = project.out / "results"
    spec = next_spec(train_id, "export")
    first = run(project, "export", spec, emu_image)
    assert first.returncode == 0, first.stderr
    onnx = results / "export" / "metricdepthanything_vitl.onnx"
    assert onnx.read_text() == "onnx\n"
    # The same spec again: refused before launch, with a free name offered; the file is untouched.
    again = run(project, "export", spec, emu_image, "--force")
    assert again.returncode == 2
    assert f"export.onnx_file {onnx} already exists and TAO refuses to overwrite it" in again.stderr
    assert (
        f"set export.onnx_file: {results / 'export' / 'metricdepthanything_vitl_2.onnx'} (free)"
        in again.stderr
    )
    # `depthnet next` picks the free name by itself (and a free results folder, since export/ holds a run).
    done = depthnet("next", train_id, "export")
    assert done.returncode == 0 and "metricdepthanything_vitl_2.onnx" in done.stderr
    second = run(project, "export", done.stdout.split("wrote ", 1)[1].split()[0], emu_image)
    assert second.returncode == 0 and (results / "export" / "metricdepthanything_vitl_2.onnx").is_file()
    assert onnx.read_text() == "onnx\n"

    # export → gen_trt_engine: the Deploy image is chosen by itself (here it is absent: a preflight error naming it).
    export_id = run_id_of(first)
    refused = depthnet("next", export_id, "gen_trt_engine", "--data-type", "FP16")
    assert refused.returncode == 1 and "FP16 overflows in the vitl mono backbone" in refused.stderr
    gen_spec = next_spec(export_id, "gen_trt_engine")
    no_image = depthnet("run", "gen_trt_engine", "-e", gen_spec, "--gpus", "none", "--backend", "docker")
    assert (
        no_image.returncode == 2
        and f"image {DEPLOY_IMAGE} is not on this machine; pull it first" in no_image.stderr
    )
    built = run(project, "gen_trt_engine", gen_spec, emu_image)
    assert built.returncode == 0, built.stderr
    engine = results / "gen_trt_engine" / "metricdepthanything_vitl.fp32.engine"
    assert engine.is_file()
    # gen_trt_engine → TensorRT evaluate: data found two specs up, results apart from the PyTorch evaluate.
    trt_spec = next_spec(run_id_of(built), "evaluate")
    assert trt_spec.endswith("specs/evaluate_trt.yaml")
    no_image = depthnet("run", "evaluate", "-e", trt_spec, "--gpus", "none", "--backend", "docker")
    assert f"image {DEPLOY_IMAGE} is not on this machine" in no_image.stderr
    done = run(project, "evaluate", trt_spec, emu_image)
    assert done.returncode == 0, done.stderr
    assert (results / "evaluate_trt" / "status.json").is_file()
    assert verdict(events(done.stdout))["kpi"]["val/abs_rel"] == EVAL_ABS_REL
