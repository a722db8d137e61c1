"""Runs that survive the machine: retries of infrastructure failures, ``depthnet resume``, and what a restarted
run's verdict says.

A restart starts the same run again into the same results folder and keeps one run record (its id, its Slurm job id
where Slurm can requeue the job); run.json's ``restarts`` lists each one. A train run then resumes from TAO's newest
checkpoint: the restart adds ``train.resume_training_checkpoint_path=null`` (TAO's auto-resume,
``core/initialize_experiments.py``: ``<results>/*_latest.pth``) whatever the spec says.

- **Time-limit requeues** are the Slurm job's own (``--requeue``: the job script traps ``--signal=B:USR1@N`` and
  runs ``scontrol requeue``; ``slurm.py``); the follower only reads them back.
- **Retries** (``--retries K``): a run that failed for the machine's sake — a catalogue code in ``RETRY_CODES``
  (``failures.diagnose``) or a Slurm node failure — is started again, at most K times; never a spec or data error,
  never a run a person stopped.
- **Resume** (``depthnet resume RUN``): a train run that failed or was interrupted, started again from its last
  checkpoint after a yes.

``follow`` wraps ``monitor.follow`` (which judges each attempt) and emits one verdict, the last attempt's, with the
restarts in its words ("resumed at epoch N after a time-limit requeue").
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from specgen.engine import registry
from specgen.engine.backend import Backend, Held
from specgen.engine.events import Alert, Event, JobState, Verdict
from specgen.engine.failures import INFRA_CODES, MAX_TAIL, diagnose
from specgen.engine.lock import FolderBusy, ResultsLock
from specgen.engine.records import LaunchError, LaunchRequest, Restart, RestartKind, RunRecord, now
from specgen.engine.resume import count_epochs, latest_checkpoint
from specgen.engine.slurm import AUTO_RESUME
from specgen.engine.status import StatusReader, drain

#: Of the machine's failures (``failures.INFRA_CODES``), those worth starting again as they are: NCCL/rendezvous
#: faults and the GPU/driver entry (CUDA init, Xid, ECC). Too little shared memory, a full disk or host memory
#: would fail the same way again: they are the machine's fault, but a retry only repeats them.
RETRY_CODES = INFRA_CODES & {"nccl", "cuda_init"}
#: CUDA-entry failures a retry only repeats: the driver, the image and the GPU's generation stay what they are (a
#: driver too old or missing, a library that differs from the loaded driver, no kernels for this GPU). The
#: verdict's fix says what to change; ECC/Xid, a crashed kernel or a failed initialisation may pass on a retry.
LASTING_CUDA = (
    "CUDA driver version is insufficient",
    "Found no NVIDIA driver",
    "no kernel image is available",
    "Driver/library version mismatch",
)
#: Slurm endings that are the cluster's fault (the job never ran to its own end).
INFRA_ENDINGS = frozenset({"NODE_FAIL", "BOOT_FAIL"})

EventSink = Callable[[Event], None]


def _status_lines(results_dir: str) -> list[dict]:
    lines: list[dict] = []
    for batch in drain(StatusReader(Path(results_dir) / "status.json")):
        lines += batch
    return lines


def _log_tail(record: RunRecord) -> str:
    try:
        with open(registry.log_path(record), "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - MAX_TAIL))
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def infra_failure(record: RunRecord, verdict: Verdict, last_state: str | None = None) -> str | None:
    """Why the run failed when that is the machine's fault, in one line; None for a pass, a spec or data error, a
    run someone stopped or interrupted, a time limit."""
    if verdict.passed:
        return None
    if last_state in INFRA_ENDINGS:
        return f"Slurm ended the job ({last_state})"
    if verdict.interrupted or verdict.exit_code in (None, 0, 143) or last_state in ("CANCELLED", "TIMEOUT"):
        return None
    found = diagnose(
        _log_tail(record),
        exit_code=verdict.exit_code,
        status_lines=_status_lines(record.results_dir),
        action=record.action,
    )
    if found is None or found.code not in RETRY_CODES:
        return None
    if found.code == "cuda_init" and any(words in found.excerpt for words in LASTING_CUDA):
        return None
    return found.one_line()


def why_not_resumable(record: RunRecord, running: bool) -> str | None:
    """The one line that says why ``depthnet resume`` refuses this run (None: it may be resumed)."""
    rid = record.run_id
    if record.action != "train":
        return (
            f"run {rid} is depth_net {record.action}: only a train run resumes (from its checkpoint); "
            f"run it again with `depthnet run {record.action} -e {record.spec_path}`"
        )
    if record.verdict is not None and record.verdict.passed:
        return f"run {rid} passed ({record.verdict.reason}): nothing to resume"
    if running:
        return f"run {rid} is still running: follow it with `depthnet attach {rid}` or stop it first"
    if record.relaunch is None:
        return (
            f"run {rid} was started by an older depthnet (its run.json has no launch details): "
            f"run it again with `depthnet run train -e {record.spec_path}`"
        )
    if record.backend == "script":
        return (
            f"run {rid} was written as a script ({record.script}) and never started here: nothing to resume"
        )
    if latest_checkpoint(record.results_dir) is None:
        return (
            f"run {rid}: no checkpoint (.pth) in {record.results_dir}, so nothing to resume from; "
            f"run it again with `depthnet run train -e {record.spec_path}`"
        )
    return None


def relaunch(
    record: RunRecord,
    *,
    kind: RestartKind,
    why: str,
    env: Mapping[str, str],
    backend: Backend | None = None,
) -> tuple[RunRecord, Backend]:
    """Start ``record``'s run again into its results folder (a retry, a resume); saved before this returns, with
    one more ``Restart``. ``env``: the ``--env`` values this process has (they are never on disk). Raises
    LaunchError."""
    from specgen.engine.backends import backend_class

    info = record.relaunch
    if info is None:
        raise LaunchError(f"run {record.run_id}: its run.json has no launch details; run it again")
    req = LaunchRequest(
        run_id=record.run_id,
        action=record.action,
        spec_path=record.spec_path,
        results_dir=record.results_dir,
        data_roots=info.data_roots,
        output_dir=info.output_dir,
        image=record.image,
        gpus=record.gpus or "0",
        user=info.user,
        network=info.network,
        env={k: v for k, v in env.items() if k in info.env_names},
        shm_size=info.shm_size,
        overrides=[AUTO_RESUME] if record.action == "train" else [],
    )
    if backend is None:
        backend = backend_class(record.backend).for_launch(info.slurm)
    try:
        lock = ResultsLock(record.results_dir).acquire(record.run_id)
    except FolderBusy as exc:
        raise LaunchError(str(exc)) from None
    try:
        fresh = backend.restart(record, req, registry.run_dir(record.run_id), lock_fd=lock.fd)
    except BaseException:
        lock.release()
        raise
    if backend.follower_holds_lock:
        backend.hold(record.run_id, Held(lock=lock))
    else:
        lock.release()  # the run's process holds it now, or the job runs elsewhere
    fresh.restarts = [*record.restarts, Restart(kind=kind, at=now(), why=why, job_id=fresh.job_id)]
    fresh.verdict = None
    registry.save(fresh)
    return fresh, backend


def missing_env(record: RunRecord, env: Mapping[str, str]) -> list[str]:
    """The run's ``--env`` names this process has no value for."""
    names = record.relaunch.env_names if record.relaunch else []
    return [n for n in names if n not in env]


