"""Runs that survive the cluster: a train job near its time limit requeues itself (``--requeue``: Slurm's
``--signal=B:USR1@N`` trapped by the job script, ``scontrol requeue``) and TAO resumes from ``*_latest.pth``;
retries of infrastructure failures (``--retries``), never of data errors; ``depthnet resume`` of a failed run.
The stand-in (tests/slurm_standin/depth_net) writes TAO's checkpoints, resumes as TAO does and fails on demand."""

# ruff: noqa: F811 - the cluster fixture comes from test_slurm

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from runkit import depthnet, events, slurm_train, verdict
from slurm_standin.kit import fail_once, files_holding, install, record, run_id_of, scontrol, wait_job_end
from test_slurm import _keep_cluster_env, cluster  # noqa: F401


@pytest.fixture()
def standin(tmp_path, monkeypatch):
    bin_dir = tmp_path / "standin-bin"
    install(bin_dir)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.is_file() else f"({path.name}: none)"


def _slurm(spec: Path, *extra: str, timeout: float = 240):
    return slurm_train(spec, *extra, timeout=timeout)


def test_a_job_at_its_time_limit_requeues_itself_and_resumes_to_pass(cluster, standin):
    """--time 2 (two minutes) and thirty 4-second epochs: Slurm warns the job 30 s before its limit, the job requeues
    itself (same job id) and the next attempt resumes from TAO's newest checkpoint, until the last epoch. Slurm
    checks time limits in a periodic pass, so the warning comes up to ~60 s early (here at 30–90 s, many epochs in;
    with --time 1 it once came 6 s after the start, before any checkpoint, and the job rightly did not requeue)."""
    project, *_ = cluster
    spec = project.spec("train", "rq.yaml", "--set", "train.num_epochs=30", results="rq")
    done = _slurm(
        spec,
        "--time",
        "2",
        "--requeue",
        "--requeue-signal-seconds",
        "30",
        "--env",
        "STANDIN_EPOCH_SECONDS=4",
        "--detach",
    )
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip()
    job = record(run_id)["job_id"]
    folder = Path(record(run_id)["log_file"]).parent
    states = wait_job_end(job, timeout=600, run_folder=folder)
    seen = "\n".join(_read(folder / f) for f in ("log.txt", "attempts.txt"))
    assert "PENDING|BeginTime" in states, f"{states}\n{seen}"  # it was requeued, not ended
    follow = depthnet("attach", run_id, "--json-events", timeout=120)
    assert follow.returncode == 0, f"{follow.stdout[-1500:]}\n{follow.stderr}\n{seen}"
    v = verdict(events(follow.stdout))
    rec = record(run_id)
    requeues = [r for r in rec["restarts"] if r["kind"] == "requeue"]
    assert v["passed"] and v["epochs_completed"] == 30, v
    assert requeues and int(scontrol(job)["Restarts"]) == len(requeues)
    assert rec["job_id"] == job and all(r["job_id"] == job for r in requeues)  # one job, one run record
    words = "a time-limit requeue" if len(requeues) == 1 else "time-limit requeues"
    assert "resumed at epoch" in v["reason"] and words in v["reason"], v["reason"]
    console = Path(rec["log_file"]).read_text()
    assert console.count("requeueing Slurm job") == len(requeues)
    assert "Setting resume checkpoint to" in console and "model_epoch_" in console
    assert rec["verdict"]["reason"] == v["reason"]  # run.json keeps the same words


