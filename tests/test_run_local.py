"""The local backend: ``depth_net`` found on PATH (here the emulator as a host script) run as a detached process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from runkit import EMU_KILLED_LOSSES, EMU_LOSSES, depthnet, events, make_project, step_losses, verdict


@pytest.fixture()
def project(tmp_path, depth_net_on_path):
    return make_project(tmp_path)


def test_local_train_follows_log_and_status(project):
    spec = project.spec("train", "train.yaml")
    done = depthnet("run", "train", "-e", str(spec), "--backend", "local", "--json-events")
    assert done.returncode == 0, done.stderr
    evs = events(done.stdout)
    assert step_losses(evs) == EMU_LOSSES
    assert verdict(evs)["passed"] and verdict(evs)["exit_code"] == 0


def test_a_train_run_ends_with_the_tensorboard_command_for_its_curves(project):
    spec = project.spec("train", "train.yaml")
    done = depthnet("run", "train", "-e", str(spec), "--backend", "local")
    assert done.returncode == 0, done.stderr
    results = project.out / "results" / "train"
    assert f"curves: tensorboard --logdir {results / 'lightning_logs'}\n" in done.stderr
    assert any(results.glob("lightning_logs/version_*/events.out.tfevents.*"))


def test_local_kill_is_137(project):
    spec = project.spec("train", "train.yaml")
    done = depthnet(
        "run", "train", "-e", str(spec), "--backend", "local", "--json-events", "--env", "EMU_MODE=killed"
    )
    assert done.returncode == 1
    evs = events(done.stdout)
    v = verdict(evs)
    assert v["exit_code"] == 137 and "out of memory" in v["reason"]
    assert step_losses(evs) == EMU_KILLED_LOSSES


def test_local_reattach_learns_the_exit_code_of_a_process_it_did_not_start(project):
    spec = project.spec("train", "bad.yaml", dataset="MetricMonoDataset")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "specgen.cli",
            "run",
            "train",
            "-e",
            str(spec),
            "--backend",
            "local",
            "--json-events",
            "--env",
            "EMU_SPEED=0.1",
            "--env",
            "EMU_MODE=nan",
            "--allow-known-failure",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    while '"alert"' not in line:  # the NaN capture's first epoch line (status.json), read while it runs
        line = proc.stdout.readline()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    run_id = proc.stderr.read().split("run ", 1)[1].split()[0]
    done = depthnet("attach", run_id, "--json-events")
    assert done.returncode == 1
    v = verdict(events(done.stdout))
    assert v["exit_code"] == 0 and v["tao_status"] == "PASS"  # from the wrapper's exit file
    assert "train_loss is NaN at epoch 0 although TAO printed PASS" in v["reason"]
    assert "use NYUDV2" in v["reason"] and v["nan"] and v["epochs_completed"] == 2


def test_script_backend_writes_the_exact_docker_command(project):
    spec = project.spec("train", "train.yaml")
    done = depthnet("run", "train", "-e", str(spec), "--backend", "script", "--gpus", "1")
    assert done.returncode == 0, done.stderr
    script = done.stdout.split("wrote ", 1)[1].split(";")[0]
    text = open(script).read()
    assert text.startswith("#!/bin/sh") and "--gpus device=1" in text and "--user" in text
    assert f"{project.data}:{project.data}:ro" in text and f"depth_net train -e {spec}" in text
    assert os.access(script, os.X_OK)


def test_preflight_relative_annotation_paths_are_caught(project, tmp_path):
    ann = project.out / "ann" / "train.txt"
    ann.write_text("data/kitchen/rgb_00000.jpg data/kitchen/sync_depth_00000.png\n")
    spec = project.spec("train", "train.yaml")
    done = depthnet("run", "train", "-e", str(spec), "--backend", "local")
    assert done.returncode == 2
    assert f"{ann} lists relative paths (data/kitchen/rgb_00000.jpg" in done.stderr
    assert "write the annotation files again with an absolute data root" in done.stderr


def test_two_gpus_give_the_run_a_consistent_spec_copy_and_steps_count_once(project):
    """--gpus 0,1: the run reads a copy with num_gpus 2 / gpu_ids [0, 1] (the user's file untouched), TAO's strategy
    choice is said before launch, and two ranks printing into one console do not double the steps (the stand-in
    replays the real two-H100 DDP capture for num_gpus 2)."""
    from runkit import capture_losses

    spec = project.spec("train", "train.yaml")
    before = spec.read_bytes()
    done = depthnet("run", "train", "-e", str(spec), "--backend", "local", "--gpus", "0,1", "--json-events")
    assert done.returncode == 0, done.stderr
    assert "train.num_gpus: 2, train.gpu_ids: [0, 1]" in done.stderr
    assert "ddp_find_unused_parameters_true" in done.stderr
    assert spec.read_bytes() == before
    evs = events(done.stdout)
    assert step_losses(evs) == capture_losses("train_ddp2")
    v = verdict(evs)
    assert v["passed"] and v["epochs_completed"] == 2


def test_bad_gpu_list_is_refused_with_the_fix(project):
    spec = project.spec("train", "train.yaml")
    done = depthnet("run", "train", "-e", str(spec), "--backend", "local", "--gpus", "0,0")
    assert done.returncode == 2 and "distinct GPU indices" in done.stderr and "Traceback" not in done.stderr
