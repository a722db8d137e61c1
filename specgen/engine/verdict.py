"""The honest verdict. PASS means the action ran to its end — exit 0, not interrupted nor stopped, its last epoch
reached (counted across a resume), its outputs present, its kpi reported — with no NaN/inf loss at any step and no
non-finite metric that makes its result unusable, whatever TAO printed (TAO prints ``Execution status: PASS`` for a
NaN run and for Ctrl-C).

``RunFacts`` folds a run's events (console, status.json, TensorBoard) into what the verdict needs; the live monitor
and ``depthnet verdict`` (a run made anywhere, judged after the fact) share it. What the words are comes from one
place each: why a run failed from the failure catalogue (``failures.diagnose``), NaN/inf metrics from
``failures.judge_metrics``, epochs and resumes from ``resume.count_epochs``; this module orders them into reasons.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from specgen.engine.events import Event, LogLine, Metric, StatusLine, StepLoss, Verdict
from specgen.engine.failures import (
    HINT_KEYS,
    MAX_LINE,
    MAX_TAIL,
    ONE_LINE_MAX,
    Diagnosis,
    MetricFinding,
    diagnose,
    judge_metrics,
    one_line,
)
from specgen.engine.resume import EpochCount, count_epochs, last_session
from specgen.engine.resume import latest_checkpoint as resume_point
from specgen.engine.status import StatusFold, finite

if TYPE_CHECKING:  # a verdict of a healthy run reads no spec: the schema is not imported to judge it
    from specgen.engine.runspec import RunSpec

EXPECTED_KPI: dict[str, tuple[str, ...]] = {
    "train": ("train_loss",),
    "evaluate": ("val/abs_rel",),
}
STEP_LOSS_TAGS = ("train_loss_step",)


def first_bad_step(steps: list[StepLoss]) -> StepLoss | None:
    return min((s for s in steps if not s.finite), key=lambda s: s.global_step, default=None)


class LogTail:
    """The console's last ``MAX_TAIL`` characters as lines (Rich's redrawn progress lines left out): what the
    failure catalogue reads when a run fails. Memory stays flat whatever the log's size."""

    def __init__(self, limit: int = MAX_TAIL) -> None:
        self.limit = limit
        self._lines: deque[str] = deque()
        self._size = 0

    def add(self, text: str) -> None:
        text = text[:MAX_LINE]
        self._lines.append(text)
        self._size += len(text) + 1
        while self._size > self.limit and len(self._lines) > 1:
            self._size -= len(self._lines.popleft()) + 1

    def text(self) -> str:
        return "\n".join(self._lines)


class RunFacts:
    """What a run has shown so far. Memory stays flat: kpi by key, the first bad step, a bounded digest of
    status.json's last session, the log's tail, counters."""

    def __init__(self) -> None:
        #: kpi by key, epochs, the last session's lines, interruption
        self.status = StatusFold(keep_lines=True)
        self.first_bad: StepLoss | None = None
        #: Why nothing more can be known, in the backend's or monitor's words (no exit code, a script never run):
        #: the log's own failure is the catalogue's to read, not picked here.
        self.failure: str | None = None
        #: A scheduler ended the job (Slurm TIMEOUT, CANCELLED…), in plain words.
        self.ended_by: str | None = None
        #: run.json's stopped_by: who stopped it (depthnet stop, ctrl+x, a sweep).
        self.stopped_by: str | None = None
        self.log = LogTail()

    @property
    def kpi(self) -> dict[str, Any]:
        """The latest value of each key in the last session: TAO's kpi is not sticky across kinds of status lines,
        and a re-run into the same folder appends to the old run's status.json."""
        return self.status.session_kpi

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
            bad = self.status.add(event).new_nonfinite
            return f"{', '.join(bad)} is not finite in status.json" if bad else None
        elif isinstance(event, LogLine) and not event.progress:
            self.log.add(event.text)
        return None

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
    def nan(self) -> bool:
        """A loss went non-finite somewhere (the data doctor's hint is worth asking for)."""
        return self.first_bad is not None or bool(self.status.bad_loss) or bool(self.status.nonfinite_losses)


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


def latest_checkpoint(results_dir: str) -> str | None:
    """The file TAO's auto-resume would start from, by name (``resume.latest_checkpoint``); None when a re-run into
    this folder would start over."""
    found = resume_point(results_dir, auto_only=True)
    return found.name if found is not None else None


