"""Runs through a real Docker engine: a busybox image whose depth_net replays TAO's output (tests/emulator).

These fail (not skip) under CI, where ``.ci/run`` starts dockerd on a private socket.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
from runkit import (
    EMU_KILLED_LOSSES,
    EMU_LOSSES,
    all_nan,
    depthnet,
    events,
    make_project,
    step_losses,
    verdict,
)

pytestmark = pytest.mark.usefixtures("docker_client")


def run(project, action: str, spec, image: str, *extra: str, timeout: float = 120):
    return depthnet(
        "run",
        action,
        "-e",
        str(spec),
        "--image",
        image,
        "--gpus",
        "none",
        "--network",
        "none",
        "--json-events",
        *extra,
        timeout=timeout,
    )


@pytest.fixture()
def project(tmp_path):
    return make_project(tmp_path)


def _container(docker_client, run_id: str):
    found = docker_client.containers.list(all=True, filters={"label": f"depthnet.run_id={run_id}"})
    assert len(found) == 1
    return found[0]


def test_healthy_train_chart_points_equal_the_emitted_losses(project, emu_image, docker_client):
    spec = project.spec("train", "train.yaml")
    done = run(project, "train", spec, emu_image)
    assert done.returncode == 0, done.stderr
    evs = events(done.stdout)
    assert step_losses(evs) == EMU_LOSSES
    # The real capture: train_loss arrives on "Train metrics generated." lines, val/* on the epoch lines.
    epochs = [
        e["data"]["kpi"]["train_loss"]
        for e in evs
        if e["kind"] == "status" and e["data"].get("message") == "Train metrics generated."
    ]
    assert [round(x, 4) for x in epochs] == [7.5029, 0.1652]
    v = verdict(evs)
    assert v["passed"] and v["exit_code"] == 0 and v["tao_status"] == "PASS" and v["epochs_completed"] == 2
    assert (
        v["reason"].startswith("train finished with val/loss 0.09538") and "train_loss 0.1652" in v["reason"]
    )
    assert (
        round(v["kpi"]["val/abs_rel"], 4) == 0.2712
    )  # kpi merged by key: val/* kept after the train_loss line
    # The container was launched as the seed prescribes.
    run_id = done.stderr.split("run ", 1)[1].split()[0]
    c = _container(docker_client, run_id)
    host = c.attrs["HostConfig"]
    assert host["ShmSize"] == 16 * 1024**3 and host["IpcMode"] == "host"
    assert c.attrs["Config"]["User"] == f"{os.getuid()}:{os.getgid()}"
    assert c.attrs["Config"]["Cmd"] == ["depth_net", "train", "-e", str(spec)]
    binds = {b.split(":")[0]: b for b in host["Binds"]}
    assert binds[str(project.data)].endswith(":ro")  # data read-only, at the same path
    results_dir = project.out / "results"  # the output folder: read-write
    assert binds[str(results_dir)] == f"{results_dir}:{results_dir}:rw"
    assert binds[str(project.out / "ann")].endswith(":ro") and binds[str(project.out)].endswith(
        ":ro"
    )  # spec folder
    assert c.labels["depthnet.action"] == "train" and c.labels["depthnet.results_dir"] == str(
        project.out / "results/train"
    )
    # Outputs and the run folder.
    results = project.out / "results" / "train"
    assert (results / "dn_model_latest.pth").is_symlink() and (
        results / "status.json"
    ).stat().st_uid == os.getuid()
    listed = json.loads(depthnet("runs", "--json").stdout)
    assert [r for r in listed if r["run_id"] == run_id][0]["verdict"] == "PASS"


def test_nan_train_that_prints_pass_fails_with_the_reason_and_an_alert(project, emu_image):
    spec = project.spec("train", "bad.yaml", dataset="MetricMonoDataset")
    refused = run(project, "train", spec, emu_image, "--env", "EMU_MODE=nan")  # the door holds
    assert (
        refused.returncode == 2
        and "EMPTY_MASK" in refused.stderr
        and "--allow-known-failure" in refused.stderr
    )
    done = run(project, "train", spec, emu_image, "--env", "EMU_MODE=nan", "--allow-known-failure")
    assert done.returncode == 1
    evs = events(done.stdout)
    # The real NaN capture logged no per-step point (TAO's default log_every_n_steps 500): status.json tells.
    first_nan = next(
        i
        for i, e in enumerate(evs)
        if e["kind"] == "status" and all_nan([v for v in e["data"].get("kpi", {}).values()])
    )
    assert evs[first_nan + 1]["kind"] == "alert"  # raised at once, not at the end
    v = verdict(evs)
    assert v["tao_status"] == "PASS" and v["exit_code"] == 0 and not v["passed"] and v["nan"]
    assert v["reason"].startswith(
        "train_loss is NaN at epoch 0 although TAO printed PASS: MetricMonoDataset reads"
    )
    assert "valid mask is empty; use NYUDV2" in v["reason"]
    assert math.isnan(v["kpi"]["train_loss"])


def test_stop_on_nan_stops_the_container(project, emu_image):
    spec = project.spec("train", "bad.yaml", dataset="MetricMonoDataset")
    done = run(
        project,
        "train",
        spec,
        emu_image,
        "--env",
        "EMU_MODE=nan",
        "--env",
        "EMU_SPEED=0.2",
        "--stop-on-nan",
        "--allow-known-failure",
    )
    assert done.returncode == 1
    assert "(--stop-on-nan)" in done.stderr
    evs = events(done.stdout)
    assert not [
        e for e in evs if e["kind"] == "status" and e["data"].get("epoch") == 1
    ]  # it did not run to the end
    v = verdict(evs)
    assert v["exit_code"] == 143 and v["reason"].startswith(("train_loss is NaN", "val/loss is NaN"))
    assert v["stopped_by"] == "you (--stop-on-nan)" and any(
        r.startswith("stopped by you (--stop-on-nan)") for r in v["reasons"]
    )


def test_killed_mid_run_is_reported_as_137(project, emu_image):
    spec = project.spec("train", "train.yaml")
    done = run(project, "train", spec, emu_image, "--env", "EMU_MODE=killed")
    assert done.returncode == 1
    v = verdict(events(done.stdout))
    assert v["exit_code"] == 137 and "killed by the system (SIGKILL, exit 137)" in v["reason"]
    assert step_losses(events(done.stdout)) == EMU_KILLED_LOSSES


def test_export_overwrite_refused_before_launch_and_tao_error_reported(project, emu_image, docker_client):
    onnx = project.out / "results" / "export" / "model.onnx"
    ckpt = project.out / "results" / "train" / "model.pth"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"weights")
    spec = project.spec("export", "export.yaml", "--checkpoint", str(ckpt), "--onnx-file", str(onnx))
    first = run(project, "export", spec, emu_image)
    assert first.returncode == 0, first.stderr
    assert onnx.read_text() == "onnx\n"
    again = run(project, "export", spec, emu_image, "--force")
    assert again.returncode == 2
    assert f"export.onnx_file {onnx} already exists and TAO refuses to overwrite it" in again.stderr
    assert "Traceback" not in again.stderr and onnx.read_text() == "onnx\n"
    # Past preflight (the file appears after the check), TAO's own refusal is reported in the verdict.
    import asyncio

    from specgen.engine import registry
    from specgen.engine.backends import DockerBackend
    from specgen.engine.monitor import Monitor
    from specgen.engine.records import LaunchRequest

    req = LaunchRequest(
        run_id=registry.new_run_id("export"),
        action="export",
        spec_path=str(spec),
        results_dir=str(project.out / "results/export"),
        data_roots=[],
        output_dir=str(project.out),
        image=emu_image,
        gpus="none",
        network="none",
    )
    backend = DockerBackend()
    record = backend.launch(req, registry.run_dir(req.run_id))
    got = []
    v = asyncio.run(Monitor(record, backend, got.append, log_path=project.root / "log.txt").run())
    assert not v.passed and v.exit_code == 1 and v.tao_status == "FAIL"
    # the catalogue's line (TAO's was "Parameter validation error: Default onnx file … already exists"), its path
    # shortened to the folder that tells them apart
    assert v.reason.startswith(
        "export failed with exit code 1: export.onnx_file …/out/results/export/model.onnx"
    )
    assert "already exists: TAO never overwrites" in v.reason and "export.onnx_file" in v.reason


def test_reattach_after_the_monitor_is_killed_rebuilds_everything(project, emu_image, docker_client):
    spec = project.spec("train", "train.yaml")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "specgen.cli",
            "run",
            "train",
            "-e",
            str(spec),
            "--image",
            emu_image,
            "--gpus",
            "none",
            "--network",
            "none",
            "--json-events",
            "--env",
            "EMU_SPEED=0.1",  # 15 s: still running when looked at after the kill, on a loaded machine too
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = proc.stdout.readline()
    while '"step_loss"' not in first:
        first = proc.stdout.readline()
    os.kill(proc.pid, signal.SIGKILL)  # the SSH session drops
    proc.wait()
    run_id = proc.stderr.read().split("run ", 1)[1].split()[0]
    assert _container(docker_client, run_id).status == "running"  # the run goes on without us
    listed = json.loads(depthnet("runs", "--json").stdout)
    assert [r for r in listed if r["run_id"] == run_id][0]["state"] == "running"
    done = depthnet("attach", run_id[-4:], "--json-events")  # a unique suffix is enough
    assert done.returncode == 0, done.stderr
    evs = events(done.stdout)
    assert step_losses(evs) == EMU_LOSSES  # history rebuilt from the start, then followed to the end
    assert verdict(evs)["passed"]
    # A finished run reopens the same way, after its container is gone too.
    _container(docker_client, run_id).remove()
    again = depthnet("attach", run_id, "--json-events")
    assert again.returncode == 0 and step_losses(events(again.stdout)) == EMU_LOSSES


def test_stop_is_graceful_then_final(project, emu_image, docker_client):
    spec = project.spec("train", "train.yaml")
    started = depthnet(
        "run",
        "train",
        "-e",
        str(spec),
        "--image",
        emu_image,
        "--gpus",
        "none",
        "--network",
        "none",
        "--env",
        "EMU_SPEED=0.3",
        "--detach",
    )
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    assert _container(docker_client, run_id).status == "running"
    t0 = time.monotonic()
    stopped = depthnet("stop", run_id, "--timeout", "5")
    assert stopped.returncode == 0 and time.monotonic() - t0 < 5  # the emulator honours SIGTERM at once
    v = verdict(events(depthnet("attach", run_id, "--json-events").stdout))
    assert v["exit_code"] == 143 and "stopped" in v["reason"]


def test_no_gpu_runtime_is_advice_and_leaves_no_container(project, emu_image, docker_client):
    spec = project.spec("train", "train.yaml")
    done = depthnet("run", "train", "-e", str(spec), "--image", emu_image, "--gpus", "0", "--network", "none")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        'depthnet: Docker has no NVIDIA GPU runtime (could not select device driver "" with capabilities: [[gpu]]): '
        "install the NVIDIA Container Toolkit and restart Docker, or run with --gpus none for a CPU-only check"
    )
    assert (
        docker_client.containers.list(
            all=True, filters={"label": "depthnet.action=train", "status": "created"}
        )
        == []
    )


def test_missing_image_and_paths_outside_mounts_are_preflight_errors(project, emu_image):
    spec = project.spec("train", "train.yaml")
    missing = run(project, "train", spec, "depthnet-emu:no-such-tag")
    assert missing.returncode == 2
    assert "image depthnet-emu:no-such-tag is not on this machine; pull it first" in missing.stderr
    narrow = run(project, "train", spec, emu_image, "--data-root", str(project.data / "kitchen"))
    assert narrow.returncode == 2
    assert (
        "lists files outside the data roots" in narrow.stderr
        and "name their folder with --data-root" in narrow.stderr
    )
    assert "Traceback" not in narrow.stderr
