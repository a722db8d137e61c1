"""The engine's shared vocabulary: what a launch asks for (``LaunchRequest``), what a run leaves behind to be found
again (``RunRecord``, saved as run.json), and the one error every engine refusal is worded as (``LaunchError``).

They live apart from any backend so that a backend, the registry, the monitor and the faces all import one small
module, never each other."""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, Field

from specgen.engine.events import Verdict
from specgen.spec.actions import Action
from specgen.spec.names import BACKEND_NAMES, BackendName


class LaunchError(RuntimeError):
    """A launch or preflight failure, worded as one message with the fix."""


Runtime = Literal["pyxis", "apptainer", "none"]
TIME_RE = re.compile(r"^(\d+-)?\d{1,2}(:\d{1,2}){0,2}$")


class SlurmOptions(BaseModel):
    """What ``depthnet run --backend slurm`` and the launch dialog ask for."""

    partition: str | None = None
    account: str | None = None
    nodes: int = Field(default=1, ge=1)
    gpus_per_node: int = Field(default=1, ge=0)
    time: str | None = None
    container_runtime: Runtime = "pyxis"
    image: str | None = None
    sbatch_args: list[str] = Field(default_factory=list)
    master_port: int = 29500

    def check(self) -> None:
        if self.time is not None and not TIME_RE.match(self.time):
            raise LaunchError(f"--time {self.time!r}: use Slurm's format, e.g. 30, 2:00:00 or 1-12:00:00")
        for arg in self.sbatch_args:
            if not arg.startswith("--") or "\n" in arg:
                raise LaunchError(
                    f"--sbatch-arg {arg!r}: give one long option per flag, e.g. --sbatch-arg=--mem=64G"
                )


class LaunchRequest(BaseModel):
    run_id: str
    action: Action
    spec_path: str
    results_dir: str
    data_roots: list[str]
    output_dir: str
    image: str | None = None
    gpus: str = "0"
    user: str = Field(default_factory=lambda: f"{os.getuid()}:{os.getgid()}")
    network: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    shm_size: str = "16G"

    @property
    def command(self) -> list[str]:
        return ["depth_net", self.action, "-e", self.spec_path]


class RunRecord(BaseModel):
    """What ``depthnet runs`` / ``attach`` need to find a run again (saved as run.json in its folder)."""

    run_id: str
    backend: BackendName
    action: Action
    spec_path: str
    results_dir: str
    started: str
    container_id: str | None = None
    pid: int | None = None
    #: the process's start time (/proc/PID/stat field 22): a reused pid is not ours
    pid_start: int | None = None
    image: str | None = None
    script: str | None = None
    exit_file: str | None = None  # local/slurm: where the wrapper leaves the exit code for a later attach
    job_id: str | None = None  # slurm: the job id sbatch gave
    log_file: str | None = None  # where the console goes when not the run folder's log.txt
    gpus: str | None = None  # what the run was given (--gpus), for the Run screen's telemetry
    notes: list[str] = Field(default_factory=list)  # what was decided at launch (device keys, strategy)
    #: Who stopped the run (one of the ``STOPPED_BY`` words, written by ``launch.stop(..., by=…)`` before the
    #: signal), so the verdict says "stopped by you" and not "killed"; None: it ended by itself or the system ended it.
    stopped_by: str | None = None
    #: How the run ended, once judged; stored in run.json as the verdict event's JSON (older files load alike).
    verdict: Verdict | None = None


#: Who stops a run, as run.json's ``stopped_by`` and the verdict ("stopped by …") say it.
BY_CLI = "you (depthnet stop)"
BY_SCREEN = "you (ctrl+x on the Run screen)"
BY_NAN = "you (--stop-on-nan)"
BY_SWEEP = "the sweep (pruned)"
STOPPED_BY = (BY_CLI, BY_SCREEN, BY_NAN, BY_SWEEP)


class RunRow(BaseModel):
    """One line of ``depthnet runs`` (and its ``--json``) and of the Runs screen: a run folder, or a labelled
    container no run folder knows of."""

    run_id: str
    backend: str
    action: str | None
    state: str = "unknown"
    verdict: Literal["PASS", "FAIL"] | None = None
    reason: str | None = None
    results_dir: str | None = None
    started: str | None = None

    @classmethod
    def of(cls, record: RunRecord) -> RunRow:
        v = record.verdict
        return cls(
            run_id=record.run_id,
            backend=record.backend,
            action=record.action,
            state="finished" if v is not None else "unknown",
            verdict=v.word if v is not None else None,
            reason=v.reason if v is not None else None,
            results_dir=record.results_dir,
            started=record.started,
        )


def now() -> str:
    """A record's timestamp: UTC, to the second, ISO 8601."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


__all__ = [
    "BACKEND_NAMES",
    "BY_CLI",
    "BY_NAN",
    "BY_SCREEN",
    "BY_SWEEP",
    "STOPPED_BY",
    "BackendName",
    "LaunchError",
    "LaunchRequest",
    "RunRecord",
    "RunRow",
    "SlurmOptions",
    "now",
]
