"""From a spec file to a started run, and back to a run by id — shared by ``depthnet run`` and the Run screen."""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, Field

from specgen.engine import registry
from specgen.engine.backends import (
    DockerBackend,
    LaunchError,
    LaunchRequest,
    LocalBackend,
    RunRecord,
    choose_backend,
)
from specgen.engine.lock import FolderBusy, ResultsLock
from specgen.engine.preflight import PreflightProblem, default_data_roots, inside, problems, system_folder
from specgen.engine.runspec import RunSpec, SpecUnusable, load_run_spec
from specgen.engine.slurm import SlurmBackend, SlurmOptions

Backend = DockerBackend | LocalBackend | SlurmBackend


class RunOptions(BaseModel):
    action: str
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


class Prepared(BaseModel):
    request: LaunchRequest
    problems: list[str]
    confirmable: bool  # every problem can be overridden with an explicit yes (--force)
    notes: list[str] = Field(
        default_factory=list
    )  # decided for the user, said before launch (device keys, strategy)


def prepare(opts: RunOptions) -> Prepared:
    """Read and validate the spec, work out the mounts, run the preflight checks. Raises LaunchError when the spec
    itself is unusable; preflight findings come back as messages for the caller to show."""
    from specgen.spec.docker_cmd import image_for_spec

    try:
        run_spec = load_run_spec(opts.spec, opts.action, allow_known_failure=opts.allow_known_failure)
    except SpecUnusable as exc:
        raise LaunchError(str(exc)) from None
    spec, results = run_spec.spec, run_spec.results_dir
    output_dir = os.path.abspath(opts.output_dir or spec.results_dir or os.path.dirname(results))
    roots = [os.path.abspath(r) for r in (opts.data_roots or default_data_roots(run_spec))]
    run_id = registry.new_run_id(opts.action)
    if inside(results, [output_dir]) and system_folder(output_dir) is None and system_folder(results) is None:
        # Taken before the check for an earlier run in the folder, so two starts cannot both pass it.
        try:
            _LOCKS[run_id] = ResultsLock(results).acquire(run_id)
        except FolderBusy as exc:
            raise LaunchError(str(exc)) from None
        except OSError as exc:
            raise LaunchError(
                f"cannot create the results folder {results} ({exc.strerror}); choose another"
            ) from None
    issues: list[PreflightProblem] = problems(
        run_spec, data_roots=roots, output_dir=output_dir, force=opts.force
    )
    spec_path, notes = _job_spec(opts, run_spec, run_id)
    memory = _memory_problem(opts, run_spec)
    if memory is not None:
        issues.append(PreflightProblem(memory, confirmable=True, key="dataset.train_dataset.batch_size"))
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
    _SPECS[run_id] = run_spec  # handed to the monitor of the run this starts: no second read of the file
    _NOTES[run_id] = notes
    return Prepared(
        request=req,
        problems=[str(p) for p in issues],
        confirmable=bool(issues) and all(p.confirmable for p in issues),
        notes=notes,
    )


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
    if opts.backend == "slurm":
        slurm = opts.slurm or SlurmOptions()
        per_node, nodes = slurm.gpus_per_node, slurm.nodes
    elif isinstance(ids, list):
        per_node, nodes = (
            len(ids),
            1,
        )  # a local run gets CUDA_VISIBLE_DEVICES at start: it sees 0..n-1, as in Docker
    else:
        per_node, nodes = 0, 1  # all / none: the spec's own keys stand
    changes, notes = device_keys(run.data, opts.action, per_node, nodes)
    if not changes and opts.backend != "slurm":
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

    if opts.action != "train" or opts.backend in ("slurm", "script") or opts.gpus == "none":
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


#: What prepare decided for each run (device keys, strategy), kept in its record.
_NOTES: dict[str, list[str]] = {}


#: The typed spec of each prepared run, by run id (the engine's one parse of the file).
_SPECS: dict[str, RunSpec] = {}


def run_spec_of(run_id: str) -> RunSpec | None:
    """The typed spec ``prepare`` made for this run, handed over once (a long-lived app keeps none behind)."""
    return _SPECS.pop(run_id, None)


#: Results-folder locks taken by ``prepare``, by run id, until the run is started (or given up).
_LOCKS: dict[str, ResultsLock] = {}


def release(run_id: str) -> None:
    """Give up the results folder of a prepared run that was not started (or whose follower ends)."""
    lock = _LOCKS.pop(run_id, None)
    if lock is not None:
        lock.release()


def discard(run_id: str) -> None:
    """A prepared run that will not start (refused, cancelled, a dry run): its lock goes, and so does the run folder
    prepare made for the job's spec copy — only when it holds nothing else."""
    release(run_id)
    _SPECS.pop(run_id, None)
    _NOTES.pop(run_id, None)
    folder = registry.run_dir(run_id)
    try:
        if folder.is_dir() and {p.name for p in folder.iterdir()} <= {"spec.yaml"}:
            (folder / "spec.yaml").unlink(missing_ok=True)
            folder.rmdir()
    except OSError:
        pass  # litter at worst, never an error for the person


