"""``depthnet run | runs | attach | stop``. Exit code = the honest verdict: 0 pass, 1 fail, 2 usage/preflight."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
from typing import Any

from tui.run import registry
from tui.run.backends import (
    DockerBackend,
    LaunchError,
    LaunchRequest,
    LocalBackend,
    RunRecord,
    ScriptBackend,
    pick_backend,
)
from tui.run.events import Alert, Event, LogLine, StatusLine, StepLoss, Verdict
from tui.run.monitor import Monitor, env_force_polling
from tui.run.preflight import default_data_roots, results_dir_for
from tui.run.preflight import problems as preflight_problems

ACTIONS = ("train", "evaluate", "inference", "export", "quantize", "gen_trt_engine")


def register(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("run", help="launch a depth_net action and follow it to an honest verdict")
    r.add_argument("action", choices=ACTIONS)
    r.add_argument("-e", "--spec", required=True)
    r.add_argument("--backend", choices=("docker", "local", "script"))
    r.add_argument("--image")
    r.add_argument("--gpus", default="0", help="0,1 | all | none")
    r.add_argument("--data-root", action="append", help="mounted read-only (default: the folders of the spec's data files)")
    r.add_argument("--output-dir", help="mounted read-write (default: the spec's results_dir)")
    r.add_argument("--network", help="docker network mode (e.g. none)")
    r.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    r.add_argument("--detach", action="store_true", help="launch and return; follow later with depthnet attach")
    r.add_argument("--force", action="store_true", help="reuse a results folder that holds another run")
    r.add_argument("--json-events", action="store_true", help="one JSON object per event on stdout")
    r.add_argument("--stop-on-nan", action="store_true", help="stop the run at the first NaN/inf loss")
    r.set_defaults(func=cmd_run)

    ls = sub.add_parser("runs", help="list runs (running or finished)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_runs)

    a = sub.add_parser("attach", help="re-attach to a run: rebuild its history, follow it to the verdict")
    a.add_argument("run_id")
    a.add_argument("--json-events", action="store_true")
    a.add_argument("--stop-on-nan", action="store_true", help="stop the run at the first NaN/inf loss")
    a.set_defaults(func=cmd_attach)

    s = sub.add_parser("stop", help="stop a run (graceful, then kill)")
    s.add_argument("run_id")
    s.add_argument("--timeout", type=int, default=10)
    s.set_defaults(func=cmd_stop)


def _err(text: str) -> None:
    print(f"depthnet: {text}", file=sys.stderr)


class Printer:
    """Human output (log lines, losses, alerts, verdict) or one JSON object per event."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def __call__(self, event: Event) -> None:
        if self.as_json:
            doc: dict[str, Any] = event.model_dump()
            print(json.dumps(doc, allow_nan=True), flush=True)
            return
        if isinstance(event, LogLine) and not event.progress:
            print(event.text, flush=True)
        elif isinstance(event, StepLoss):
            print(f"  step {event.global_step} (epoch {event.epoch} {event.step}/{event.steps}) train_loss {event.loss:.4g}", flush=True)
        elif isinstance(event, StatusLine) and event.kpi and "epoch" in event.data:
            print(f"  epoch {event.data['epoch']}: " + ", ".join(f"{k} {v}" for k, v in event.kpi.items()), flush=True)
        elif isinstance(event, Alert):
            print(f"ALERT {event.code}: {event.message}", file=sys.stderr, flush=True)
        elif isinstance(event, Verdict):
            tao = f" (TAO printed {event.tao_status})" if event.tao_status and "TAO printed" not in event.reason else ""
            print(f"verdict: {'PASS' if event.passed else 'FAIL'} — {event.reason}{tao}", flush=True)


def _backend_for(record: RunRecord) -> DockerBackend | LocalBackend | None:
    if record.backend == "docker":
        backend = DockerBackend()
        return backend if backend.exists(record) else None  # removed container: replay the saved log
    if record.backend == "local":
        backend = LocalBackend.__new__(LocalBackend)
        backend.exe, backend._procs = None, {}
        return backend if backend.is_running(record) else None
    return None


def follow(record: RunRecord, backend: DockerBackend | LocalBackend | None, as_json: bool,
           stop_on_nan: bool = False) -> int:
    printer = Printer(as_json)

    def sink(event: Event) -> None:
        printer(event)
        if stop_on_nan and isinstance(event, Alert) and backend is not None:
            print(f"stopping {record.run_id} (--stop-on-nan)", file=sys.stderr, flush=True)
            threading.Thread(target=backend.stop, args=(record, 5), daemon=True).start()

    monitor = Monitor(record, backend, sink, log_path=registry.run_dir(record.run_id) / "log.txt",
                      force_polling=env_force_polling())
    verdict = asyncio.run(monitor.run())
    record.verdict = verdict.model_dump()
    registry.save(record)
    return 0 if verdict.passed else 1


