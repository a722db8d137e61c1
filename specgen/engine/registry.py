"""Run folders: ``$XDG_DATA_HOME/depthnet-tui/runs/<run_id>/`` with run.json (the record) and log.txt (raw log)."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

from specgen.engine.records import LaunchError, RunRecord
from specgen.spec.atomicio import write_text_atomic
from specgen.spec.locations import runs_dir


def new_run_id(action: str) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{action}-{secrets.token_hex(2)}"


def run_dir(run_id: str) -> Path:
    return runs_dir() / run_id


def log_path(record: RunRecord) -> Path:
    """Where the run's console is kept: the run folder's log.txt, or what the backend chose (Slurm's --output)."""
    return Path(record.log_file) if record.log_file else run_dir(record.run_id) / "log.txt"


def save(record: RunRecord) -> Path:
    return write_text_atomic(
        run_dir(record.run_id) / "run.json", record.model_dump_json(indent=2) + "\n", overwrite=True
    )


def load(run_id: str) -> RunRecord:
    path = run_dir(run_id) / "run.json"
    if not path.is_file():
        matches = [p.name for p in runs_dir().glob(f"*{run_id}*")] if runs_dir().is_dir() else []
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


def read_record(path: Path) -> RunRecord:
    """A run.json; a damaged one (truncated, not UTF-8, wrong shape, a FIFO) is one clear LaunchError."""
    import stat

    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise LaunchError(f"{path}: not a regular file; remove it")
        if path.stat().st_size > 1 << 20:
            raise LaunchError(f"{path}: too large to be a run record; remove the run folder {path.parent}")
        return RunRecord.model_validate_json(path.read_bytes())
    except LaunchError:
        raise
    except (ValueError, OSError) as exc:
        why = exc.__class__.__name__ if not isinstance(exc, OSError) else (exc.strerror or "unreadable")
        raise LaunchError(
            f"{path}: not a readable run record ({why}); fix it or remove the run folder {path.parent}"
        ) from None


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
