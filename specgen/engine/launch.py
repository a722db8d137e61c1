"""From a spec file to a started run, and back to a run by id — shared by ``depthnet run``, the sweep and the Run
screen.

What ``prepare`` decides (the typed spec, the notes, the results-folder lock) travels in the ``Prepared`` it returns,
which the caller owns: ``start(prepared, …)`` launches it and hands the spec (and a container's lock) to the backend
instance it returns, where ``monitor.follow(record, backend, sink)`` finds them and gives the lock back when the run
ends; ``prepared.discard()`` gives everything up for a run that will not start. Nothing is kept in this module
between calls."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from specgen.engine import registry
from specgen.engine.backend import Backend, Held, ReplayBackend, StopResult
from specgen.engine.backends import BACKENDS, backend_class, choose_backend
from specgen.engine.lock import FolderBusy, ResultsLock
from specgen.engine.preflight import (
    Progress,
    container_extras,
    default_data_roots,
    inside,
    problems,
    refusal,
    system_folder,
)
from specgen.engine.records import LaunchError, LaunchRequest, Relaunch, RunRecord, RunRow
from specgen.engine.runspec import RunSpec, SpecUnusable, load_run_spec
from specgen.engine.slurm import SlurmOptions
from specgen.spec.actions import Action
from specgen.spec.problems import Finding


class RunOptions(BaseModel):
    action: Action
    spec: str
    backend: str | None = None
    image: str | None = None
    gpus: str = "0"
    data_roots: list[str] = Field(default_factory=list)
    output_dir: str | None = None
    network: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    force: bool = False
    allow_known_failure: bool = False  # launch although the data says the loss will be NaN (explicit only)
    slurm: SlurmOptions | None = None  # --backend slurm: partition, nodes, GPUs per node, runtime…


@dataclass(eq=False)
class Prepared:
    """A run checked and ready to start: the request, what preflight found, what was decided for the person, the
    typed spec (the engine's one parse of the file) and the results folder's lock, held from before the check for
    an earlier run until the run is started — or, for a container, until its follower ends."""

    request: LaunchRequest
    problems: list[str]
    confirmable: bool  # every problem can be overridden with an explicit yes (--force)
    notes: list[str] = field(default_factory=list)  # decided for the user, said before launch (device keys…)
    held: Held = field(default_factory=Held)  # the typed spec and the results-folder lock, until start

    def discard(self) -> None:
        """A run that will not start (refused, cancelled, a dry run): its lock goes, and so does the run folder
        prepare made for the job's spec copy — only when it holds nothing else."""
        self.held.release()
        folder = registry.run_dir(self.request.run_id)
        try:
            if folder.is_dir() and {p.name for p in folder.iterdir()} <= {"spec.yaml"}:
                (folder / "spec.yaml").unlink(missing_ok=True)
                folder.rmdir()
        except OSError:
            pass  # litter at worst, never an error for the person


def prepare(opts: RunOptions, *, progress: Progress | None = None) -> Prepared:
    """Read and validate the spec (its weights keys included: ``validate`` and the run share
    ``weights.checkpoint_problems``), work out the mounts, run the preflight checks. Raises LaunchError when the
    spec itself is unusable; preflight findings come back as messages for the caller to show. ``progress(key,
    lines done, fraction)``: the annotation files' check, for a long list."""
    from specgen.spec.docker_cmd import image_for_spec

    try:
        run_spec = load_run_spec(opts.spec, opts.action, allow_known_failure=opts.allow_known_failure)
    except SpecUnusable as exc:
        raise LaunchError(str(exc)) from None
    spec, results = run_spec.spec, run_spec.results_dir
    output_dir = os.path.abspath(opts.output_dir or spec.results_dir or os.path.dirname(results))
    roots, origins = _data_roots(opts, run_spec)
    container = backend_class(opts.backend).container_mounts if opts.backend else True
    run_id = registry.new_run_id(opts.action)
    lock = None
    if inside(results, [output_dir]) and system_folder(output_dir) is None and system_folder(results) is None:
        # Taken before the check for an earlier run in the folder, so two starts cannot both pass it.
        lock = _take(results, run_id)
    try:
        issues: list[Finding] = []
        if container:
            extras = container_extras(run_spec, data_roots=roots, output_dir=output_dir)
            issues += extras.findings
            for folder, origin in extras.roots.items():
                roots.append(folder)
                origins[folder] = origin
        issues += problems(
            run_spec,
            data_roots=roots,
            output_dir=output_dir,
            force=opts.force,
            container=container,
            origins=origins,
            extra_mounts=_tao_mounts(opts) if container else (),
            progress=progress,
        )
        spec_path, notes = _job_spec(opts, run_spec, run_id)
        memory = _memory_problem(opts, run_spec)
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    if memory is not None and opts.force:  # the person said yes: said, not refused
        notes.append(memory.replace("(--force launches anyway)", "— launched anyway (--force)"))
    elif memory is not None:
        issues.append(refusal(memory, confirmable=True, key="dataset.train_dataset.batch_size"))
    req = LaunchRequest(
        run_id=run_id,
        action=opts.action,
        spec_path=spec_path,
        results_dir=results,
        data_roots=roots,
        output_dir=output_dir,
        image=opts.image or image_for_spec(opts.action, spec),
        gpus=opts.gpus,
        network=opts.network,
        env=opts.env,
    )
    return Prepared(
        request=req,
        problems=[p.line() for p in issues],
        confirmable=bool(issues) and all(p.confirmable for p in issues),
        notes=notes,
        held=Held(run_spec=run_spec, lock=lock),
    )


def _data_roots(opts: RunOptions, run: RunSpec) -> tuple[list[str], dict[str, str]]:
    """The data folders to mount, and where each came from (said when one is refused)."""
    if opts.data_roots:
        roots = [os.path.abspath(r) for r in opts.data_roots]
        return roots, dict.fromkeys(roots, "--data-root")
    roots = default_data_roots(run)
    listed = ", ".join(sorted(set(run.data_files.values())))
    return roots, dict.fromkeys(roots, f"the folders the annotation files list ({listed})")


def _tao_mounts(opts: RunOptions) -> list[tuple[str, bool, str]]:
    """``~/.tao_mounts.json``'s mounts, which a Docker run adds (read-write, as the launcher does): checked by
    the same rule as every other mount source."""
    if opts.backend not in (None, "docker"):
        return []
    from specgen.engine.tao_mounts import read_tao_mounts

    found = read_tao_mounts(strict=False)
    return [(m.source, False, f"{found.path}, Mounts[{i}]") for i, m in enumerate(found.mounts)]


def _take(results: str, run_id: str) -> ResultsLock:
    from specgen.spec.atomicio import UnsafeTarget

    try:
        return ResultsLock(results).acquire(run_id, still_running=_still_running)
    except FolderBusy as exc:
        raise LaunchError(str(exc)) from None
    except UnsafeTarget as exc:
        raise LaunchError(f"{exc} (the results folder's lock file is the tool's own)") from None
    except OSError as exc:
        raise LaunchError(
            f"cannot create the results folder {results} ({exc.strerror}); choose another"
        ) from None


def _still_running(run_id: str) -> bool:
    """The run a results folder's lock file names still runs, though nothing holds the lock: a detached container
    (its follower gave the lock back when it went). A record that cannot be read, or an engine that does not answer,
    runs nothing that could be asked about."""
    path = registry.run_dir(run_id) / "run.json"
    try:
        record = registry.read_record(path) if path.is_file() else None
        return record is not None and backend_class(record.backend).observe().running(record)
    except LaunchError:
        return False


def _job_spec(opts: RunOptions, run: RunSpec, run_id: str) -> tuple[str, list[str]]:
    """The spec file the job reads, and what was decided. The user's file is used as
    it is unless the GPUs chosen need other device keys, or the job runs on Slurm (TAO rewrites the spec in place on
    multi-node): then a copy in the run folder, with the keys set, is what the job reads."""
    import copy

    from specgen.job.gpus import apply, device_keys, parse_gpus
    from specgen.spec.atomicio import write_text_atomic
    from specgen.spec.render import dump_yaml

    try:
        ids = parse_gpus(opts.gpus)
    except ValueError as exc:
        raise LaunchError(str(exc)) from None
    kind = _kind(opts.backend)
    per_node, nodes = kind.gpu_layout(ids, opts.slurm)
    changes, notes = device_keys(run.data, opts.action, per_node, nodes)
    if not changes and not kind.copies_spec:
        return os.path.abspath(opts.spec), notes
    data = apply(copy.deepcopy(run.data), changes)
    said = ", ".join(f"{k}: {v}" for k, v in changes.items()) or "no key changed"
    header = f"# The spec run {run_id} reads: a copy of {os.path.abspath(opts.spec)} ({said}).\n"
    path = write_text_atomic(registry.run_dir(run_id) / "spec.yaml", dump_yaml(data, header), overwrite=True)
    if changes:
        notes.insert(0, f"the run reads a copy of the spec with {said} ({path})")
    return str(path), notes


def _memory_problem(opts: RunOptions, run: RunSpec) -> str | None:
    """A train run on this machine's GPUs: its estimated peak memory against their free memory (NVML). None when it
    fits, when the GPUs are elsewhere (Slurm) or when NVML cannot tell."""
    from specgen.engine import nvml
    from specgen.job.memory_fit import fit_problem

    if opts.action != "train" or not _kind(opts.backend).gpus_here or opts.gpus == "none":
        return None
    facts = nvml.facts()
    if not facts.gpus:
        return None
    wanted = nvml.run_gpus(opts.gpus)
    chosen = [(g.index, g.memory_free / 2**30) for g in facts.gpus if wanted is None or g.index in wanted]
    spec = run.spec
    problem = fit_problem(
        spec.model.encoder,
        spec.dataset.train_dataset.augmentation.crop_size,
        spec.dataset.train_dataset.batch_size,
        spec.train.precision,
        chosen,
    )
    return None if problem is None else f"GPU memory: {problem} (--force launches anyway)"


def _kind(name: str | None) -> type[Backend]:
    """The backend class a run will use; "auto" (None) is decided at start, and counts as a run on this machine
    (Docker or local) until then."""
    return backend_class(name) if name else BACKENDS["local"]


def start(
    prepared: Prepared, backend_name: str | None, slurm: SlurmOptions | None = None, *, retries: int = 0
) -> tuple[RunRecord, Backend]:
    """Launch with the chosen backend (or the best available); the record is saved before this returns. The
    results-folder lock goes to the run's process (local), to the returned backend until the run's follower ends (a
    container), or is given up (Slurm: the job runs elsewhere; a script: nothing runs)."""
    req = prepared.request
    held = prepared.held
    if held.lock is None:  # given up meanwhile (the person read the preflight's findings): take it again
        held.lock = _take(req.results_dir, req.run_id)
    try:
        backend = choose_backend(backend_name, slurm)
        record = backend.launch(req, registry.run_dir(req.run_id), lock_fd=held.lock.fd)
    except BaseException:
        held.release_lock()
        raise
    if not backend.follower_holds_lock:
        held.release_lock()  # the child holds it now, or nothing needs it here
    backend.hold(req.run_id, held)  # handed over: the follower releases the lock
    prepared.held = Held()
    record.gpus = req.gpus
    record.notes = list(prepared.notes)
    record.relaunch = Relaunch(  # what a retry or `depthnet resume` needs: --env names only, never values
        data_roots=req.data_roots,
        output_dir=req.output_dir,
        network=req.network,
        user=req.user,
        shm_size=req.shm_size,
        env_names=sorted(req.env),
        slurm=slurm,
        retries=retries,
    )
    registry.save(record)
    return record, backend


def backend_for(record: RunRecord) -> Backend | None:
    """The live backend of a run, or None when only its saved log and status.json remain (replay). A run written
    as a script that has not been run is refused (LaunchError): there is nothing to follow, and no verdict to save
    over its "not started"."""
    kind = backend_class(record.backend)
    if kind.never_started(record):
        raise LaunchError(
            f"run {record.run_id} was written as a script ({record.script}) and has not run yet: nothing to "
            f"follow; run it on the GPU machine (sh {record.script}), then attach again"
        )
    backend = kind.observe()
    return backend if backend.alive(record) else None


def follower_of(record: RunRecord, backend: Backend | None) -> Backend:
    """What follows a run: its live backend, or a replay of its folder."""
    return backend if backend is not None else ReplayBackend()


def stop(
    record: RunRecord, timeout: int = 10, *, by: str | None = None, backend: Backend | None = None
) -> StopResult:
    """Stop a run started here or by another process; LaunchError when there is nothing to stop. ``by`` (one of
    ``records.STOPPED_BY``) goes into run.json first, so the verdict says who stopped it; ``backend``: the live one
    when this process holds it (the Run screen, a sweep), else the backend is observed. A run recorded finished is
    stopped too while something of it still runs (the training child its SIGKILLed entrypoint left)."""
    if record.verdict is None:
        if by is not None:
            registry.mark_stopped(record, by)
        try:
            return (backend or backend_class(record.backend).observe()).stop(record, timeout=timeout)
        except LaunchError:
            if by is not None:
                registry.mark_stopped(record, None)  # nothing was stopped: the run ended by itself
            raise
    finished = LaunchError(
        f"run {record.run_id} has already finished ({record.verdict.word}): nothing to stop"
    )
    try:
        backend = backend or backend_class(record.backend).observe()
    except LaunchError:
        raise finished from None
    if not backend.running(record):
        raise finished
    result = backend.stop(record, timeout=timeout)
    return StopResult(
        f" (recorded finished, {record.verdict.word}, but processes of it were left running)" + result.detail,
        killed=result.killed,
    )


def listing() -> list[RunRow]:
    """Every run we know of: run folders, plus what each backend knows by itself (labelled containers, running or
    finished). A backend that cannot be reached (no engine) leaves its runs' state unknown."""
    records = {rec.run_id: rec for rec in registry.all_records()}
    rows = {run_id: RunRow.of(rec) for run_id, rec in records.items()}
    observers: dict[str, Backend | None] = {}
    for name, kind in BACKENDS.items():
        try:
            observers[name] = kind.observe()
        except LaunchError:
            observers[name] = None
    for observer in observers.values():
        for found in observer.listed() if observer is not None else []:
            row = rows.setdefault(found.run_id, found)
            row.state = found.state
    for row in rows.values():
        record = records.get(row.run_id)
        observer = observers.get(row.backend)
        if row.state == "unknown" and record is not None and observer is not None:
            row.state = observer.state(record)
    return sorted(rows.values(), key=lambda r: r.run_id)


__all__ = ["Prepared", "RunOptions", "backend_for", "follower_of", "listing", "prepare", "start", "stop"]
