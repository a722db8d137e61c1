"""What a run reports, one event at a time (the CLI prints them as JSON lines; the Run screen draws them)."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, Field


class LogLine(BaseModel):
    kind: Literal["log"] = "log"
    text: str
    progress: bool = False  # a \r-relayed progress update (replaces the previous progress line)


class StepLoss(BaseModel):
    kind: Literal["step_loss"] = "step_loss"
    epoch: int
    step: int  # 1-based step within the epoch
    steps: int  # steps per epoch
    loss: float
    global_step: int

    @property
    def finite(self) -> bool:
        return math.isfinite(self.loss)


class Metric(BaseModel):
    """One scalar from the TensorBoard event file Lightning writes (``train_loss_step``, ``train/lr``, ``val/*``…)."""

    kind: Literal["metric"] = "metric"
    tag: str
    step: int  # Lightning's global step, 1-based like status.json's ``step``
    value: float


class ConsoleMetrics(BaseModel):
    """Values printed on the console: Lightning's final Rich bar frame (``bar``) or Rich's "Test metric" table."""

    kind: Literal["console_metrics"] = "console_metrics"
    source: Literal["bar", "table"]
    values: dict[str, float]
    epoch: int | None = None
    max_epoch: int | None = None
    step: int | None = None
    steps: int | None = None


class StatusLine(BaseModel):
    kind: Literal["status"] = "status"
    data: dict[str, Any]

    @property
    def kpi(self) -> dict[str, Any]:
        value = self.data.get("kpi")
        return value if isinstance(value, dict) else {}


class Alert(BaseModel):
    kind: Literal["alert"] = "alert"
    code: str
    message: str


class Verdict(BaseModel):
    kind: Literal["verdict"] = "verdict"
    passed: bool
    reason: str
    exit_code: int | None
    tao_status: str | None = None  # what TAO itself printed (PASS/FAIL), for contrast
    kpi: dict[str, Any] = Field(default_factory=dict)  # the latest value of each key over the whole run
    reasons: list[str] = Field(default_factory=list)  # every reason found, the headline first
    epochs_completed: int | None = None
    nan: bool = False
    interrupted: bool = False

    @property
    def tao_note(self) -> str:
        """' (TAO printed PASS)' for contrast, unless the reason already says so."""
        return f" (TAO printed {self.tao_status})" if self.tao_status and "TAO printed" not in self.reason else ""


Event = LogLine | StepLoss | Metric | ConsoleMetrics | StatusLine | Alert | Verdict
