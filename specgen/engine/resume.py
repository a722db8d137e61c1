"""Resumed train runs, read from what TAO prints — so a resumed run that reaches its last epoch is complete.

TAO 7.3.0 (``core/initialize_experiments.py``) resumes from ``train.resume_training_checkpoint_path`` or, when that
is null, from ``<train results dir>/*_latest.pth`` (auto-resume; ``os.path.realpath`` of the link, so the printed
path is the real ``model_epoch_<EEE>_step_<SSSSS>.pth``). It says so twice:

- console, TAO's logger: ``Setting resume checkpoint to <path>`` (also a status.json line, by the dual logging);
- status.json, RUNNING: ``Resuming training from checkpoint: <path>`` (before ``Starting Training Loop.``).

Lightning then restores the loop state, so status.json's epoch lines (``core/callbacks/loggers.py``) carry the
absolute ``epoch`` (``trainer.current_epoch``, 0-based) and ``max_epoch`` = ``num_epochs − 1``: a run of
``num_epochs: 3`` resumed from epoch 1's checkpoint writes one epoch line, ``epoch: 2, max_epoch: 2``. Counting
epoch lines (1 of 3) is wrong; the last epoch index against ``max_epoch`` is right. status.json is opened in append
mode, so a re-run into the same folder adds its lines after the old ones: only the last session counts (from the
last ``Starting Depth Net <action>.`` line).

No real resume capture exists yet (neither fixture set has one); the words above are read from the 7.3.0 wheel.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: TAO's logger line (console) and status.json line that announce a resume.
CONSOLE_WORDS = "Setting resume checkpoint to "
STATUS_WORDS = "Resuming training from checkpoint: "
_CKPT_NAME = re.compile(r"model_epoch_(\d{1,6})_step_(\d{1,9})")
#: A path ends at whitespace, a quote, or TAO's logger suffix ``(initialize_experiments.py:81)``.
_PATH_END = re.compile(r"[\s'\"]")


def last_session(status_lines: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
    """The lines of the last run in an appended status.json: from its last ``Starting … <action>.`` line."""
    for i in range(len(status_lines) - 1, -1, -1):
        line = status_lines[i]
        message = line.get("message")
        if (
            line.get("status") == "STARTED"
            and isinstance(message, str)
            and message.startswith("Starting Depth")
        ):
            return status_lines[i:]
    return status_lines


@dataclass(frozen=True)
class Resume:
    """The checkpoint a train run resumed from, and what its name says (None when the name does not say)."""

    checkpoint: str
    epoch: int | None  # the epoch index it was saved in (model_epoch_<EEE>_…)
    step: int | None  # the global step it was saved at

    @property
    def name(self) -> str:
        return self.checkpoint.rsplit("/", 1)[-1]


def _path_after(text: str, words: str) -> str | None:
    rest = text.split(words, 1)[1]
    m = _PATH_END.search(rest)
    path = rest[: m.start()] if m else rest
    return path or None


def find_resume(log_text: str = "", status_lines: Sequence[Mapping[str, Any]] = ()) -> Resume | None:
    """The resume TAO announced (status.json first, its last session; else the console's last such line)."""
    path = None
    for line in reversed(last_session(status_lines)):
        message = line.get("message")
        if isinstance(message, str) and (STATUS_WORDS in message or CONSOLE_WORDS in message):
            path = _path_after(message, STATUS_WORDS if STATUS_WORDS in message else CONSOLE_WORDS)
            break
    if path is None and CONSOLE_WORDS in log_text:
        tail = log_text[log_text.rindex(CONSOLE_WORDS) :][:4096]
        path = _path_after(tail, CONSOLE_WORDS)
    if path is None:
        return None
    m = _CKPT_NAME.search(path.rsplit("/", 1)[-1])
    return Resume(path, int(m.group(1)) if m else None, int(m.group(2)) if m else None)


@dataclass(frozen=True)
class EpochCount:
    """Epochs of a train run as TAO's status.json tells them (0-based indices, absolute across a resume)."""

    first_epoch: int | None  # the first epoch index this session reported
    last_epoch: int | None
    max_epoch: int | None  # num_epochs − 1
    steps_per_epoch: int | None
    resume: Resume | None

    @property
    def num_epochs(self) -> int | None:
        return None if self.max_epoch is None else self.max_epoch + 1

    @property
    def reached_end(self) -> bool:
        """The last epoch ran (in this session or, for a resume from the last epoch's checkpoint, before)."""
        if self.max_epoch is None:
            return False
        if self.last_epoch is not None:
            return self.last_epoch >= self.max_epoch
        r = self.resume
        return r is not None and r.epoch is not None and r.epoch >= self.max_epoch and not self.mid_epoch

    @property
    def epochs_done(self) -> int | None:
        """Epochs complete counting those before the resume (what "N of M epochs" should say)."""
        if self.last_epoch is not None:
            return self.last_epoch + 1
        r = self.resume
        if r is not None and r.epoch is not None:
            return r.epoch + (0 if self.mid_epoch else 1)
        return None if self.max_epoch is None else 0

    @property
    def mid_epoch(self) -> bool:
        """The resume checkpoint was saved inside an epoch (TAO's exception checkpoint): that epoch restarts."""
        r = self.resume
        if r is None or r.epoch is None:
            return False
        if r.step is not None and self.steps_per_epoch:
            return r.step != (r.epoch + 1) * self.steps_per_epoch
        return self.first_epoch == r.epoch

    @property
    def resumed_at(self) -> int | None:
        """The epoch index training restarted at."""
        if self.resume is None:
            return None
        if self.first_epoch is not None:
            return self.first_epoch
        if self.resume.epoch is None:
            return None
        return self.resume.epoch + (0 if self.mid_epoch else 1)

    def words(self) -> str | None:
        """ "resumed at epoch N …" for the verdict (None for a run that did not resume)."""
        r = self.resume
        if r is None:
            return None
        at = self.resumed_at
        if self.mid_epoch and r.step is not None:
            head = f"resumed in epoch {at} at step {r.step} (from {r.name})"
        elif at is not None:
            head = f"resumed at epoch {at} (from {r.name})"
        else:
            head = f"resumed from {r.name}"
        if self.max_epoch is None:
            return head
        if self.reached_end:
            tail = "and reached the last epoch" + (f" ({self.max_epoch} of 0–{self.max_epoch})")
            if self.last_epoch is None:
                tail = "after the last epoch: nothing was left to train"
            return f"{head} {tail}"
        return f"{head}; it stopped after epoch {self.last_epoch} of 0–{self.max_epoch}"


def count_epochs(
    status_lines: Sequence[Mapping[str, Any]], log_text: str = "", *, num_epochs: int | None = None
) -> EpochCount:
    """The last session's epoch indices, ``max_epoch`` (status.json's, else ``num_epochs − 1`` from the spec)
    and the resume, if any."""
    lines = last_session(status_lines)
    epochs = [line["epoch"] for line in lines if isinstance(line.get("epoch"), int)]
    max_epoch: int | None = None
    steps: int | None = None
    for line in lines:
        if isinstance(line.get("max_epoch"), int):
            max_epoch = line["max_epoch"]
            if isinstance(line.get("max_step"), int) and max_epoch >= 0:
                steps = line["max_step"] // (max_epoch + 1) or None
    if max_epoch is None and num_epochs is not None:
        max_epoch = num_epochs - 1
    return EpochCount(
        first_epoch=min(epochs) if epochs else None,
        last_epoch=max(epochs) if epochs else None,
        max_epoch=max_epoch,
        steps_per_epoch=steps,
        resume=find_resume(log_text, lines),
    )


def latest_checkpoint(results_dir: str, *, auto_only: bool = False) -> Path | None:
    """The checkpoint a train run goes on from: what TAO's auto-resume takes (``*_latest.pth``, resolved as TAO does),
    else — unless ``auto_only`` — the newest ``*.pth`` (``depthnet resume`` names it explicitly). None: nothing to
    go on from (a re-run into this folder starts over). The one rule for the verdict, retries and resume."""
    folder = Path(results_dir)
    try:
        for link in sorted(folder.glob("*_latest.pth")):
            target = Path(os.path.realpath(link))
            if target.is_file():
                return target
        if auto_only:
            return None
        found = [p for p in folder.glob("*.pth") if p.is_file()]
        return max(found, key=lambda p: p.stat().st_mtime) if found else None
    except OSError:
        return None