def test_an_nccl_failure_is_retried_on_slurm_with_the_same_job_and_secrets_stay_off_disk(
    cluster, standin, tmp_path
):
    """--retries 1: the first attempt dies of an NCCL error after its first epoch; the follower requeues the job
    (same id: Slurm keeps the environment sbatch gave it, the --env value included) and the retry resumes. No file
    of the run or its results holds the secret; neither `runs --json` nor `attach` prints it."""
    project, *_ = cluster
    spec = project.spec("train", "nccl.yaml", "--set", "train.num_epochs=3", results="nccl")
    marker = tmp_path / "failed-once"
    done = _slurm(
        spec,
        "--retries",
        "1",
        *fail_once("nccl", marker, epoch=1),
        "--env",
        "NGC_API_KEY=s3cret",
        "--env",
        "STANDIN_ENV_NAMES=NGC_API_KEY",
        "--json-events",
        timeout=400,
    )
    assert done.returncode == 0, done.stderr
    evs = events(done.stdout)
    v = verdict(evs)
    assert v["passed"], v
    retry = [e for e in evs if e["kind"] == "alert" and e["code"] == "RETRY"]
    assert len(retry) == 1 and "NCCL" in retry[0]["message"] and "retry 1 of 1" in retry[0]["message"]
    assert "after a retry (" in v["reason"] and "resumed at epoch 1" in v["reason"], v["reason"]
    rec = record(run_id_of(done.stderr))
    assert [r["kind"] for r in rec["restarts"]] == ["retry"] and rec["restarts"][0]["job_id"] == rec["job_id"]
    console = Path(rec["log_file"]).read_text()
    assert console.count("standin: NGC_API_KEY is set (6 characters)") == 2  # both attempts had it
    run_folder = Path(rec["log_file"]).parent
    assert (
        files_holding(run_folder, b"s3cret") == []
        and files_holding(Path(rec["results_dir"]), b"s3cret") == []
    )
    assert "NGC_API_KEY" in json.dumps(rec) and "s3cret" not in json.dumps(rec)
    assert "s3cret" not in depthnet("runs", "--json").stdout
    again = depthnet("attach", rec["run_id"], "--json-events", timeout=120)
    assert "s3cret" not in again.stdout + again.stderr and verdict(events(again.stdout))["passed"]
    assert "s3cret" not in done.stdout + done.stderr


def test_a_data_error_is_never_retried(cluster, standin, tmp_path):
    """--retries 2 and a data loader's error: one attempt, FAIL with the catalogue's reason, no restart."""
    project, *_ = cluster
    spec = project.spec("train", "data.yaml", results="data")
    done = _slurm(spec, "--retries", "2", *fail_once("data", tmp_path / "m"), "--json-events")
    assert done.returncode == 1, done.stderr
    evs = events(done.stdout)
    assert not [e for e in evs if e["kind"] == "alert" and e["code"] == "RETRY"]
    assert not verdict(evs)["passed"]
    assert record(run_id_of(done.stderr))["restarts"] == []


def test_depthnet_resume_of_a_failed_slurm_run(cluster, standin, tmp_path):
    """A Slurm train run fails at epoch 2 (a data error, fixed meanwhile); `depthnet resume --yes` starts the same
    run again on Slurm — the --env values given again, as they were never saved — and it resumes to PASS."""
    project, *_ = cluster
    spec = project.spec("train", "res.yaml", "--set", "train.num_epochs=3", results="res")
    fail = fail_once("data", tmp_path / "m", epoch=2)
    done = _slurm(spec, *fail, "--json-events")
    assert done.returncode == 1, done.stderr
    run_id = run_id_of(done.stderr)
    resumed = depthnet(
        "resume",
        run_id,
        "--yes",
        *fail,
        "--json-events",
        timeout=240,
    )
    assert resumed.returncode == 0, resumed.stderr
    v = verdict(events(resumed.stdout))
    assert v["passed"] and v["epochs_completed"] == 3, v
    assert "resumed at epoch 2" in v["reason"] and "after depthnet resume" in v["reason"], v["reason"]
    rec = record(run_id)
    assert [r["kind"] for r in rec["restarts"]] == ["resume"] and rec["restarts"][0]["job_id"] == rec[
        "job_id"
    ]
    assert "Setting resume checkpoint to" in Path(rec["log_file"]).read_text()
