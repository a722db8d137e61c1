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
from specgen.engine.preflight import PreflightProblem, default_data_roots, problems

Backend = DockerBackend | LocalBackend


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


class Prepared(BaseModel):
    request: LaunchRequest
    problems: list[str]
    confirmable: bool  # every problem can be overridden with an explicit yes (--force)


def prepare(opts: RunOptions) -> Prepared:
    """Read and validate the spec, work out the mounts, run the preflight checks. Raises LaunchError when the spec
    itself is unusable; preflight findings come back as messages for the caller to show."""
    from specgen.job.validate import errors, validate_data
    from specgen.spec.docker_cmd import image_for_spec
    from specgen.spec.paths import action_results_dir
    from specgen.spec.render import SpecFileError, read_yaml

    try:
        data = read_yaml(opts.spec)
    except SpecFileError as exc:
        raise LaunchError(str(exc)) from None
    spec, found = validate_data(data, opts.action)
    if spec is None or errors(found):
        raise LaunchError("\n".join(p.line() for p in (errors(found) or found)))
    results = action_results_dir(spec, opts.action)
    output_dir = os.path.abspath(opts.output_dir or spec.results_dir or os.path.dirname(results))
    roots = [os.path.abspath(r) for r in (opts.data_roots or default_data_roots(spec, opts.action))]
    issues: list[PreflightProblem] = problems(spec, opts.action, data_roots=roots, output_dir=output_dir,
                                              force=opts.force)
    req = LaunchRequest(run_id=registry.new_run_id(opts.action), action=opts.action,
                        spec_path=os.path.abspath(opts.spec), results_dir=results, data_roots=roots,
                        output_dir=output_dir, image=opts.image or image_for_spec(opts.action, spec), gpus=opts.gpus, network=opts.network, env=opts.env)
    return Prepared(request=req, problems=[str(p) for p in issues],
                    confirmable=bool(issues) and all(p.confirmable for p in issues))


def start(req: LaunchRequest, backend_name: str | None) -> tuple[RunRecord, Backend | None]:
    """Launch with the chosen backend (or the best available); the record is saved before this returns."""
    chosen = choose_backend(backend_name)
    folder = registry.run_dir(req.run_id)
    backend: Backend | None = None
    if isinstance(chosen, DockerBackend):
        chosen.preflight(req)
        record = chosen.launch(req)
        backend = chosen
    elif isinstance(chosen, LocalBackend):
        record = chosen.launch(req, folder / "log.txt")
        backend = chosen
    else:
        record = chosen.launch(req, folder)
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
    return None


def stop(record: RunRecord, timeout: int = 10) -> list[int]:
    """Stop a run; for a local run, the pids of its process group that outlived SIGTERM (then killed)."""
    if record.backend == "docker":
        DockerBackend().stop(record, timeout=timeout)
        return []
    return LocalBackend.attached().stop(record, timeout=timeout)


def listing() -> list[dict[str, Any]]:
    """Every run we know of: run folders, plus containers carrying our label (running or finished)."""
    rows: dict[str, dict[str, Any]] = {}
    records = {rec.run_id: rec for rec in registry.all_records()}
    for rec in records.values():
        state = "finished" if rec.verdict else "unknown"
        rows[rec.run_id] = {"run_id": rec.run_id, "backend": rec.backend, "action": rec.action, "state": state,
                            "verdict": ("PASS" if rec.verdict.get("passed") else "FAIL") if rec.verdict else None,
                            "reason": (rec.verdict or {}).get("reason"), "results_dir": rec.results_dir,
                            "started": rec.started}
    try:
        for c in DockerBackend().listed():
            row = rows.setdefault(c["run_id"], {"run_id": c["run_id"], "backend": "docker", "action": c["action"],
                                                "verdict": None, "reason": None, "results_dir": None,
                                                "started": None})
            row["state"] = c["status"]
    except LaunchError:
        pass
    for row in rows.values():
        if row["backend"] == "local" and row["state"] == "unknown":
            row["state"] = "running" if LocalBackend.attached().is_running(records[row["run_id"]]) else "exited"
        if row["backend"] == "script" and row["state"] == "unknown":
            row["state"] = "script"
    return sorted(rows.values(), key=lambda r: r["run_id"])