# ------------------------------------------------------------------------------------------------ the words


_COUNT = {1: "a", 2: "two", 3: "three"}


def _times(n: int, one: str, many: str) -> str:
    return f"{_COUNT.get(n, str(n))} {one if n == 1 else many}"


def restart_words(record: RunRecord) -> str | None:
    """ "a time-limit requeue", "two retries (…)", "depthnet resume" — what restarted the run (None: nothing)."""
    kinds: dict[str, list[Restart]] = {}
    for r in record.restarts:
        kinds.setdefault(r.kind, []).append(r)
    parts = []
    if found := kinds.get("requeue"):
        parts.append(_times(len(found), "time-limit requeue", "time-limit requeues"))
    if found := kinds.get("retry"):
        parts.append(_times(len(found), "retry", "retries") + f" ({found[-1].why})")
    if found := kinds.get("resume"):
        parts.append("depthnet resume" + (f" ×{len(found)}" if len(found) > 1 else ""))
    return " and ".join(parts) or None


def with_restarts(verdict: Verdict, record: RunRecord) -> Verdict:
    """The verdict with what restarted the run: "resumed at epoch N after a time-limit requeue". Where the verdict
    already says "resumed at epoch N (from X)" the restart's words follow it; else a clause is added."""
    words = restart_words(record)
    if words is None:
        return verdict
    count = count_epochs(_status_lines(record.results_dir), _log_tail(record))
    at = count.resumed_at
    reason = verdict.reason
    m = re.search(r"resumed (?:at|in) epoch \d+(?: at step \d+)?(?: \(from [^)]*\))?", reason)
    if m is not None:
        reason = f"{reason[: m.end()]} after {words}{reason[m.end() :]}"
    elif at is not None:
        reason = f"{reason}; resumed at epoch {at} after {words}"
    else:
        reason = f"{reason}; started again after {words}"
    reasons = [reason, *verdict.reasons[1:]] if verdict.reasons else [reason]
    return dataclasses.replace(verdict, reason=reason, reasons=reasons)


