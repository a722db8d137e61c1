"""Run folders: ``$XDG_DATA_HOME/depthnet-tui/runs/<run_id>/`` with run.json (the record) and log.txt (raw log).

A record is read as data someone may have edited or damaged: it is read bounded (a FIFO or ``/dev/zero`` named
run.json is refused before a byte is read, no more than ``MAX_RECORD`` bytes ever), its run id must be its folder's
name, and the files it points the tool at (``log_file``, which ``attach`` rewrites; ``exit_file``, which it reads)
must lie in its own folder — a record naming a user's file, a device or a FIFO is refused in one line. What is
saved is bounded too (``bounded``): a run whose status.json held a huge kpi dict still has a record that loads."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import time
from pathlib import Path, PurePosixPath
from typing import Any

from specgen.engine.records import LaunchError, RunRecord
from specgen.spec.atomicio import read_bounded, write_text_atomic
from specgen.spec.locations import runs_dir

#: The largest run.json read back; ``bounded`` keeps what is saved far below it.
MAX_RECORD = 1 << 20
#: What a saved verdict keeps of its kpi (status.json keeps everything): keys, key length, a value's JSON length.
KPI_KEYS = 100
KPI_KEY_CHARS = 100
KPI_VALUE_CHARS = 200
#: ... and of its words.
REASONS = 20
REASON_CHARS = 2000
NOTES = 50


def new_run_id(action: str) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{action}-{secrets.token_hex(2)}"


def run_dir(run_id: str) -> Path:
    return runs_dir() / run_id


def log_path(record: RunRecord) -> Path:
    """Where the run's console is kept: the run folder's log.txt, or what the backend chose (Slurm's --output) — a
    file in the run folder either way (``read_record`` refuses a record that says otherwise)."""
    return Path(record.log_file) if record.log_file else run_dir(record.run_id) / "log.txt"


def save(record: RunRecord) -> Path:
    return write_text_atomic(
        run_dir(record.run_id) / "run.json", bounded(record).model_dump_json(indent=2) + "\n", overwrite=True
    )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _kept_value(value: Any) -> Any:
    """A kpi value as run.json keeps it: numbers, booleans and None as they are; anything whose JSON is longer than
    ``KPI_VALUE_CHARS`` (a long string, a big nested dict) as a short note of what it was."""
    if value is None or isinstance(value, (bool, float)):
        return value
    if isinstance(value, int):
        return value if abs(value) < 10**KPI_VALUE_CHARS else f"(an integer of {len(str(abs(value)))} digits)"
    try:
        size = len(json.dumps(value, default=str))
    except (TypeError, ValueError, RecursionError):
        return f"({type(value).__name__}, not kept)"
    if size <= KPI_VALUE_CHARS:
        return value
    return (
        _cut(value, KPI_VALUE_CHARS)
        if isinstance(value, str)
        else f"({type(value).__name__} of {size} chars)"
    )


def bounded(record: RunRecord) -> RunRecord:
    """The record as saved: a verdict keeps at most ``KPI_KEYS`` kpi keys (cut to ``KPI_KEY_CHARS``), each value at
    most ``KPI_VALUE_CHARS`` of JSON, and its reasons cut; a note says what was left out. The caller's record is not
    changed (the verdict shown in full stays in memory)."""
    verdict = record.verdict
    notes = list(record.notes)
    if verdict is not None:
        kpi = {_cut(str(k), KPI_KEY_CHARS): _kept_value(v) for k, v in list(verdict.kpi.items())[:KPI_KEYS]}
        changed = kpi != verdict.kpi
        if len(verdict.kpi) > KPI_KEYS:
            notes.append(
                f"run.json keeps {KPI_KEYS} of the verdict's {len(verdict.kpi)} kpi keys (the run's status.json "
                "has them all)"
            )
        elif changed:
            notes.append(
                f"run.json cuts kpi keys over {KPI_KEY_CHARS} and values over {KPI_VALUE_CHARS} characters (the "
                "run's status.json has them whole)"
            )
        reasons = [_cut(r, REASON_CHARS) for r in verdict.reasons[:REASONS]]
        reason = _cut(verdict.reason, REASON_CHARS)
        if changed or reasons != verdict.reasons or reason != verdict.reason:
            verdict = dataclasses.replace(verdict, kpi=kpi, reasons=reasons, reason=reason)
    notes = [_cut(n, REASON_CHARS) for n in notes[-NOTES:]]
    if verdict is record.verdict and notes == record.notes:
        return record
    return record.model_copy(update={"verdict": verdict, "notes": notes})


def load(run_id: str) -> RunRecord:
    path = run_dir(run_id) / "run.json"
    if not _plain_name(run_id) or not os.path.lexists(path):
        matches = (
            [p.name for p in runs_dir().glob(f"*{_glob_safe(run_id)}*")]
            if runs_dir().is_dir() and _glob_safe(run_id)
            else []
        )
        if len(matches) == 1:
            path = run_dir(matches[0]) / "run.json"
        else:
            hint = (
                f"; did you mean one of: {', '.join(matches[:5])}"
                if matches
                else "; `depthnet runs` lists them"
            )
            raise FileNotFoundError(f"no run {run_id!r}{hint}")
    return read_record(path)


def _plain_name(name: str) -> bool:
    """A folder name of its own: not empty, no separator, not ``.``/``..``."""
    return bool(name) and "/" not in name and "\0" not in name and name not in (".", "..")


def _glob_safe(text: str) -> str:
    """A run id fragment as a literal glob part: the pattern characters and separators dropped."""
    return "".join(c for c in text if c not in "*?[]/\0")


def read_record(path: Path) -> RunRecord:
    """A run.json; a damaged one (truncated, not UTF-8, wrong shape, a FIFO, too large) or an edited one (another
    run's id, a log or exit file outside its folder) is one clear LaunchError."""
    from specgen.spec.atomicio import UnsafeTarget

    try:
        record = RunRecord.model_validate_json(read_bounded(path, MAX_RECORD))
    except UnsafeTarget as exc:
        raise LaunchError(
            f"{path}: not a readable run record ({exc.what}); remove the run folder {path.parent}"
        ) from None
    except (ValueError, OSError) as exc:
        why = exc.__class__.__name__ if not isinstance(exc, OSError) else (exc.strerror or "unreadable")
        raise LaunchError(
            f"{path}: not a readable run record ({why}); fix it or remove the run folder {path.parent}"
        ) from None
    if record.run_id != path.parent.name:
        raise LaunchError(
            f"{path}: names run {record.run_id!r} but lies in the folder {path.parent.name!r} (edited or "
            f"copied); fix run_id or remove the run folder {path.parent}"
        )
    for key in ("log_file", "exit_file"):
        value = getattr(record, key)
        if value is not None and not _in_folder(value, path.parent):
            raise LaunchError(
                f"{path}: {key} {value!r} lies outside the run's folder {path.parent} (the tool writes and reads "
                f"only its own files there); fix {key} or remove the run folder"
            )
    return record


def _in_folder(value: str, folder: Path) -> bool:
    """``value`` names a file inside ``folder``, after resolving ``..`` and any link in the folders on the way."""
    if not value or "\0" in value or not os.path.isabs(value):
        return False
    parent = os.path.realpath(os.path.dirname(os.path.normpath(value)))
    return PurePosixPath(parent).is_relative_to(os.path.realpath(folder)) and os.path.basename(value) not in (
        "",
        ".",
        "..",
    )


def all_records() -> list[RunRecord]:
    out = []
    if runs_dir().is_dir():
        for p in sorted(runs_dir().glob("*/run.json")):
            try:
                out.append(read_record(p))
            except Exception:  # noqa: BLE001 - a damaged record is skipped in listings; `attach` names it
                continue
    return out


# --------------------------------------------------------------------------- who stopped a run


def mark_stopped(record: RunRecord, by: str | None) -> None:
    """Write in run.json who stopped the run (None: nobody after all), before the signal is sent: whichever process
    follows the run reads it when the run ends (``stopped_by``), so its verdict says "stopped by you". The rest of
    run.json is kept as it is on disk; a run.json that cannot be written leaves the stop to go on."""
    record.stopped_by = by
    path = run_dir(record.run_id) / "run.json"
    try:
        fresh = read_record(path) if path.exists() else record
    except LaunchError:
        fresh = record
    fresh.stopped_by = by
    try:
        save(fresh)
    except OSError:
        pass  # the stop matters more than the words about it


def stopped_by(record: RunRecord) -> str | None:
    """run.json's ``stopped_by`` as it is now: another process (``depthnet stop``) may have written it since this
    one read the record."""
    try:
        return read_record(run_dir(record.run_id) / "run.json").stopped_by
    except (LaunchError, OSError):
        return record.stopped_by
