"""One run per results folder: an exclusive ``flock`` on ``<results>/.depthnet.lock``, taken before the preflight's
"already holds another run" check and held for the run's life (a local run's process inherits the descriptor, so
the lock ends with the run itself, not with the CLI that started it)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_NAME = ".depthnet.lock"


class FolderBusy(RuntimeError):
    """Another run holds the results folder."""


class ResultsLock:
    def __init__(self, results_dir: str | os.PathLike[str]) -> None:
        self.path = Path(results_dir) / LOCK_NAME
        self.fd: int | None = None

    def acquire(self, run_id: str) -> ResultsLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", errors="replace").strip() or "another run"
            os.close(fd)
            raise FolderBusy(
                f"{self.path.parent} is in use by run {holder} (still running); wait for it, stop it "
                f"(depthnet stop {holder}), or choose another results_dir"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, run_id.encode() + b"\n", 0)
        self.fd = fd
        return self

    def rename(self, run_id: str) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, run_id.encode() + b"\n", 0)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
