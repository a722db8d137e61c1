"""The honest verdict. PASS means the action ran to its end — exit 0, not interrupted, every epoch done, its outputs
present, its kpi reported — with no NaN/inf loss at any step or epoch, whatever TAO printed (TAO prints
``Execution status: PASS`` for a NaN run and for Ctrl-C).

``RunFacts`` folds a run's events (console, status.json, TensorBoard) into what the verdict needs; the live monitor
and ``depthnet verdict`` (a run made anywhere, judged after the fact) share it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from specgen.engine.events import Event, LogLine, Metric, StatusLine, StepLoss, Verdict
from specgen.engine.status import LOSS_KEYS, StatusFold

if TYPE_CHECKING:  # a verdict of a healthy run reads no spec: the schema is not imported to judge it
    from specgen.engine.runspec import RunSpec

EXPECTED_KPI: dict[str, tuple[str, ...]] = {
    "train": ("train_loss",),
    "evaluate": ("val/abs_rel",),
}
STEP_LOSS_TAGS = ("train_loss_step",)
RANK_PREFIX = re.compile(r"^\[rank:? ?(\d+)\]:? ?(.*)$")


def _bad(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def first_bad_step(steps: list[StepLoss]) -> StepLoss | None:
    return min((s for s in steps if not s.finite), key=lambda s: s.global_step, default=None)


class RunFacts:
    """What a run has shown so far. Memory stays flat: kpi by key, the first bad step, counters."""

    def __init__(self) -> None:
        self.status = StatusFold()  # status.json: kpi by key, epochs, the first non-finite loss, interruption
        self.first_bad: StepLoss | None = None
        self.failure: str | None = None
        self.ended_by: str | None = (
            None  # a scheduler ended the job (Slurm TIMEOUT, CANCELLED…), in plain words
        )
        self._merging = False
        self._merge_error: str | None = None

    @property
    def kpi(self) -> dict[str, Any]:
        """The latest value of each key: TAO's kpi is not sticky across kinds of status lines."""
        return self.status.kpi

    @property
    def bad_kpi(self) -> dict[str, float]:
        """The first non-finite value seen per loss key, even if later finite."""
        return self.status.bad_loss

    @property
    def max_epoch(self) -> int | None:
        return self.status.max_epoch

    @property
    def interrupted(self) -> bool:
        return self.status.interrupted

    def add(self, event: Event) -> str | None:
        """Fold one event in; returns an alert text when this event shows a NaN/inf loss."""
        if isinstance(event, StepLoss):
            if not event.finite and (
                self.first_bad is None or event.global_step < self.first_bad.global_step
            ):
                self.first_bad = event
                return f"train_loss is {event.loss} at step {event.global_step} (epoch {event.epoch})"
        elif isinstance(event, StatusLine):
            change = self.status.add(event)
            if change.failure:
                self.failure = change.failure
            bad = change.new_nonfinite
            return f"{', '.join(bad)} is not finite in status.json" if bad else None
        elif isinstance(event, LogLine) and not event.progress:
            self._log(event.text)
        return None

    def _log(self, text: str) -> None:
        stripped = text.strip()
        rank = RANK_PREFIX.match(stripped)
        if rank is not None:  # torch's per-rank error lines under DDP: "[rank1]: RuntimeError: …"
            rest = rank.group(2)
            if self.failure is None and _looks_failed(rest) and not rest.startswith("Traceback"):
                self.failure = f"rank {rank.group(1)}: {rest}"
            return
        if stripped.startswith("full_key: ") and self._merge_error:
            # Hydra's spec errors: "Error merging …" / what is wrong / "full_key: train.num_epoch"
            self.failure = (
                f"spec error at {stripped[10:]}: {self._merge_error} (TAO rejected the spec; "
                "`depthnet validate` names such keys before launch)"
            )
            self._merge_error = None
        elif self._merging:
            self._merge_error, self._merging = stripped, False
        elif stripped.startswith("Error merging "):
            self._merging = True
        elif self.failure is None and _looks_failed(text):
            self.failure = stripped

    def add_metric(self, metric: Metric) -> StepLoss | None:
        """A TensorBoard scalar; ``train_loss_step`` becomes the chart's per-step point."""
        if metric.tag not in STEP_LOSS_TAGS:
            return None
        per = self.status.steps_per_epoch
        epoch = (metric.step - 1) // per if per else 0
        return StepLoss(
            epoch=epoch,
            step=metric.step - epoch * per if per else metric.step,
            steps=per or 0,
            loss=metric.value,
            global_step=metric.step,
        )

    @property
    def epochs_completed(self) -> int | None:
        done = self.status.epochs_done
        return len(done) if done or self.max_epoch is not None else None

    @property
    def nan(self) -> bool:
        return self.first_bad is not None or bool(self.bad_kpi) or bool(self.status.nonfinite_losses)


def _looks_failed(text: str) -> bool:
    return (
        "Error" in text
        and "UserWarning" not in text
        and "FutureWarning" not in text
        and "[Error]: nvidia_tao_core.telemetry" not in text
    )


