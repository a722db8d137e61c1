"""What the Run screen shows, folded from events: chart series, epoch/step progress with ETA, kpi, verdict.

Plain Python so it is tested and benchmarked without a terminal; the screen only draws it.
"""

from __future__ import annotations

import math
from typing import Any

from specgen.engine.events import (
    Alert,
    ConsoleMetrics,
    Event,
    JobState,
    LogLine,
    Metric,
    StatusLine,
    StepLoss,
    Verdict,
)
from specgen.engine.status import StatusFold

MAX_POINTS = (
    4096  # per-step points kept for the chart; beyond, neighbours are merged (a terminal shows fewer)
)


class RunProgress:
    def __init__(self) -> None:
        self.step_loss: dict[int, float] = {}  # global step → per-step train loss
        self.epoch_train: dict[int, float] = {}  # global step at the epoch's end → epoch mean train_loss
        self.epoch_val: dict[int, float] = {}  # same, for val/loss
        self.lr: dict[int, float] = {}  # global step → learning rate (TensorBoard ``train/lr``)
        self.console: dict[
            str, float
        ] = {}  # values printed on the console (Rich bar frame, Test metric table)
        self.epoch: int | None = None
        self.max_epoch: int | None = None
        self.step = 0  # global steps done (from the progress bar, or status.json)
        self.max_step: int | None = None
        self.steps_per_epoch: int | None = None
        self.eta: str | None = None
        self.kpi: dict[str, Any] = {}
        self.message: str | None = None
        self.first_bad: StepLoss | None = None
        self.alerts: list[Alert] = []
        self.job: JobState | None = None  # a Slurm job's latest state
        self.verdict: Verdict | None = None
        self.status = StatusFold()

    def apply(self, event: Event) -> str:
        """Fold one event in; return which part changed ('chart', 'kpi', 'status', 'log', 'alert', 'verdict')."""
        if isinstance(event, StepLoss):
            self.step_loss[event.global_step] = event.loss
            if len(self.step_loss) > MAX_POINTS:
                self._halve()
            self.steps_per_epoch = event.steps
            self.epoch = event.epoch if self.epoch is None else max(self.epoch, event.epoch)
            self.step = max(self.step, event.global_step)
            if not event.finite and (
                self.first_bad is None or event.global_step < self.first_bad.global_step
            ):
                self.first_bad = event
            return "chart"
        if isinstance(event, Metric):
            if event.tag == "train/lr":
                self.lr[event.step] = event.value
                if len(self.lr) > MAX_POINTS:
                    self.lr = dict(sorted(self.lr.items())[::2])
            return "status"
        if isinstance(event, ConsoleMetrics):
            self.console.update(event.values)
            if event.source == "table":
                self.kpi.update({k: v for k, v in event.values.items() if k not in self.kpi})
            return "kpi"
        if isinstance(event, StatusLine):
            return self._status(event)
        if isinstance(event, LogLine):
            return "log"
        if isinstance(event, Alert):
            self.alerts.append(event)
            return "alert"
        if isinstance(event, JobState):
            self.job = event
            return "status"
        self.verdict = event
        return "verdict"

    def _halve(self) -> None:
        """Merge neighbouring points pairwise (mean, NaN kept visible as NaN): memory stays flat on long runs."""
        items = sorted(self.step_loss.items())
        merged: dict[int, float] = {}
        for i in range(0, len(items) - 1, 2):
            (x, a), (_, b) = items[i], items[i + 1]
            merged[x] = (a + b) / 2
        if len(items) % 2:
            merged[items[-1][0]] = items[-1][1]
        self.step_loss = merged

    def _status(self, line: StatusLine) -> str:
        change = self.status.add(line)
        fold = self.status
        self.message = fold.message
        self.max_epoch, self.max_step, self.eta = fold.max_epoch, fold.max_step, fold.eta
        if line.epoch is not None:
            self.epoch = line.epoch
        if line.step is not None:
            self.step = max(self.step, line.step)
        kpi = line.kpi
        if not kpi:
            return "status"
        self.kpi.update(kpi)  # by key: "Train metrics generated." carries only train_loss, val/* come apart
        changed = "kpi"
        # One point per epoch: val/loss arrives on "Eval metrics generated." (and again on the epoch's
        # "Training loop in progress" line), train_loss on the "Train metrics generated." line after it.
        at = change.epoch_point
        if at is not None:
            for key, series in (("train_loss", self.epoch_train), ("val/loss", self.epoch_val)):
                if isinstance(kpi.get(key), (int, float)):
                    series[at] = float(kpi[key])
                    changed = "chart"
        return changed

    # ------------------------------------------------------------------ for drawing

    @staticmethod
    def finite_points(series: dict[int, float], limit: int | None = None) -> tuple[list[int], list[float]]:
        """Sorted points without NaN/inf (a chart cannot draw them; the status line names the first one), at most
        ``limit`` of them (bucket means): a terminal chart has a few hundred columns, drawing more only costs time.

        Built from key and value lists, not (x, y) pairs, with each bucket's mean a C-speed ``sum`` over a slice
        (the same sums, in the same order): the Run screen's chart calls this for every figure, in a thread whose
        GIL time the loop waits for."""
        isfinite = math.isfinite
        xs = [x for x, y in series.items() if isfinite(y)]
        xs.sort()
        ys = [series[x] for x in xs]
        if limit and len(xs) > limit:
            size = math.ceil(len(xs) / limit)
            means = []
            for i in range(0, len(ys), size):
                bucket = ys[i : i + size]
                means.append(sum(bucket) / len(bucket))
            return xs[::size], means
        return xs, ys

    @property
    def total_steps(self) -> int | None:
        if self.max_step:
            return self.max_step
        if self.steps_per_epoch and self.max_epoch is not None:
            return self.steps_per_epoch * (self.max_epoch + 1)
        return None

    def progress_line(self) -> str:
        parts = []
        if self.epoch is not None:
            # TAO counts epochs from 0 and writes max_epoch = num_epochs - 1; people count from 1.
            parts.append(
                f"epoch {self.epoch + 1}" + (f"/{self.max_epoch + 1}" if self.max_epoch is not None else "")
            )
        if self.step:
            parts.append(f"step {self.step}" + (f"/{self.total_steps}" if self.total_steps else ""))
        if self.eta:
            parts.append(f"ETA {self.eta}")
        if self.lr:
            parts.append(f"lr {self.lr[max(self.lr)]:.2g}")  # from TensorBoard's train/lr
        if self.first_bad is not None:
            parts.append(f"loss NaN/inf from step {self.first_bad.global_step}")
        return " · ".join(parts) or (self.message or "waiting for the first step…")
