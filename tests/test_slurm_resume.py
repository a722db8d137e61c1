"""``depthnet resume RUN`` on a local run (the backend does not matter to it): a failed or interrupted train run
starts again from its last checkpoint into the same results folder, after a yes; refused, with the reason, for a
run that passed and for an action without checkpoints. The stand-in (tests/slurm_standin/depth_net) is the local
``depth_net``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from runkit import depthnet, events, make_project, train, verdict
from slurm_standin.kit import fail_once, install, record, run_id_of


@pytest.fixture()
def local_project(tmp_path, monkeypatch):
    bin_dir = tmp_path / "standin-bin"
    install(bin_dir)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return make_project(tmp_path)


def test_resume_a_failed_local_run_after_a_yes(local_project, tmp_path):
    """A local train run fails at epoch 2 (a data error, fixed meanwhile); `depthnet resume` asks first (no terminal,
    no --yes: refused with the fix), then restarts it from epoch 1's checkpoint into the same results folder."""
    spec = local_project.spec("train", "lr.yaml", "--set", "train.num_epochs=4", results="lr")
    done = train(spec, *fail_once("data", tmp_path / "failed-once", epoch=2), "--json-events")
    assert done.returncode == 1, done.stderr
    run_id = run_id_of(done.stderr)
    assert "RGB image" in verdict(events(done.stdout))["reason"]
    asked = depthnet("resume", run_id)  # stdin is not a terminal here
    assert asked.returncode == 2 and "add --yes" in asked.stderr and len(asked.stderr.splitlines()) == 1
    assert record(run_id)["restarts"] == []
    resumed = depthnet("resume", run_id, "--yes", "--json-events")
    assert resumed.returncode == 0, resumed.stderr
    v = verdict(events(resumed.stdout))
    assert v["passed"] and v["epochs_completed"] == 4, v
    assert "resumed at epoch 2" in v["reason"] and "after depthnet resume" in v["reason"], v["reason"]
    rec = record(run_id)
    assert [r["kind"] for r in rec["restarts"]] == ["resume"]
    folder = Path(rec["exit_file"]).parent
    assert (folder / "log.1.txt").is_file()  # the first attempt's console is kept
    assert "Setting resume checkpoint to" in (folder / "log.txt").read_text()
    # refused, with the reason: a run that passed, and an action that has no checkpoint to resume from
    again = depthnet("resume", run_id, "--yes")
    assert again.returncode == 2 and "passed" in again.stderr and "nothing to resume" in again.stderr
    other_dir = folder.parent / (rec["run_id"] + "-eval")  # its own files in its own folder (registry's rule)
    other = dict(
        rec,
        run_id=other_dir.name,
        action="evaluate",
        verdict=None,
        exit_file=str(other_dir / Path(rec["exit_file"]).name),
        # a local run's log_file is None (the log is its folder's log.txt); a set one moves with it
        log_file=rec["log_file"] and str(other_dir / Path(rec["log_file"]).name),
    )
    other_dir.mkdir()
    (folder.parent / other["run_id"] / "run.json").write_text(json.dumps(other))
    refused = depthnet("resume", other["run_id"], "--yes")
    assert refused.returncode == 2 and "only a train run resumes" in refused.stderr


def test_an_nccl_failure_of_a_local_run_is_retried_and_resumes(local_project, tmp_path):
    """--retries 1 on the local backend: NCCL fails the first attempt after epoch 0's checkpoint; the follower
    starts the run again into the same results folder (said as one RETRY alert) and it resumes to PASS."""
    spec = local_project.spec("train", "nccl.yaml", "--set", "train.num_epochs=3", results="nccl")
    done = train(
        spec, "--retries", "1", *fail_once("nccl", tmp_path / "failed-once", epoch=1), "--json-events"
    )
    assert done.returncode == 0, done.stderr
    evs = events(done.stdout)
    retry = [e for e in evs if e["kind"] == "alert" and e["code"] == "RETRY"]
    assert len(retry) == 1 and "retry 1 of 1" in retry[0]["message"], retry
    v = verdict(evs)
    assert v["passed"] and "resumed at epoch 1" in v["reason"] and "after a retry (" in v["reason"], v
    rec = record(run_id_of(done.stderr))
    assert [r["kind"] for r in rec["restarts"]] == ["retry"] and rec["verdict"]["reason"] == v["reason"]
    assert (Path(rec["exit_file"]).parent / "log.1.txt").is_file()


def test_a_driver_too_old_is_not_retried(local_project, tmp_path):
    """--retries 1, but CUDA says the driver is too old for the image: the machine's fault, yet a retry would only
    repeat it (the driver stays what it is), so the run fails at once with the cause and the fix, no RETRY alert
    and no restart. (The stand-in would pass a second attempt: a wrong retry shows as a PASS here.)"""
    spec = local_project.spec("train", "drv.yaml", "--set", "train.num_epochs=2", results="drv")
    done = train(spec, "--retries", "1", *fail_once("driver", tmp_path / "failed-once"), "--json-events")
    assert done.returncode == 1, done.stderr
    evs = events(done.stdout)
    assert not [e for e in evs if e["kind"] == "alert" and e["code"] == "RETRY"]
    v = verdict(evs)
    assert not v["passed"] and "driver" in v["reason"], v["reason"]
    assert record(run_id_of(done.stderr))["restarts"] == []