def start(
    req: LaunchRequest, backend_name: str | None, slurm: SlurmOptions | None = None
) -> tuple[RunRecord, Backend | None]:
    """Launch with the chosen backend (or the best available); the record is saved before this returns.
    A local run's process inherits the results-folder lock, so the folder stays taken exactly as long as it runs;
    for a container the lock lives as long as this process follows it."""
    lock = _LOCKS.get(req.run_id)
    if lock is None:  # prepared elsewhere (another process): take it now
        try:
            lock = _LOCKS[req.run_id] = ResultsLock(req.results_dir).acquire(req.run_id)
        except FolderBusy as exc:
            raise LaunchError(str(exc)) from None
    try:
        folder = registry.run_dir(req.run_id)
        backend: Backend | None = None
        chosen = SlurmBackend(slurm) if backend_name == "slurm" else choose_backend(backend_name)
        if isinstance(chosen, SlurmBackend):
            record = chosen.launch(req, folder)
            backend = chosen
            release(req.run_id)  # the job runs elsewhere: the results folder is marked by its run record
        elif isinstance(chosen, DockerBackend):
            chosen.preflight(req)
            record = chosen.launch(req)
            backend = chosen
        elif isinstance(chosen, LocalBackend):
            if req.gpus not in ("all", "none") and "CUDA_VISIBLE_DEVICES" not in req.env:
                req = req.model_copy(update={"env": {**req.env, "CUDA_VISIBLE_DEVICES": req.gpus}})
            record = chosen.launch(
                req, folder / "log.txt", keep_fds=(lock.fd,) if lock.fd is not None else ()
            )
            backend = chosen
            release(req.run_id)  # the child holds it now
        else:
            record = chosen.launch(req, folder)
            release(req.run_id)  # written, not started
    except BaseException:
        release(req.run_id)
        raise
    record.gpus = req.gpus
    record.notes = _NOTES.pop(req.run_id, [])
    registry.save(record)
    return record, backend


def backend_for(record: RunRecord) -> Backend | None:
    """The live backend of a run, or None when only its saved log and status.json remain (replay)."""
    if record.backend == "docker":
        docker = DockerBackend()
        return docker if docker.exists(record) else None
    if record.backend == "local":
        local = LocalBackend.attached()
        return local if local.is_running(record) else None
    if record.backend == "slurm":
        return SlurmBackend()  # asks Slurm how the job stands; a finished job answers at once
    return None


def stop(record: RunRecord, timeout: int = 10) -> list[int] | str:
    """Stop a run; for a local run, the pids of its process group that outlived SIGTERM (then killed); for a Slurm
    job, the words of the state it ended in."""
    if record.verdict is not None:
        raise LaunchError(
            f"run {record.run_id} has already finished ({'PASS' if record.verdict.get('passed') else 'FAIL'}"
            "): nothing to stop"
        )
    if record.backend == "docker":
        DockerBackend().stop(record, timeout=timeout)
        return []
    if record.backend == "local":
        from specgen.engine.backends import is_ours

        if not is_ours(record):
            raise LaunchError(
                f"run {record.run_id} is not running: its process {record.pid} has ended (the pid may "
                "belong to another program now, which is left alone)"
            )
        return LocalBackend.attached().stop(record, timeout=timeout)
    if record.backend == "slurm":
        backend = SlurmBackend()
        st = backend.state(record)
        if st.finished:
            raise LaunchError(
                f"run {record.run_id}: Slurm job {record.job_id} has already ended ({st.state}): "
                "nothing to stop"
            )
        return backend.stop(record, timeout=timeout).words
    raise LaunchError(
        f"run {record.run_id} was written as a script ({record.script}) and never started here: "
        "nothing to stop"
    )


def listing() -> list[dict[str, Any]]:
    """Every run we know of: run folders, plus containers carrying our label (running or finished)."""
    rows: dict[str, dict[str, Any]] = {}
    records = {rec.run_id: rec for rec in registry.all_records()}
    for rec in records.values():
        state = "finished" if rec.verdict else "unknown"
        rows[rec.run_id] = {
            "run_id": rec.run_id,
            "backend": rec.backend,
            "action": rec.action,
            "state": state,
            "verdict": ("PASS" if rec.verdict.get("passed") else "FAIL") if rec.verdict else None,
            "reason": (rec.verdict or {}).get("reason"),
            "results_dir": rec.results_dir,
            "started": rec.started,
        }
    try:
        for c in DockerBackend().listed():
            row = rows.setdefault(
                c["run_id"],
                {
                    "run_id": c["run_id"],
                    "backend": "docker",
                    "action": c["action"],
                    "verdict": None,
                    "reason": None,
                    "results_dir": None,
                    "started": None,
                },
            )
            row["state"] = c["status"]
    except LaunchError:
        pass
    for row in rows.values():
        if row["backend"] == "local" and row["state"] == "unknown":
            row["state"] = (
                "running" if LocalBackend.attached().is_running(records[row["run_id"]]) else "exited"
            )
        if row["backend"] == "script" and row["state"] == "unknown":
            row["state"] = "not started"  # written for the user to run: never "finished"
        if row["backend"] == "slurm" and row["state"] == "unknown":
            row["state"] = SlurmBackend().queue_state(records[row["run_id"]])
    return sorted(rows.values(), key=lambda r: r["run_id"])
