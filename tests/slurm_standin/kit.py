"""Helpers for the tests that run the Slurm stand-in (``tests/slurm_standin/depth_net``) on CI's cluster or as a
local ``depth_net``: put it on PATH, read a run back, wait for a job."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

STANDIN = Path(__file__).parent / "depth_net"


def install(bin_dir: Path) -> Path:
    """``bin_dir/depth_net``: the stand-in under this interpreter (its PyYAML), wherever a job runs it."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    exe = bin_dir / "depth_net"
    exe.write_text(f'#!/bin/sh\nexec {sys.executable} {STANDIN} "$@"\n')
    exe.chmod(0o755)
    return exe


def fail_once(kind: str, marker: Path, epoch: int | None = None) -> list[str]:
    """The ``--env`` flags that make the stand-in's first run fail with ``kind``'s words (nccl, data, driver) at
    ``epoch`` (default: before the first), leaving ``marker``; a later run goes on."""
    flags = ["--env", f"STANDIN_FAIL_ONCE={kind}:{marker}"]
    return flags if epoch is None else [*flags, "--env", f"STANDIN_FAIL_EPOCH={epoch}"]


def runs_dir() -> Path:
    return Path(os.environ["XDG_DATA_HOME"]) / "depthnet-tui" / "runs"


def record(run_id: str) -> dict:
    return json.loads((runs_dir() / run_id / "run.json").read_text())


def run_id_of(stderr: str) -> str:
    """The id in ``run RUN started (…)`` / ``run RUN resumed (…)``."""
    return re.search(r"^run (\S+) (?:started|resumed) ", stderr, re.M).group(1)


def squeue(job: str) -> str | None:
    """``STATE|REASON`` while Slurm has the job queued or running, "" after; None when squeue did not answer (a
    controller busy requeueing the job times out: that is no end of the job)."""
    try:
        done = subprocess.run(
            ["squeue", "-h", "-j", job, "-o", "%T|%r"], capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        return None
    if done.returncode == 0:
        return done.stdout.strip()
    return "" if "Invalid job id" in done.stderr else None


def scontrol(job: str) -> dict[str, str]:
    done = subprocess.run(["scontrol", "show", "job", "-o", job], capture_output=True, text=True, timeout=30)
    return dict(t.partition("=")[::2] for t in done.stdout.split() if "=" in t)


def wait_job_end(job: str, timeout: float = 400, run_folder: Path | None = None) -> list[str]:
    """Until Slurm no longer lists the job; the states seen, in order. A requeued job waits in PENDING
    (BeginTime) for the credential lifetime (``cred_expire``: CI's cluster sets 10 s, Slurm's default is 120 s)
    and must: started sooner (``scontrol update StartTime=now``), slurmd refuses the new attempt ("Job credential
    revoked") and the job ends FAILED. ``run_folder``: the run's folder, whose ``attempts.txt`` says when a
    requeue is under way — squeue may not list the job while Slurm ends the old attempt, which is no end (the
    follower reads the same file); a requeued job that ended without a new attempt fails here at once."""
    from specgen.engine.events import TERMINAL
    from specgen.engine.slurm import requeue_in_flight

    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        state = squeue(job)
        if state is None:
            time.sleep(0.5)
            continue
        if not state and run_folder is not None and requeue_in_flight(run_folder):
            ended = scontrol(job).get("JobState", "")
            if ended in TERMINAL - {"CANCELLED"}:  # CANCELLED: how Slurm ends the attempt it requeues
                raise AssertionError(f"Slurm job {job} requeued, then ended {ended} before its next attempt")
            time.sleep(0.5)
            continue
        if not state:
            return seen
        if not seen or seen[-1] != state:
            seen.append(state)
        time.sleep(0.5)
    raise AssertionError(f"Slurm job {job} still listed after {timeout:g} s (states: {seen})")


def files_holding(root: Path, needle: bytes) -> list[Path]:
    """Every regular file under ``root`` whose bytes contain ``needle``."""
    out = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
            out.append(path)
    return out