def cmd_run(args: argparse.Namespace) -> int:
    from specgen.render import SpecFileError, read_yaml
    from specgen.validate import errors, validate_data

    try:
        data = read_yaml(args.spec)
    except SpecFileError as exc:
        _err(str(exc))
        return 2
    spec, problems = validate_data(data, args.action)
    if spec is None or errors(problems):
        for p in errors(problems) or problems:
            _err(p.line())
        return 2
    spec_path = os.path.abspath(args.spec)
    results = results_dir_for(spec, args.action)
    output_dir = os.path.abspath(args.output_dir or spec.results_dir or os.path.dirname(results))
    roots = [os.path.abspath(r) for r in (args.data_root or default_data_roots(spec, args.action))]
    found = preflight_problems(spec, args.action, data_roots=roots, output_dir=output_dir, force=args.force)
    for problem in found:
        _err(problem.args[0])
    if found:
        return 2
    env = dict(item.split("=", 1) for item in args.env if "=" in item)
    run_id = registry.new_run_id(args.action)
    req = LaunchRequest(run_id=run_id, action=args.action, spec_path=spec_path, results_dir=results,
                        data_roots=roots, output_dir=output_dir, image=args.image,
                        gpus=args.gpus, network=args.network, env=env)
    folder = registry.run_dir(run_id)
    try:
        name = pick_backend(args.backend)
        if name == "docker":
            backend: DockerBackend | LocalBackend = DockerBackend()
            backend.preflight(req)
            record = backend.launch(req)
        elif name == "local":
            backend = LocalBackend()
            record = backend.launch(req, folder / "log.txt")
        else:
            record = ScriptBackend().launch(req, folder)
            registry.save(record)
            print(f"no Docker engine and no depth_net here: wrote {record.script}; run it on the GPU machine "
                  f"(sh {record.script}), then `depthnet runs`")
            return 0
    except LaunchError as exc:
        _err(str(exc))
        return 2
    registry.save(record)
    print(f"run {run_id} started ({record.backend}); results in {results}", file=sys.stderr)
    if args.detach:
        print(run_id)
        return 0
    return follow(record, backend, args.json_events, args.stop_on_nan)


def cmd_attach(args: argparse.Namespace) -> int:
    try:
        record = registry.load(args.run_id)
        backend = _backend_for(record)
    except (FileNotFoundError, LaunchError) as exc:
        _err(str(exc))
        return 2
    return follow(record, backend, args.json_events, args.stop_on_nan)


def cmd_runs(args: argparse.Namespace) -> int:
    rows: dict[str, dict[str, Any]] = {}
    for rec in registry.all_records():
        state = "finished" if rec.verdict else "unknown"
        rows[rec.run_id] = {"run_id": rec.run_id, "backend": rec.backend, "action": rec.action, "state": state,
                            "verdict": ("PASS" if rec.verdict.get("passed") else "FAIL") if rec.verdict else None,
                            "results_dir": rec.results_dir, "started": rec.started}
    try:
        for c in DockerBackend().listed():
            row = rows.setdefault(c["run_id"], {"run_id": c["run_id"], "backend": "docker", "action": c["action"],
                                                "verdict": None, "results_dir": None, "started": None})
            row["state"] = c["status"]
    except LaunchError:
        pass
    for row in rows.values():
        if row["backend"] == "local" and row["state"] == "unknown":
            try:
                row["state"] = "running" if LocalBackend.__new__(LocalBackend).is_running(registry.load(row["run_id"])) else "exited"
            except Exception:
                pass
    ordered = sorted(rows.values(), key=lambda r: r["run_id"])
    if args.json:
        print(json.dumps(ordered, indent=2))
    else:
        for r in ordered:
            print(f"{r['run_id']:<40} {r['backend']:<7} {r['action']:<15} {r['state']:<9} {r['verdict'] or '-'}")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    try:
        record = registry.load(args.run_id)
        backend = DockerBackend() if record.backend == "docker" else LocalBackend.__new__(LocalBackend)
        if isinstance(backend, LocalBackend):
            backend._procs = {}
        backend.stop(record, timeout=args.timeout)
    except (FileNotFoundError, LaunchError) as exc:
        _err(str(exc))
        return 2
    print(f"stopped {record.run_id}")
    return 0