def _shown(value: Any) -> str | None:
    """A kpi value for a reason: a number in 4 significant digits (a huge int stays readable), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int) and abs(value) >= 10**15:
        return f"{str(value)[:4]}…e{len(str(abs(value))) - 1}"
    return f"{value:.4g}"


def _stopped(
    by: str, action: str, count: EpochCount, spec: RunSpec | None, resumable: str | None, began: bool = True
) -> str:
    """ "stopped by you (depthnet stop) at epoch 2 of 3 …": who, where, and how to go on. ``began``: TAO wrote a
    status line or a step (a job cancelled while Slurm held it PENDING, or a container stopped in its start-up,
    did not: "at epoch 1 of 3 (0 complete)" would tell of work that never was)."""
    if not began:
        return f"stopped by {by} before {action} began: nothing ran"
    if action != "train":
        return f"stopped by {by} before {action} finished: its outputs are incomplete"
    total = count.num_epochs or (spec.spec.train.num_epochs if spec is not None else None)
    done = count.epochs_done or 0
    where = f" at epoch {min(done + 1, total)} of {total}" if total else ""
    said = (
        f"stopped by {by}{where} ({done} complete)" if total else f"stopped by {by} ({done} epochs complete)"
    )
    if resumable and by.startswith("you"):
        return f"{said}: re-run into the same results folder to resume from {resumable}"
    return said


def _lie(action: str, what: str, d: Diagnosis | None, fallback: str) -> str:
    """A run whose exit code 0 contradicts what TAO itself said (a wrapper that lost the exit code)."""
    prefix = f"{action} failed ({what}, although the exit code is 0): "
    return d.one_line(prefix) if d is not None else prefix + fallback


def judge(
    action: str,
    exit_code: int | None,
    steps: list[StepLoss],
    kpi: dict[str, Any],
    *,
    status_lines: Sequence[Mapping[str, Any]] = (),
    log_text: str = "",
    spec: RunSpec | None = None,
    tao_status: str | None = None,
    failure_message: str | None = None,
    hint: str | None = None,
    missing: str | None = None,
    interrupted: bool = False,
    ended_by: str | None = None,
    stopped_by: str | None = None,
    resumable: str | None = None,
    session_failure: str | None = None,
) -> Verdict:
    """The verdict and its reasons, most telling first: who ended the run (you, a sweep, a scheduler), an
    interruption, why it failed (the catalogue's one line, for a non-zero exit), NaN losses and non-finite
    metrics, an exit 0 that TAO itself contradicts, a train that did not reach its last epoch, a kpi or an output
    that is missing. Every reason is one line of at most 200 characters."""
    reasons: list[str] = []
    warnings: list[str] = []
    excerpt: str | None = None
    code: str | None = None
    count = count_epochs(status_lines, log_text)
    if session_failure is None:  # a caller with status.json's lines only (the fold passes its own, unbounded)
        session_failure = next(
            (
                str(line.get("message") or "a status line says FAILURE")
                for line in last_session(status_lines)
                if line.get("status") == "FAILURE"
            ),
            None,
        )
    findings = judge_metrics(status_lines, action, spec=spec)
    pass_note = " although TAO printed PASS" if tao_status == "PASS" else ""
    if stopped_by:
        reasons.append(_stopped(stopped_by, action, count, spec, resumable, bool(status_lines or steps)))
    elif ended_by:
        reasons.append(ended_by)
    if interrupted and not stopped_by:
        reasons.append(
            f"the run was interrupted (Ctrl-C) before it finished{pass_note}: its outputs are incomplete"
        )
    ended = stopped_by or ended_by
    if not ended and exit_code not in (0, 143, None):
        d = diagnose(log_text, exit_code=exit_code, status_lines=status_lines, spec=spec, action=action)
        if d is not None:
            prefix = "" if d.code == "host_oom_kill" else f"{action} failed with exit code {exit_code}: "
            reasons.append(d.one_line(prefix))
            excerpt, code = d.excerpt or None, d.code
        else:
            why = f": {failure_message}" if failure_message else ""
            reasons.append(f"{action} failed with exit code {exit_code}{why}")
    bad = first_bad_step(steps)
    if bad is not None:
        where = (
            f"from step {bad.global_step}"
            if bad.global_step == 1
            else f"at step {bad.global_step} (epoch {bad.epoch})"
        )
        value = "NaN" if math.isnan(bad.loss) else "infinite"
        fix = hint or "check the dataset class against your depth files (`depthnet doctor`)"
        reasons.append(f"train_loss is {value} {where}{pass_note}: {fix}")
    failing: list[MetricFinding] = []
    for f in findings:
        if f.severity != "fail":
            warnings.append(f.reason)
        elif not (bad is not None and f.key == "train_loss"):  # said already, to the step
            failing.append(f)
    for i, f in enumerate(failing):
        doctor = hint if f.key in HINT_KEYS else None
        said = f.said(pass_note if i == 0 and bad is None else "", doctor)
        reasons.append(said if len(said) <= ONE_LINE_MAX else f.said("", doctor))  # the fix before the note
    nan = bad is not None or any(f.severity == "fail" for f in findings)
    if stopped_by and nan:  # a NaN loss says more than the stop it led to (--stop-on-nan, the screen's alert)
        reasons.append(reasons.pop(0))
    if ended:
        pass  # who ended it says how; the exit code it left says no more
    elif exit_code == 143:
        reasons.append(
            "the run was stopped (SIGTERM, exit 143) before it finished — not by depthnet: by `docker stop`, "
            "`kill` or the system"
        )
    elif exit_code is None and not interrupted:
        reasons.append(failure_message or "the run has not finished")
    elif exit_code == 0:
        if tao_status == "FAIL" or session_failure:
            d = diagnose(log_text, exit_code=1, status_lines=status_lines, spec=spec, action=action)
            excerpt, code = (d.excerpt or None, d.code) if d is not None else (excerpt, code)
            reasons.append(
                _lie(action, "TAO printed Execution status: FAIL", d, "the log does not say why")
                if tao_status == "FAIL"
                else _lie(action, "status.json says FAILURE", d, session_failure or "")
            )
        if not interrupted:
            if action == "train" and count.max_epoch is not None and not count.reached_end:
                words = count.words()
                reasons.append(
                    f"train ended after {count.epochs_done} of {count.num_epochs} epochs{pass_note}"
                    + (f" ({words})" if words else "")
                )
            absent = [k for k in EXPECTED_KPI.get(action, ()) if k not in kpi]
            if absent:
                reasons.append(
                    f"{action} exited 0 but reported no {', '.join(absent)}: it did not really run"
                )
            if missing:
                reasons.append(f"{action} exited 0 but wrote nothing: {missing}")
    common: dict[str, Any] = {
        "exit_code": exit_code,
        "tao_status": tao_status,
        "kpi": kpi,
        "epochs_completed": count.epochs_done,
        "stopped_by": stopped_by,
    }
    if reasons:
        shown = [one_line(r) for r in [*reasons, *warnings]]
        return Verdict(
            passed=False,
            reason=shown[0],
            reasons=shown,
            nan=nan,
            interrupted=interrupted,
            excerpt=excerpt,
            code=code,
            **common,
        )
    numbers = [(k, s) for k, v in kpi.items() if (s := _shown(v)) is not None and finite(v)]
    headline = f"{action} finished" + (
        f" with {', '.join(f'{k} {s}' for k, s in numbers)}" if numbers else ""
    )
    resumed = count.words() if count.resume is not None else None
    if resumed:
        headline = f"{resumed}; {headline}"  # the resume first: a cut reason keeps it
    shown = [one_line(r) for r in [headline, *warnings]]
    return Verdict(passed=True, reason=shown[0], reasons=shown, nan=False, interrupted=False, **common)


def judge_facts(
    action: str,
    facts: RunFacts,
    exit_code: int | None,
    *,
    tao_status: str | None,
    interrupted: bool,
    hint: str | None,
    missing: str | None,
    spec: RunSpec | None = None,
    resumable: str | None = None,
) -> Verdict:
    return judge(
        action,
        exit_code,
        [facts.first_bad] if facts.first_bad else [],
        facts.kpi,
        status_lines=facts.status.session_lines(),
        log_text=facts.log.text(),
        spec=spec,
        tao_status=tao_status,
        failure_message=facts.failure,
        hint=hint,
        missing=missing,
        interrupted=interrupted or facts.interrupted,
        ended_by=facts.ended_by,
        stopped_by=facts.stopped_by,
        resumable=resumable,
        session_failure=facts.status.session_failure,
    )
