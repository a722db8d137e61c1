"""The backend contract: what every place a run can execute (a Docker engine, a local ``depth_net``, a script for
the user, a Slurm cluster) answers to, so the launcher, the monitor, ``stop`` and the run listing never ask which one
they hold (harlequin's adapter ABCs are the model: ``HarlequinAdapter`` / ``HarlequinConnection``).

One run, seen by a backend:

- ``launch(req, run_dir, lock_fd=…)`` starts it and returns its ``RunRecord`` (saved by the caller);
- ``observe()`` (a class method) gives a backend for runs another process started: attach, stop, state;
- ``output(record, log_path, ended)`` is the complete console, as bytes, until the run has ended and nothing new
  arrives; ``live(record)`` an optional faster stream of the same output (Docker's attach: per-step losses);
- ``wait(record, on_state)`` blocks until the run ends and says how (``Ending``); a scheduler's job states go to
  ``on_state`` as they change;
- ``stop(record, timeout)`` ends it (graceful first) and says what happened (``StopResult``);
- ``state(record)`` is one word or two for ``depthnet runs``.

Class attributes say what differs without a type test: where the GPUs are, whether files are written from another
node, whether the follower keeps the results folder locked.

A backend instance also keeps what this process holds for the runs it launched (``Held``: the typed spec the run was
prepared with, and — for a container, which inherits no descriptor — the results-folder lock), so whoever owns the
instance owns that state: ``monitor.follow`` takes it and gives the lock back when the run ends.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from specgen.engine.events import JobState
from specgen.engine.records import LaunchError, LaunchRequest, RunRecord, RunRow, SlurmOptions

if TYPE_CHECKING:
    from specgen.engine.lock import ResultsLock
    from specgen.engine.runspec import RunSpec

#: Bytes per read of a log file being tailed: bounds what one hand-over to the event loop parses.
CHUNK = 16 * 1024
StateSink = Callable[[JobState], None]


@dataclass(frozen=True)
class Ending:
    """How a run ended, as its backend knows it: the exit code (None: unknown), what ended it other than its own
    exit, or why nothing can be known.

    ``ended_by`` is a fact the verdict leads with (``RunFacts.ended_by``): a scheduler's words when it ended the job
    (Slurm TIMEOUT, CANCELLED…), or — the local backend — that the run's leader exited while processes of its group
    lived on (TAO's entrypoint SIGKILLed by the OOM killer while its training child kept the GPU; or a clean exit
    that left a child running): such a run is not a PASS, whatever its exit code. ``outlived`` counts those
    processes (0: none)."""

    exit_code: int | None
    ended_by: str | None = None
    failure: str | None = None
    outlived: int = 0


@dataclass(frozen=True)
class StopResult:
    """What ``stop`` did, in words after "stopped RUN_ID" (empty: nothing more to say); ``killed``: pids of the run
    that ignored the graceful signal and were killed."""

    detail: str = ""
    killed: list[int] = field(default_factory=list)

    def line(self, run_id: str) -> str:
        return f"stopped {run_id}{self.detail}"


@dataclass(eq=False)
class Held:
    """What this process holds for a run it launched: the spec it was prepared with (the engine's one parse of the
    file, judged with at the end) and the results-folder lock while it is followed."""

    run_spec: RunSpec | None = None
    lock: ResultsLock | None = None

    def release_lock(self) -> None:
        """Give the results folder up (the run ended, or something else holds it now)."""
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def release(self) -> None:
        """Give everything up: the lock, and the spec (nothing keeps a parse of it alive)."""
        self.release_lock()
        self.run_spec = None


class Backend(ABC):
    """Where a run executes. Subclasses set the class attributes and implement the abstract methods (and call
    ``super().__init__()``)."""

    #: The name in run.json, ``--backend`` and the launch dialog.
    name: ClassVar[str]
    #: How the launch dialog offers it.
    label: ClassVar[str]
    #: False: a script is written for the person to run elsewhere; nothing starts here, nothing can be followed.
    starts: ClassVar[bool] = True
    #: The run uses this machine's GPUs: NVML's free memory is checked before launch, its telemetry shown.
    gpus_here: ClassVar[bool] = True
    #: The run writes its files from another node (NFS, Lustre): inotify sees nothing there, so follow by polling.
    remote_files: ClassVar[bool] = False
    #: The results folder stays locked while this process follows the run (nothing else holds it meanwhile).
    follower_holds_lock: ClassVar[bool] = False
    #: The job reads a copy of the spec in its run folder even when no device key changes.
    copies_spec: ClassVar[bool] = False
    #: The job sees only the folders mounted into its container (the preflight checks what each mount shows);
    #: False: it runs here and reads what this machine's user can read.
    container_mounts: ClassVar[bool] = True

    def __init__(self) -> None:
        self._held: dict[str, Held] = {}

    @classmethod
    def for_launch(cls, slurm: SlurmOptions | None = None) -> Backend:
        """A backend ready to launch (the Slurm options are Slurm's; others take none). May raise LaunchError."""
        return cls()

    @classmethod
    def offered(cls) -> bool:
        """Whether the launch dialog offers it on this machine."""
        return True

    def hold(self, run_id: str, held: Held) -> None:
        """Keep what was prepared for a run this instance launched, for its follower."""
        self._held[run_id] = held

    def take(self, run_id: str) -> Held:
        """Hand over (once) what this instance holds for a run; an empty ``Held`` for a run started elsewhere."""
        return self._held.pop(run_id, None) or Held()

    @classmethod
    def gpu_layout(cls, ids: list[int] | str, slurm: SlurmOptions | None) -> tuple[int, int]:
        """(GPUs per node, nodes) the spec's device keys are set for. A run here sees the chosen GPUs as 0..n-1
        (CUDA_VISIBLE_DEVICES or Docker's device request); all / none leave the spec's own keys (0)."""
        return (len(ids), 1) if isinstance(ids, list) else (0, 1)

    @classmethod
    @abstractmethod
    def observe(cls) -> Backend:
        """A backend for runs this process did not start (attach, stop, listing). May raise LaunchError (no
        engine)."""

    @abstractmethod
    def launch(self, req: LaunchRequest, run_dir: Path, *, lock_fd: int | None = None) -> RunRecord:
        """Start the run; ``run_dir`` is its registry folder, ``lock_fd`` the results-folder lock a child process
        may inherit. Raises LaunchError, worded with the fix."""

    def restart(
        self, record: RunRecord, req: LaunchRequest, run_dir: Path, *, lock_fd: int | None = None
    ) -> RunRecord:
        """Start a run again into its own folders (a retry, ``depthnet resume``); the record keeps its run id, start
        time and restarts. By default a new launch; the last attempt's console is kept as ``log.N.txt`` first (a
        backend that writes log.txt afresh would lose it). Raises LaunchError."""
        log = run_dir / "log.txt"
        if log.is_file():
            log.rename(run_dir / f"log.{1 + len(list(run_dir.glob('log.*.txt')))}.txt")
        fresh = self.launch(req, run_dir, lock_fd=lock_fd)
        kept = ("run_id", "started", "notes", "relaunch", "restarts", "gpus", "verdict")
        return fresh.model_copy(update={k: getattr(record, k) for k in kept})

    def alive(self, record: RunRecord) -> bool:
        """Whether the run can be followed live (else its saved log and status.json are replayed)."""
        return True

    def running(self, record: RunRecord) -> bool:
        """Whether something of the run still executes on this machine or its engine — a process of its group, a
        running container — whatever its record says: ``stop`` ends what is left of a finished run, and a detached
        run still marks its results folder (``lock.ResultsLock``). False: nothing here can tell (the default)."""
        return False

    @classmethod
    def never_started(cls, record: RunRecord) -> bool:
        """True for a run written for someone to start (a script) that has left nothing yet: there is nothing to
        follow or judge, and its record stays "not started"."""
        return False

    @abstractmethod
    def output(self, record: RunRecord, log_path: Path, ended: Callable[[], bool]) -> Iterator[bytes]:
        """The run's whole console, from the start, in chunks; ends once ``ended()`` and nothing new arrives.
        ``log_path`` is where the console is kept (a backend that streams it writes it there)."""

    def live(self, record: RunRecord) -> Iterator[bytes] | None:
        """A second, faster stream of the same output, when the complete one lags (None: there is none)."""
        return None

    @abstractmethod
    def wait(self, record: RunRecord, on_state: StateSink) -> Ending:
        """Block until the run has ended."""

    @abstractmethod
    def stop(self, record: RunRecord, timeout: int = 10) -> StopResult:
        """End the run, graceful first, forced after ``timeout`` seconds. Raises LaunchError when there is nothing
        to stop (it ended, it never started here)."""

    @abstractmethod
    def state(self, record: RunRecord) -> str:
        """A word or two for ``depthnet runs``: running, exited, pending (Resources)…"""

    def listed(self) -> list[RunRow]:
        """Runs this backend knows of by itself, run folder or not (Docker: labelled containers), with their
        state."""
        return []

    def describe(self, record: RunRecord) -> str:
        """Where the run went, for "run … started (HERE)"."""
        return self.name


def tail(path: Path, ended: Callable[[], bool]) -> Iterator[bytes]:
    """A log file's bytes as they are written, until ``ended()`` and nothing new arrives (a file that does not exist
    yet is waited for). A log that is a FIFO or a device is refused (LaunchError), never followed without end."""
    from specgen.spec.atomicio import UnsafeTarget, open_regular

    offset = 0
    while True:
        finished = ended()
        try:
            with open_regular(path) as f:
                f.seek(offset)
                data = f.read(CHUNK)
        except FileNotFoundError:
            data = b""
        except UnsafeTarget as exc:
            raise LaunchError(f"the run's log {exc}") from None
        if data:
            offset += len(data)
            yield data
        elif finished:
            return
        else:
            time.sleep(0.05)


#: An exit code file holds a number and a newline.
EXIT_FILE_LIMIT = 64


def read_exit_file(exit_file: str | None, default: int) -> int:
    """The wrapper's record of the exit code; ``default`` when the wrapper itself was killed (-1: unknown), or when
    the file is not one it wrote (a FIFO, a device, a large file: read bounded, never followed)."""
    from specgen.spec.atomicio import read_bounded

    try:
        return int(read_bounded(exit_file, EXIT_FILE_LIMIT).strip()) if exit_file else default
    except (OSError, ValueError):
        return default


class ReplayBackend(Backend):
    """A run that has ended and left only its folder (log.txt, exit_code, status.json): followed by replaying them,
    so the Run screen and ``depthnet attach`` rebuild its whole history. Nothing to stop."""

    name = "replay"
    label = "replay of a finished run"
    starts = False
    gpus_here = False

    @classmethod
    def observe(cls) -> ReplayBackend:
        return cls()

    def launch(self, req: LaunchRequest, run_dir: Path, *, lock_fd: int | None = None) -> RunRecord:
        raise LaunchError("a replay starts nothing")

    def alive(self, record: RunRecord) -> bool:
        return False

    def output(self, record: RunRecord, log_path: Path, ended: Callable[[], bool]) -> Iterator[bytes]:
        return tail(log_path, lambda: True)

    def wait(self, record: RunRecord, on_state: StateSink) -> Ending:
        code = record.verdict.exit_code if record.verdict is not None else None
        return Ending(read_exit_file(record.exit_file, -1) if code is None else code)

    def stop(self, record: RunRecord, timeout: int = 10) -> StopResult:
        raise LaunchError(f"run {record.run_id} has already finished: nothing to stop")

    def state(self, record: RunRecord) -> str:
        return "finished" if record.verdict is not None else "exited"


__all__ = ["Backend", "Ending", "ReplayBackend", "StopResult", "read_exit_file", "tail"]
