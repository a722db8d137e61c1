"""What a run reports, one event at a time (the CLI prints them as JSON lines; the Run screen draws them).

The events are plain dataclasses, not pydantic models: they are built by our own parsers (never from untrusted
input), and ``depthnet verdict`` judges a finished run without paying for pydantic at all. run.json still loads a
verdict through pydantic (``RunRecord.verdict``), which validates a dataclass field as it would a model."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass(kw_only=True)
class LogLine:
    kind: Literal["log"] = "log"
    text: str
    progress: bool = False  # a \r-relayed progress update (replaces the previous progress line)


@dataclass(kw_only=True)
class StepLoss:
    kind: Literal["step_loss"] = "step_loss"
    epoch: int
    step: int  # 1-based step within the epoch
    steps: int  # steps per epoch
    loss: float
    global_step: int

    @property
    def finite(self) -> bool:
        return math.isfinite(self.loss)


@dataclass(kw_only=True)
class Metric:
    """One scalar from the TensorBoard event file Lightning writes (``train_loss_step``, ``train/lr``, ``val/*``…)."""

    kind: Literal["metric"] = "metric"
    tag: str
    step: int  # Lightning's global step, 1-based like status.json's ``step``
    value: float


@dataclass(kw_only=True)
class ConsoleMetrics:
    """Values printed on the console: Lightning's final Rich bar frame (``bar``) or Rich's "Test metric" table."""

    kind: Literal["console_metrics"] = "console_metrics"
    source: Literal["bar", "table"]
    values: dict[str, float]
    epoch: int | None = None
    max_epoch: int | None = None
    step: int | None = None
    steps: int | None = None


@dataclass(kw_only=True)
class StatusLine:
    """One line of TAO's status.json, as written (``data``), with its keys read once here, typed: a key of the
    wrong type reads as absent (real files hold NaN, strings and nulls where numbers are expected)."""

    kind: Literal["status"] = "status"
    data: dict[str, Any]

    def _int(self, key: str) -> int | None:
        value = self.data.get(key)
        return value if isinstance(value, int) else None

    def _str(self, key: str) -> str | None:
        value = self.data.get(key)
        return value if isinstance(value, str) else None

    @property
    def kpi(self) -> dict[str, Any]:
        value = self.data.get("kpi")
        return value if isinstance(value, dict) else {}

    @property
    def has_kpi(self) -> bool:
        """The line carries a kpi mapping (possibly empty)."""
        return isinstance(self.data.get("kpi"), dict)

    @property
    def epoch(self) -> int | None:
        """TAO counts epochs from 0."""
        return self._int("epoch")

    @property
    def max_epoch(self) -> int | None:
        """num_epochs - 1."""
        return self._int("max_epoch")

    @property
    def step(self) -> int | None:
        return self._int("step")

    @property
    def max_step(self) -> int | None:
        return self._int("max_step")

    @property
    def eta(self) -> str | None:
        return self._str("eta")

    @property
    def message(self) -> str | None:
        return self._str("message")

    @property
    def failed(self) -> bool:
        return self.data.get("status") == "FAILURE"


@dataclass(kw_only=True)
class Alert:
    kind: Literal["alert"] = "alert"
    code: str
    message: str


@dataclass(kw_only=True)
class Verdict:
    """How a run ended, judged honestly (``specgen.engine.verdict.judge``): the monitor's last event, what run.json
    keeps (this model's JSON, so older files load alike) and what ``depthnet verdict`` prints."""

    kind: Literal["verdict"] = "verdict"
    passed: bool
    reason: str
    exit_code: int | None = None
    tao_status: str | None = None  # what TAO itself printed (PASS/FAIL), for contrast
    kpi: dict[str, Any] = field(default_factory=dict)  # the latest value of each key over the whole run
    reasons: list[str] = field(default_factory=list)  # every reason found, the headline first
    epochs_completed: int | None = None  # counted across a resume (the epochs before it included)
    nan: bool = False
    interrupted: bool = False
    #: The log lines a failure reason was read from (``depthnet verdict --verbose``, the Run screen's banner on
    #: Enter); None when the reason did not come from the log. Optional fields: an older run.json loads alike.
    excerpt: str | None = None
    #: The failure catalogue's code of the first reason (``failures.CATALOGUE``; ``failures.INFRA_CODES`` are the
    #: machine's fault, worth a retry), None when nothing in the log explained a failure.
    code: str | None = None
    #: Who stopped the run (run.json's ``stopped_by``: "you (depthnet stop)", "the sweep (pruned)" …), None when
    #: it ended by itself or was killed by the system.
    stopped_by: str | None = None

    def __post_init__(self) -> None:
        # its own copies, as the model's validation made them: the run's fold keeps changing its kpi mapping
        self.kpi, self.reasons = dict(self.kpi), list(self.reasons)

    @property
    def word(self) -> Literal["PASS", "FAIL"]:
        return "PASS" if self.passed else "FAIL"

    def report(self) -> dict[str, Any]:
        """``depthnet verdict --json``: the verdict word, every reason, and what it rests on."""
        return {
            "verdict": self.word,
            "reasons": self.reasons,
            "epochs_completed": self.epochs_completed,
            "kpi": self.kpi,
            "nan": self.nan,
            "interrupted": self.interrupted,
            "code": self.code,
            "stopped_by": self.stopped_by,
            "excerpt": self.excerpt,
        }

    @property
    def tao_note(self) -> str:
        """' (TAO printed PASS)' for contrast, unless the reason already says so."""
        return (
            f" (TAO printed {self.tao_status})"
            if self.tao_status and "TAO printed" not in self.reason
            else ""
        )


#: Job states after which nothing more happens (squeue's long names).
TERMINAL = frozenset(
    {
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "TIMEOUT",
        "OUT_OF_MEMORY",
        "NODE_FAIL",
        "PREEMPTED",
        "BOOT_FAIL",
        "DEADLINE",
        "REVOKED",
        "SPECIAL_EXIT",
    }
)
#: Plain words for the way Slurm ended a job, the headline of its verdict.
ENDINGS = {
    "CANCELLED": "Slurm cancelled the job (CANCELLED: scancel, `depthnet stop` or an administrator) before it finished",
    "TIMEOUT": "the job reached its time limit and Slurm ended it (TIMEOUT{limit}): ask for more time with --time, "
    "or train fewer epochs",
    "OUT_OF_MEMORY": "the job ran out of host memory (OUT_OF_MEMORY): ask for more with --sbatch-arg=--mem=…, or "
    "lower dataset.train_dataset.workers / the batch size",
    "NODE_FAIL": "a node of the job failed (NODE_FAIL): submit it again; tell the cluster admins if it repeats",
    "PREEMPTED": "a higher-priority job preempted this one (PREEMPTED): submit it again, or use a partition without "
    "preemption",
    "BOOT_FAIL": "the job's node failed to boot (BOOT_FAIL): submit it again",
    "DEADLINE": "the job missed its deadline (DEADLINE)",
    "REVOKED": "the job was revoked by a federated cluster (REVOKED)",
}
#: Why a job waits, in words (squeue's %r); others are shown as Slurm names them.
PENDING_WORDS = {
    "Resources": "waiting for free nodes/GPUs (Resources)",
    "Priority": "other jobs go first (Priority)",
    "QOSMaxGRESPerUser": "you already use the most GPUs your QOS allows (QOSMaxGRESPerUser)",
    "ReqNodeNotAvail": "a requested node is not available (ReqNodeNotAvail)",
    "PartitionTimeLimit": "--time is longer than the partition allows (PartitionTimeLimit): ask for less",
    "AssocGrpGRES": "your account's GPU limit is reached (AssocGrpGRES)",
    "BeginTime": "it may not start yet (BeginTime)",
    "Dependency": "it waits for another job (Dependency)",
}


@dataclass(kw_only=True)
class JobState:
    """One look at a job: Slurm's state name, its reason, and the exit code once it ended."""

    kind: Literal["job_state"] = "job_state"
    job_id: str
    state: str
    reason: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    time_limit: str | None = None
    nodes: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL

    @property
    def words(self) -> str:
        """What the user reads while waiting or after the end."""
        if self.state == "PENDING":
            reason = PENDING_WORDS.get(self.reason or "", self.reason or "no reason given")
            return f"Slurm job {self.job_id} is pending: {reason}"
        if self.state == "RUNNING":
            return f"Slurm job {self.job_id} is running" + (f" on {self.nodes}" if self.nodes else "")
        if self.state == "UNKNOWN":
            return f"Slurm job {self.job_id}: {self.reason or 'state unknown'}"
        return f"Slurm job {self.job_id} ended: {self.state}"

    @property
    def ending(self) -> str | None:
        """The verdict's headline for a job Slurm ended (None for COMPLETED/FAILED: the exit code tells those)."""
        text = ENDINGS.get(self.state)
        if text is None:
            return None
        return text.format(limit=f", limit {self.time_limit}" if self.time_limit else "")


def as_dict(event: Event) -> dict[str, Any]:
    """An event as the JSON object ``depthnet run --json`` prints (its fields, ``kind`` first)."""
    return asdict(event)


Event = LogLine | StepLoss | Metric | ConsoleMetrics | StatusLine | Alert | JobState | Verdict
