"""One run per results folder: an exclusive ``flock`` on ``<results>/.depthnet.lock``, taken before the preflight's
"already holds another run" check and held for the run's life (a local run's process inherits the descriptor, so
the lock ends with the run itself, not with the CLI that started it).

The file also names the run that took it last. A run whose process holds no descriptor of ours — a detached
container, which keeps running after the CLI that started it has gone — marks the folder that way: the next
``acquire`` asks ``still_running(that run)`` and refuses while it runs, flock or not.

The lock file is opened through ``atomicio.open_owned``: never through a link (a planted ``.depthnet.lock`` link to a
user's file must not be emptied), never a FIFO, only a regular file of ours."""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Callable
from pathlib import Path

from specgen.spec.atomicio import open_owned

LOCK_NAME = ".depthnet.lock"
#: What a run id looks like (registry.new_run_id); anything else in the file is not a holder to look up.
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,119}")


class FolderBusy(RuntimeError):
    """Another run holds the results folder."""


def _busy(folder: Path, holder: str) -> FolderBusy:
    return FolderBusy(
        f"{folder} is in use by run {holder} (still running); wait for it, stop it "
        f"(depthnet stop {holder}), or choose another results_dir"
    )


class ResultsLock:
    def __init__(self, results_dir: str | os.PathLike[str]) -> None:
        self.path = Path(results_dir) / LOCK_NAME
        self.fd: int | None = None

    def acquire(self, run_id: str, *, still_running: Callable[[str], bool] | None = None) -> ResultsLock:
        """Take the folder for ``run_id``. FolderBusy while another process holds the flock, or while the run the
        file names still runs (``still_running``: a detached container); UnsafeTarget (an OSError) when the lock
        file is a link, a FIFO or not ours."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = open_owned(self.path)
        try:
            holder = _holder(fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise _busy(self.path.parent, holder or "another run") from None
            if holder and holder != run_id and still_running is not None and still_running(holder):
                raise _busy(self.path.parent, holder)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        self.rename(run_id)
        return self

    def rename(self, run_id: str) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, run_id.encode() + b"\n", 0)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _holder(fd: int) -> str | None:
    """The run id the lock file names, when it looks like one."""
    text = os.pread(fd, 200, 0).decode("utf-8", errors="replace").strip()
    return text if _RUN_ID.fullmatch(text) else None