# ------------------------------------------------------------------------------------------------ following


async def follow(
    record: RunRecord,
    backend: Backend | None,
    sink: EventSink,
    *,
    env: Mapping[str, str] | None = None,
    force_polling: bool | None = None,
) -> Verdict:
    """``monitor.follow`` with the run's retries (``--retries``, kept in run.json): each attempt is judged; one
    that failed for the machine's sake is started again (said as an Alert ``RETRY``) while retries are left; the
    sink hears one verdict, the last attempt's, in the restarts' words, which run.json keeps."""
    from specgen.engine.monitor import follow as follow_run

    env = dict(os.environ if env is None else env)
    last: list[str] = []  # the attempt's last Slurm job state

    def attempt_sink(event: Event) -> None:
        if isinstance(event, Verdict):
            return  # an attempt's verdict: the sink hears the run's, once, below
        if isinstance(event, JobState):
            last[:] = [event.state]
        sink(event)

    while True:
        last.clear()
        verdict = await follow_run(record, backend, attempt_sink, force_polling=force_polling)
        cause = infra_failure(record, verdict, last[-1] if last else None)
        asked = record.relaunch.retries if record.relaunch else 0
        done = sum(1 for r in record.restarts if r.kind == "retry")
        if cause is None or done >= asked:
            break
        gone = missing_env(record, env)
        sink(
            Alert(
                code="RETRY",
                message=f"attempt {done + 1} failed: {cause} — starting run {record.run_id} again into the same "
                f"results folder (retry {done + 1} of {asked})"
                + (f"; without --env {', '.join(gone)} (not in this process)" if gone else ""),
            )
        )
        try:
            record, started = relaunch(record, kind="retry", why=cause, env=env, backend=backend)
        except LaunchError as exc:
            sink(Alert(code="RETRY", message=f"the retry could not start: {exc}"))
            break
        backend = started
    verdict = with_restarts(verdict, record)
    record.verdict = verdict
    try:
        registry.save(record)
    except OSError as exc:
        sink(Alert(code="NOT_SAVED", message=f"verdict not saved: {exc}"))
    sink(verdict)
    return verdict


__all__ = [
    "AUTO_RESUME",
    "LASTING_CUDA",
    "RETRY_CODES",
    "follow",
    "infra_failure",
    "latest_checkpoint",
    "relaunch",
    "restart_words",
    "why_not_resumable",
    "with_restarts",
]