def missing_output(
    action: str, run: RunSpec | Callable[[], RunSpec | None] | None, results_dir: str
) -> str | None:
    """What the action should have written and did not (None when it is there or cannot be known). ``run`` may be
    a function giving the spec: it is called only for an action whose output the spec names (export, engine)."""
    if action == "inference":
        images = Path(results_dir) / "inference_images"
        return (
            None
            if images.is_dir() and any(p.is_file() for p in images.rglob("*"))
            else f"no image in {images}"
        )
    if action == "train":
        folder = Path(results_dir)
        if folder.is_dir() and not any(folder.glob("*.pth")):
            return f"no checkpoint (.pth) in {folder}"
        return None
    if callable(run):
        run = run()
    target = run.output_target if run is not None else None
    if target is None or Path(target[1]).is_file():
        return None
    return f"no {target[0]} at {target[1]}"


def judge(
    action: str,
    exit_code: int | None,
    steps: list[StepLoss],
    kpi: dict[str, Any],
    *,
    tao_status: str | None = None,
    failure_message: str | None = None,
    hint: str | None = None,
    missing: str | None = None,
    interrupted: bool = False,
    epochs_completed: int | None = None,
    max_epoch: int | None = None,
    bad_kpi: dict[str, float] | None = None,
    ended_by: str | None = None,
) -> Verdict:
    reasons: list[str] = [ended_by] if ended_by else []
    bad = first_bad_step(steps)
    bad_keys = sorted({*(bad_kpi or {}), *(k for k in LOSS_KEYS if _bad(kpi.get(k)))})
    nan = bad is not None or bool(bad_keys)
    pass_note = " although TAO printed PASS" if tao_status == "PASS" else ""
    if exit_code == 137 and not ended_by:
        reasons.append(
            "the container was killed (exit 137), most likely out of memory: lower the batch size or the "
            "encoder, or enable train.activation_checkpoint"
        )
    if interrupted:
        reasons.append(
            f"the run was interrupted (Ctrl-C) before it finished{pass_note}: its outputs are incomplete"
        )
    if nan:
        where = (
            f"from step {bad.global_step}"
            if bad is not None and bad.global_step == 1
            else (
                f"at step {bad.global_step} (epoch {bad.epoch})"
                if bad is not None
                else f"in the kpi {', '.join(bad_keys)}"
            )
        )
        values = [bad.loss] if bad is not None else [(bad_kpi or {}).get(k, kpi.get(k)) for k in bad_keys]
        value = "NaN" if any(isinstance(v, float) and math.isnan(v) for v in values) else "infinite"
        reasons.append(
            f"train_loss is {value} {where}{pass_note}"
            + (
                f": {hint}"
                if hint
                else ": check the dataset class against your depth files (`depthnet doctor`)"
            )
        )
    if ended_by:
        pass  # the scheduler's words say how it ended; the exit code it left says no more
    elif exit_code == 143:
        reasons.append("the run was stopped (SIGTERM, exit 143) before it finished")
    elif exit_code is None and not interrupted:
        reasons.append(failure_message or "the run has not finished")
    elif exit_code not in (0, 137, 143, None):
        why = f": {failure_message}" if failure_message else ""
        reasons.append(f"{action} failed with exit code {exit_code}{why}")
    if exit_code == 0 and not interrupted:
        if (
            action == "train"
            and max_epoch is not None
            and epochs_completed is not None
            and epochs_completed < max_epoch + 1
        ):
            reasons.append(f"train ended after {epochs_completed} of {max_epoch + 1} epochs{pass_note}")
        absent = [k for k in EXPECTED_KPI.get(action, ()) if k not in kpi]
        if absent:
            reasons.append(f"{action} exited 0 but reported no {', '.join(absent)}: it did not really run")
        if missing:
            reasons.append(f"{action} exited 0 but wrote nothing: {missing}")
    if reasons:
        return Verdict(
            passed=False,
            reason=reasons[0],
            reasons=reasons,
            exit_code=exit_code,
            tao_status=tao_status,
            kpi=kpi,
            epochs_completed=epochs_completed,
            nan=nan,
            interrupted=interrupted,
        )
    shown = ", ".join(f"{k} {v:.4g}" for k, v in kpi.items() if isinstance(v, (int, float)))
    reason = f"{action} finished" + (f" with {shown}" if shown else "")
    return Verdict(
        passed=True,
        reason=reason,
        reasons=[reason],
        exit_code=exit_code,
        tao_status=tao_status,
        kpi=kpi,
        epochs_completed=epochs_completed,
        nan=False,
        interrupted=False,
    )


def judge_facts(
    action: str,
    facts: RunFacts,
    exit_code: int | None,
    *,
    tao_status: str | None,
    interrupted: bool,
    hint: str | None,
    missing: str | None,
) -> Verdict:
    return judge(
        action,
        exit_code,
        [facts.first_bad] if facts.first_bad else [],
        facts.kpi,
        tao_status=tao_status,
        failure_message=facts.failure,
        hint=hint,
        missing=missing,
        interrupted=interrupted or facts.interrupted,
        epochs_completed=facts.epochs_completed,
        max_epoch=facts.max_epoch,
        bad_kpi=facts.bad_kpi,
        ended_by=facts.ended_by,
    )
