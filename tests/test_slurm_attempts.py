"""The job script's record of its attempts (``attempts.txt``: start, requeue, requeue-failed, no-requeue) and how
the follower reads it; the script's requeue trap run under bash with stand-ins for Slurm's tools, so no cluster
is needed (the requeue on a real cluster: tests/test_slurm_requeue.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from specgen.engine.records import LaunchRequest, SlurmOptions
from specgen.engine.slurm import render_script, requeue_in_flight, time_limit_requeues


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.is_file() else f"({path.name}: none)"


def test_a_requeue_in_flight_is_read_from_the_attempts_file(tmp_path):
    """The job script writes "requeue" before it asks Slurm to requeue the job, and "start" when the next attempt
    begins: in between (Slurm shows the old attempt CANCELLED "due to job requeue" for a moment) the follower
    must not take the job for ended."""
    attempts = tmp_path / "attempts.txt"
    assert not requeue_in_flight(tmp_path)  # no file yet
    attempts.write_text("2026-12-01T18:41:45Z start 0 vm\n")
    assert not requeue_in_flight(tmp_path)
    attempts.write_text(attempts.read_text() + "2026-12-01T18:43:02Z requeue 0 time limit\n")
    assert requeue_in_flight(tmp_path)
    attempts.write_text(attempts.read_text() + "\x00garbage\n2026-12-01T18:44:10Z start 1 vm\n")
    assert not requeue_in_flight(tmp_path)
    assert [r.at for r in time_limit_requeues(tmp_path)] == ["2026-12-01T18:43:02Z"]
    # scontrol refused the next one: no requeue is under way and none is counted
    attempts.write_text(
        attempts.read_text()
        + "2026-12-01T18:45:30Z requeue 1 time limit\n2026-12-01T18:45:31Z requeue-failed 1\n"
    )
    assert not requeue_in_flight(tmp_path)
    assert [r.at for r in time_limit_requeues(tmp_path)] == ["2026-12-01T18:43:02Z"]


def _tool(bin_dir: Path, name: str, body: str) -> None:
    exe = bin_dir / name
    exe.write_text("#!/bin/bash\n" + body)
    exe.chmod(0o755)


def test_a_requeue_slurm_refuses_is_no_requeue_and_the_attempt_keeps_its_exit_code(tmp_path):
    """``scontrol requeue`` can fail (a controller that refuses it, a job not requeueable after all): the job
    script says so, writes ``requeue-failed`` and lets the attempt run on, writing its exit code, so the follower
    neither waits for an attempt that never comes nor takes the run for requeued. The script runs here under bash
    with stand-ins for srun (runs the task), scontrol (refuses) and depth_net (saves a checkpoint, then waits)."""
    folder, bin_dir, results = tmp_path / "run", tmp_path / "bin", tmp_path / "results"
    for d in (folder, bin_dir, results):
        d.mkdir()
    go = tmp_path / "go"
    _tool(bin_dir, "srun", 'while [ "${1#--}" != "$1" ]; do shift; done\nexec "$@"\n')
    _tool(
        bin_dir, "scontrol", 'echo "scontrol: error: Requested operation is presently disabled" >&2\nexit 1\n'
    )
    _tool(
        bin_dir,
        "depth_net",
        f"touch {results}/model_epoch_001.pth && ln -s model_epoch_001.pth {results}/dn_latest.pth\n"
        f"while [ ! -e {go} ]; do sleep 0.05; done\nexit 0\n",
    )
    req = LaunchRequest(
        run_id="20261201-000000-train-abcd",
        action="train",
        spec_path=str(tmp_path / "spec.yaml"),
        results_dir=str(results),
        data_roots=[str(tmp_path)],
        output_dir=str(tmp_path),
        image="nvcr.io/nvidia/tao/tao-toolkit:6.26.3-pyt",
    )
    script = folder / "job.sbatch"
    script.write_text(render_script(req, SlurmOptions(container_runtime="none", requeue=True), folder))
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "SLURM_JOB_ID": "7",
        "SLURM_JOB_NODELIST": "vm",
    }
    job = subprocess.Popen(["bash", str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while (
            not (results / "dn_latest.pth").is_symlink()
            and job.poll() is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        job.send_signal(signal.SIGUSR1)  # Slurm's warning before the time limit
        while (
            "requeue-failed" not in _read(folder / "attempts.txt")
            and job.poll() is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        go.touch()
        out, _ = job.communicate(timeout=30)
    finally:
        job.kill()
    said = out.decode(errors="replace")
    kinds = [line.split()[1] for line in _read(folder / "attempts.txt").splitlines()]
    assert job.returncode == 0 and kinds == ["start", "requeue", "requeue-failed"], (kinds, said)
    assert "Slurm did not requeue the job" in said and "presently disabled" in said
    assert (folder / "exit_code").read_text().strip() == "0"  # the attempt's own end, as without --requeue
    assert not requeue_in_flight(folder) and time_limit_requeues(folder) == []


def test_a_job_slurm_ends_after_its_requeue_is_said_so_with_the_way_on(tmp_path, monkeypatch):
    """The job script requeued the job at its time limit, and Slurm ended it instead of starting the next attempt
    (slurmd refuses an attempt started within the credential lifetime: "Job credential revoked", FAILED). The
    follower waits REQUEUE_WAIT for the attempt, then says what happened and how to go on — not a bare exit 1.
    squeue and scontrol are stand-ins answering as Slurm 22.05 did for that job."""
    from specgen.engine import slurm
    from specgen.engine.records import RunRecord

    bin_dir, folder = tmp_path / "bin", tmp_path / "run"
    bin_dir.mkdir()
    folder.mkdir()
    _tool(bin_dir, "squeue", "exit 0\n")  # no longer listed
    _tool(
        bin_dir,
        "scontrol",
        'echo "JobId=7 JobName=depthnet-train JobState=FAILED Reason=None ExitCode=1:0"\n',
    )
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(slurm, "REQUEUE_WAIT", 0.5)
    (folder / "attempts.txt").write_text(
        "2026-12-01T20:07:17Z start 0 vm\n2026-12-01T20:08:31Z requeue 0 time limit\n"
    )
    record = RunRecord(
        run_id="20261201-200716-train-abcd",
        backend="slurm",
        action="train",
        spec_path=str(tmp_path / "spec.yaml"),
        results_dir=str(tmp_path / "results"),
        started="2026-12-01T20:07:16Z",
        job_id="7",
        exit_file=str(folder / "exit_code"),
    )
    states: list[str] = []
    ending = slurm.SlurmBackend().wait(record, lambda st: states.append(st.state))
    assert ending.exit_code == 1 and states == ["FAILED"], (ending, states)
    assert ending.ended_by is not None and ending.ended_by.startswith(
        "Slurm ended the job (FAILED) after its time-limit requeue, before the next attempt began"
    )
    assert f"depthnet resume {record.run_id}" in ending.ended_by
    assert [r.kind for r in record.restarts] == ["requeue"]
