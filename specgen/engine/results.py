"""A finished run as something to build on: resolve a run id or a results folder, say whether it really
succeeded, read its final metrics. Shared by ``depthnet next|metrics|outputs`` and the Next/Results screens."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from specgen.engine import registry
from specgen.engine.records import RunRecord
from specgen.engine.status import StatusFold, StatusReader, drain
from specgen.job.chain import ChainError, Source
from specgen.spec.actions import ACTIONS


class RunRef(BaseModel):
    """A run found by id (our registry) or by its results folder (a run launched by hand)."""

    source: Source
    record: RunRecord | None = None

    @property
    def label(self) -> str:
        return self.record.run_id if self.record else self.source.results_dir


def status_lines(results_dir: str) -> list[dict[str, Any]]:
    return [line for batch in drain(StatusReader(Path(results_dir) / "status.json")) for line in batch]


def final_kpi(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """The latest value of each kpi key over status.json lines: TAO's kpi is not sticky across kinds of lines
    ("Train metrics generated." carries only train_loss, val/* come on other lines)."""
    return StatusFold.of(lines).kpi


def _action_of_folder(folder: Path) -> str | None:
    if folder.name in ACTIONS:
        return folder.name
    for line in status_lines(str(folder))[:3]:
        message = str(line.get("message", ""))
        for action in ACTIONS:
            if message.startswith("Starting") and message.rstrip(".").endswith(f" {action}"):
                return action
    return None


def resolve(ref: str) -> RunRef:
    """A run id (or a unique part of one), or a results folder holding TAO's experiment.yaml. Raises ChainError."""
    folder = Path(ref)
    if folder.is_dir():
        spec = folder / "experiment.yaml"
        if not spec.is_file():
            raise ChainError(
                f"{folder} holds no experiment.yaml: give the action's results folder (e.g. "
                "<results_dir>/train) or a run id from `depthnet runs`"
            )
        action = _action_of_folder(folder)
        if action is None:
            raise ChainError(
                f"cannot tell which action wrote {folder}: name the folder after it (train, export …)"
            )
        return RunRef(source=Source.from_spec(action, str(spec), str(folder.resolve())))
    try:
        record = registry.load(ref)
    except FileNotFoundError as exc:
        raise ChainError(str(exc)) from None
    return RunRef(source=Source.from_spec(record.action, record.spec_path, record.results_dir), record=record)


def failure(run: RunRef) -> str | None:
    """Why this run is not worth building on (None when it finished well)."""
    rec = run.record
    if rec is not None and rec.verdict is not None:
        return None if rec.verdict.passed else f"run {rec.run_id} failed: {rec.verdict.reason}"
    lines = status_lines(run.source.results_dir)
    if not lines:
        return f"{run.source.results_dir} has no status.json yet: the run has not started or wrote elsewhere"
    fold = StatusFold.of(lines)
    if fold.failed:
        return f"{run.label} failed: {fold.failure or 'FAILURE in status.json'}"
    bad = fold.nonfinite_losses
    if bad:
        return f"{run.label}: {', '.join(bad)} is {fold.kpi[bad[0]]} (the model learnt nothing)"
    if not fold.finished:
        still = rec is not None and rec.verdict is None
        return f"{run.label} has not finished" + (
            " (still running? `depthnet attach` follows it)" if still else ""
        )
    return None


def evaluations(refs: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """(label, final kpi) of each evaluate run, for a side-by-side table. Raises ChainError."""
    out = []
    for ref in refs:
        run = resolve(ref)
        if run.source.action not in ("evaluate", "train"):
            raise ChainError(
                f"{run.label} is a {run.source.action} run: metrics come from evaluate (or train) runs"
            )
        kpi = final_kpi(status_lines(run.source.results_dir))
        if not kpi and run.record and run.record.verdict:
            kpi = run.record.verdict.kpi
        if not kpi:
            raise ChainError(
                f"{run.label} reported no metrics (no kpi in {os.path.join(run.source.results_dir, 'status.json')})"
            )
        out.append((run.label, kpi))
    return out


def from_record(record: RunRecord) -> RunRef:
    return RunRef(source=Source.from_spec(record.action, record.spec_path, record.results_dir), record=record)


def is_relative(run: RunRef) -> bool:
    return (run.source.data.get("model") or {}).get("model_type") == "RelativeDepthAnything"
