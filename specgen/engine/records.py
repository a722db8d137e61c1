"""The engine's shared vocabulary: what a launch asks for (``LaunchRequest``), what a run leaves behind to be found
again (``RunRecord``, saved as run.json), and the one error every engine refusal is worded as (``LaunchError``).

They live apart from any backend so that a backend, the registry, the monitor and the faces all import one small
module, never each other."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from specgen.engine.events import Verdict
from specgen.spec.actions import Action
from specgen.spec.names import BACKEND_NAMES, BackendName


class LaunchError(RuntimeError):
    """A launch or preflight failure, worded as one message with the fix."""


Runtime = Literal["pyxis", "apptainer", "none"]
TIME_RE = re.compile(r"(\d+-)?\d{1,2}(:\d{1,2}){0,2}")
#: An environment variable's name, as a shell takes it: anything else would be code in a script (``$(touch X)=1``).
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Control characters (C0 with TAB, DEL, C1): a newline in a value ends a script line and starts a command.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: A Slurm partition, account or QOS name (a comma list for partitions): what sbatch's own names allow.
SLURM_NAME = re.compile(r"[A-Za-z0-9_.+@-]{1,200}(,[A-Za-z0-9_.+@-]{1,200}){0,50}")


def _shown(text: str) -> str:
    """A refused input in an error line: escaped (no control byte reaches the terminal), cut to 60 characters."""
    return repr(text[:60] + ("…" if len(text) > 60 else ""))


def check_env(env: Mapping[str, str]) -> dict[str, str]:
    """``--env`` pairs that are safe anywhere they go (a job script, run.sh, a container's environment): a shell
    name, a value without control characters. Raises LaunchError naming the variable — never its value."""
    for name, value in env.items():
        if not ENV_NAME.fullmatch(name):
            raise LaunchError(
                f"--env {_shown(name)}: a variable name is letters, digits and _ (not starting with a digit)"
            )
        if CONTROL.search(value):
            raise LaunchError(
                f"--env {name}: its value holds a control character (newline, CR, NUL, ESC…); give it on one line"
            )
    return dict(env)


def env_pairs(items: Iterable[str]) -> dict[str, str]:
    """``--env KEY=VALUE`` arguments as a checked dict (one place for the CLI's run, sweep and resume)."""
    env: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise LaunchError(f"--env {_shown(item)}: give NAME=VALUE (e.g. --env NGC_API_KEY=…)")
        env[name] = value
    return check_env(env)


def check_text(
    flag: str, value: str | None, pattern: re.Pattern[str] | None = None, example: str = ""
) -> None:
    """A value that is written into a job script: no control character, and the pattern when there is one."""
    if value is None:
        return
    if CONTROL.search(value) or (pattern is not None and not pattern.fullmatch(value)):
        raise LaunchError(f"{flag} {_shown(value)}: not a valid value" + (f"; {example}" if example else ""))


#: The most restarts ``--retries`` (and the run options dialog) may ask for.
MAX_RETRIES = 20


class SlurmOptions(BaseModel):
    """What ``depthnet run --backend slurm`` and the launch dialog ask for. Every value that reaches the job script
    is checked here (a LaunchError naming the flag), so no caller can write code into it."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    nodes: int = Field(default=1, ge=1)
    gpus_per_node: int = Field(default=1, ge=0)
    time: str | None = None
    container_runtime: Runtime = "pyxis"
    image: str | None = None
    sbatch_args: list[str] = Field(default_factory=list)
    master_port: int = Field(default=29500, ge=1024, le=65535)
    #: Requeue the job when its time limit is near (``--signal=B:USR1@requeue_signal_seconds``); TAO resumes.
    requeue: bool = False
    requeue_signal_seconds: int = Field(default=120, ge=10, le=65535)
    #: Infrastructure retries asked for (``--retries``): the job is made requeueable so a retry keeps its id.
    retries: int = Field(default=0, ge=0, le=MAX_RETRIES)

    @field_validator("partition", "account", "qos")
    @classmethod
    def _slurm_name(cls, value: str | None, info: ValidationInfo) -> str | None:
        flag = f"--{info.field_name}"
        check_text(flag, value, SLURM_NAME, "Slurm names are letters, digits and _ . + - @ (a comma list)")
        return value

    @field_validator("time")
    @classmethod
    def _time(cls, value: str | None) -> str | None:
        if value is not None and not TIME_RE.fullmatch(value):
            raise LaunchError(f"--time {_shown(value)}: use Slurm's format, e.g. 30, 2:00:00 or 1-12:00:00")
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        check_text("--image", value, re.compile(r"\S{1,1000}"), "an image reference has no spaces")
        return value

    @field_validator("sbatch_args")
    @classmethod
    def _sbatch_args(cls, value: list[str]) -> list[str]:
        for arg in value:
            if not arg.startswith("--") or CONTROL.search(arg):
                raise LaunchError(
                    f"--sbatch-arg {_shown(arg)}: give one long option per flag, on one line, e.g. "
                    "--sbatch-arg=--mem=64G"
                )
        return value

    def check(self) -> None:
        """Every value again (a model changed after it was made is checked before its script is written)."""
        SlurmOptions.model_validate(self.model_dump())


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
    #: Hydra overrides after the spec (a restart's ``train.resume_training_checkpoint_path=null``).
    overrides: list[str] = Field(default_factory=list)

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        return check_env(value)

    @property
    def command(self) -> list[str]:
        return ["depth_net", self.action, "-e", self.spec_path, *self.overrides]


RestartKind = Literal["requeue", "retry", "resume"]


class Restart(BaseModel):
    """One more start of the same run into the same results folder: Slurm's time-limit requeue, a retry of an
    infrastructure failure, or ``depthnet resume``."""

    kind: RestartKind
    at: str
    why: str = ""
    job_id: str | None = None


class Relaunch(BaseModel):
    """What starting the run again needs beyond run.json's other keys (a retry, ``depthnet resume``). The
    ``--env`` names only: their values never leave the memory of the process that was given them."""

    data_roots: list[str]
    output_dir: str
    network: str | None = None
    user: str
    shm_size: str = "16G"
    env_names: list[str] = Field(default_factory=list)
    slurm: SlurmOptions | None = None
    retries: int = 0  # infrastructure retries asked for (--retries)


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
    #: How to start it again (None: a record older than `depthnet resume`); env names only, never values.
    relaunch: Relaunch | None = None
    #: Every start after the first, in order (Slurm's time-limit requeues, retries, resumes): one run, one record.
    restarts: list[Restart] = Field(default_factory=list)
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
    "Relaunch",
    "Restart",
    "RunRecord",
    "RunRow",
    "SlurmOptions",
    "check_env",
    "env_pairs",
    "now",
]
