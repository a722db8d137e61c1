"""``depthnet run | runs | attach | stop``. Exit code = the honest verdict: 0 pass, 1 fail, 2 usage/preflight."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from specgen.cli.common import _err, apply_settings
from specgen.spec.names import ACTIONS, BACKEND_NAMES

if TYPE_CHECKING:  # the engine is imported by the commands that use it: `depthnet --help` does not pay for it
    from specgen.engine.backend import Backend
    from specgen.engine.events import Event
    from specgen.engine.records import RunRecord
    from specgen.engine.slurm import SlurmOptions


def register(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("run", help="launch a depth_net action and follow it to an honest verdict")
    r.add_argument("action", choices=ACTIONS, help="the depth_net action")
    r.add_argument("-e", "--spec", required=True, help="the experiment spec (YAML)")
    r.add_argument(
        "--backend",
        choices=BACKEND_NAMES,
        help="where it runs (default: docker when an engine answers, else local, else a script)",
    )
    r.add_argument("--image", help="container image (default: the TAO image for the action)")
    r.add_argument(
        "--gpus",
        help="GPU indices (0,1), all or none (default 0, or the gpus setting); the run's spec copy gets "
        "num_gpus/gpu_ids to match",
    )
    r.add_argument(
        "--data-root",
        action="append",
        help="mounted read-only (default: the folders of the spec's data files)",
    )
    r.add_argument("--output-dir", help="mounted read-write (default: the spec's results_dir)")
    r.add_argument("--network", help="docker network mode (e.g. none)")
    r.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="environment for the run (repeatable; values never printed)",
    )
    r.add_argument(
        "--detach", action="store_true", help="launch and return; follow later with depthnet attach"
    )
    r.add_argument(
        "--force",
        action="store_true",
        help="reuse a results folder that holds another run; launch although the GPU memory estimate says no",
    )
    r.add_argument(
        "--allow-known-failure",
        action="store_true",
        help="launch although the data check says the loss will be NaN (e.g. an empty valid mask)",
    )
    r.add_argument("--json-events", action="store_true", help="one JSON object per event on stdout")
    r.add_argument("--stop-on-nan", action="store_true", help="stop the run at the first NaN/inf loss")
    r.add_argument(
        "--retries",
        type=int,
        default=0,
        metavar="K",
        help="start the run again (same results folder; a train run resumes) up to K times when it fails for the "
        "machine's sake: NCCL, CUDA init, Xid/ECC, a Slurm node failure; never a spec or data error",
    )
    s = r.add_argument_group(
        "slurm", "with --backend slurm (the job's files must be on a filesystem the nodes share)"
    )
    s.add_argument("--partition", help="sbatch --partition")
    s.add_argument("--account", help="sbatch --account")
    s.add_argument("--qos", help="sbatch --qos")
    s.add_argument("--nodes", type=int, default=1, help="nodes (one task each; TAO's multi-node env is set)")
    s.add_argument("--gpus-per-node", type=int, default=None, help="GPUs per node (default: those of --gpus)")
    s.add_argument("--time", help="time limit, e.g. 2:00:00")
    s.add_argument(
        "--requeue",
        action="store_true",
        help="a train job near its time limit requeues itself (same job id) and resumes from its last checkpoint",
    )
    s.add_argument(
        "--requeue-signal-seconds",
        type=int,
        default=120,
        metavar="N",
        help="with --requeue: Slurm warns the job N seconds before its time limit (default 120)",
    )
    s.add_argument(
        "--container-runtime",
        choices=("pyxis", "apptainer", "none"),
        default="pyxis",
        help="pyxis (srun --container-image), apptainer exec --nv, or none (depth_net on the nodes)",
    )
    s.add_argument(
        "--sbatch-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="one more sbatch option, e.g. --sbatch-arg=--mem=64G (repeatable)",
    )
    s.add_argument("--dry-run", action="store_true", help="print the sbatch script, submit nothing")
    r.set_defaults(func=cmd_run)

    ls = sub.add_parser("runs", help="list runs (running or finished)")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=cmd_runs)

    a = sub.add_parser("attach", help="re-attach to a run: rebuild its history, follow it to the verdict")
    a.add_argument("run_id", help="a run id from `depthnet runs` (a unique part is enough)")
    a.add_argument("--json-events", action="store_true", help="one JSON object per event on stdout")
    a.add_argument("--stop-on-nan", action="store_true", help="stop the run at the first NaN/inf loss")
    a.set_defaults(func=cmd_attach)

    s = sub.add_parser("stop", help="stop a run (graceful, then kill)")
    s.add_argument("run_id", help="a run id from `depthnet runs`")
    s.add_argument("--timeout", type=int, default=10, help="seconds between SIGTERM and SIGKILL")
    s.set_defaults(func=cmd_stop)


class Printer:
    """Human output (log lines, losses, alerts, verdict) or one JSON object per event."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def __call__(self, event: Event) -> None:
        from specgen.engine.events import Alert, JobState, LogLine, StatusLine, StepLoss, Verdict, as_dict
        from specgen.engine.logparse import display

        if self.as_json:
            doc: dict[str, Any] = as_dict(event)
            print(json.dumps(doc, allow_nan=True), flush=True)
            return
        if isinstance(event, LogLine) and not event.progress:
            print(
                display(event.text), flush=True
            )  # never raw control bytes from the container to the terminal
        elif isinstance(event, StepLoss):
            print(
                f"  step {event.global_step} (epoch {event.epoch} {event.step}/{event.steps}) train_loss {event.loss:.4g}",
                flush=True,
            )
        elif isinstance(event, StatusLine) and event.kpi and "epoch" in event.data:
            print(
                f"  epoch {event.data['epoch']}: " + ", ".join(f"{k} {v}" for k, v in event.kpi.items()),
                flush=True,
            )
        elif isinstance(event, Alert):
            print(f"ALERT {event.code}: {event.message}", file=sys.stderr, flush=True)
        elif isinstance(event, JobState):
            print(event.words, file=sys.stderr, flush=True)
        elif isinstance(event, Verdict):
            print(f"verdict: {event.word} — {event.reason}{event.tao_note}", flush=True)
            for extra in event.reasons[1:]:
                print(f"  also: {extra}", flush=True)


def _stop_quietly(backend: Backend, record: RunRecord) -> None:
    """--stop-on-nan: the run may end by itself meanwhile; a refusal is one line, never a traceback."""
    from specgen.engine.launch import stop
    from specgen.engine.records import BY_NAN, LaunchError

    try:
        stop(record, 5, by=BY_NAN, backend=backend)
    except LaunchError as exc:
        _err(str(exc))


def follow(
    record: RunRecord,
    backend: Backend | None,
    as_json: bool,
    stop_on_nan: bool = False,
    env: dict[str, str] | None = None,
) -> int:
    """Follow to the verdict, with the run's retries (``env``: the --env values this process was given, for a
    retry that starts a new process; None: this process's environment)."""
    import asyncio
    import signal
    import threading

    from specgen.engine.events import Alert
    from specgen.engine.retry import follow as follow_run

    printer = Printer(as_json)

    def sink(event: Event) -> None:
        printer(event)
        if stop_on_nan and isinstance(event, Alert) and event.code == "NAN_LOSS" and backend is not None:
            print(f"stopping {record.run_id} (--stop-on-nan)", file=sys.stderr, flush=True)
            threading.Thread(target=_stop_quietly, args=(backend, record), daemon=True).start()

    def interrupted(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        verdict = asyncio.run(follow_run(record, backend, sink, env=env))
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM of this CLI: the run itself goes on
        print(
            f"depthnet: stopped following; run {record.run_id} goes on — follow it again with "
            f"`depthnet attach {record.run_id}`, stop it with `depthnet stop {record.run_id}`",
            file=sys.stderr,
        )
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    _tensorboard_line(record)
    return 0 if verdict.passed else 1


def _tensorboard_line(record: RunRecord) -> None:
    """After a train run: the command that shows every curve it logged (on stderr, beside the notes)."""
    from specgen.engine.tensorboard import logdir_command

    command = logdir_command(record.results_dir) if record.action == "train" else None
    if command is not None:
        print(f"curves: {command}", file=sys.stderr)


def slurm_options(args: argparse.Namespace) -> SlurmOptions | None:
    if args.backend != "slurm":
        return None
    from pydantic import ValidationError

    from specgen.engine.records import LaunchError, SlurmOptions
    from specgen.job.gpus import parse_gpus

    per_node = args.gpus_per_node
    try:
        if per_node is None:  # the GPUs of --gpus, on every node
            ids = parse_gpus(args.gpus)
            per_node = len(ids) if isinstance(ids, list) else (0 if ids == "none" else 1)
        opts = SlurmOptions(
            partition=args.partition,
            account=args.account,
            qos=args.qos,
            nodes=args.nodes,
            gpus_per_node=per_node,
            time=args.time,
            container_runtime=args.container_runtime,
            image=args.image,
            sbatch_args=args.sbatch_arg,
            requeue=args.requeue,
            requeue_signal_seconds=args.requeue_signal_seconds,
            retries=args.retries,
        )
    # pydantic's range checks (the values written into the script raise LaunchError themselves)
    except ValidationError as exc:
        first = exc.errors()[0]
        flag = "--" + str(first["loc"][0] if first["loc"] else "option").replace("_", "-")
        raise LaunchError(f"{flag} {first.get('input')!r}: {first['msg'].lower()}") from None
    except ValueError as exc:  # parse_gpus
        raise LaunchError(f"slurm options: {exc}") from None
    return opts


class CheckProgress:
    """The preflight's check of the annotation files, on stderr, once it has taken a second (a big list): small
    lists say nothing."""

    def __init__(self) -> None:
        import time

        self._t0: float | None = None
        self._clock, self.shown = time.monotonic, False

    def __call__(self, key: str, lines: int, fraction: float) -> None:
        if self._t0 is None:
            self._t0 = self._clock()
        elif self._clock() - self._t0 >= 1.0:
            print(f"\rchecking {key}: {lines} lines, {fraction:.0%}", end="", file=sys.stderr, flush=True)
            self.shown = True

    def done(self) -> None:
        if self.shown:
            print(file=sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    from specgen.engine import registry
    from specgen.engine.launch import RunOptions, prepare, start
    from specgen.engine.records import MAX_RETRIES, LaunchError, env_pairs

    try:
        env = env_pairs(args.env)  # names and values checked: one line for a hostile one, never its value
        if not 0 <= args.retries <= MAX_RETRIES:
            raise LaunchError(f"--retries {args.retries}: give 0 to {MAX_RETRIES}")
        if args.requeue and args.action != "train":
            raise LaunchError(
                f"--requeue resumes a train run from its checkpoint; depth_net {args.action} has none: drop --requeue"
            )
        apply_settings(args, BACKEND_NAMES)
        if args.requeue and args.backend != "slurm":
            raise LaunchError("--requeue is a Slurm job's: use it with --backend slurm")
        slurm = slurm_options(args)
        opts = RunOptions(
            action=args.action,
            spec=args.spec,
            backend=args.backend,
            image=args.image,
            gpus=args.gpus,
            data_roots=args.data_root or [],
            output_dir=args.output_dir,
            network=args.network,
            env=env,
            force=args.force,
            allow_known_failure=args.allow_known_failure,
            slurm=slurm,
        )
        shown = CheckProgress()
        try:
            prepared = prepare(opts, progress=shown)
        finally:
            shown.done()
        for problem in prepared.problems:
            _err(problem)
        if prepared.problems:
            prepared.discard()
            return 2
        for note in prepared.notes:
            print(f"note: {note}", file=sys.stderr)
        if args.dry_run:
            prepared.discard()
            if slurm is None:
                _err("--dry-run shows the sbatch script: use it with --backend slurm")
                return 2
            from specgen.engine.slurm import render_script

            print(render_script(prepared.request, slurm, registry.run_dir(prepared.request.run_id)), end="")
            return 0
        record, backend = start(prepared, args.backend, slurm=slurm, retries=args.retries)
    except LaunchError as exc:
        for line in str(exc).splitlines():
            _err(line)
        return 2
    if not backend.starts:
        print(
            f"no Docker engine and no depth_net here: wrote {record.script}; run it on the GPU machine "
            f"(sh {record.script}), then `depthnet runs`"
        )
        return 0
    print(
        f"run {record.run_id} started ({backend.describe(record)}); results in {record.results_dir}",
        file=sys.stderr,
    )
    if args.detach:
        backend.take(record.run_id).release()  # nothing here follows it: its run record marks the folder
        print(record.run_id)
        return 0
    return follow(record, backend, args.json_events, args.stop_on_nan, env=env)


def cmd_attach(args: argparse.Namespace) -> int:
    from specgen.engine import registry
    from specgen.engine.launch import backend_for
    from specgen.engine.records import LaunchError

    try:
        record = registry.load(args.run_id)
        backend = backend_for(record)
    except (FileNotFoundError, LaunchError) as exc:
        _err(str(exc))
        return 2
    return follow(record, backend, args.json_events, args.stop_on_nan)


def cmd_runs(args: argparse.Namespace) -> int:
    from specgen.engine.launch import listing

    ordered = listing()
    if args.json:
        print(json.dumps([row.model_dump() for row in ordered], indent=2))
    else:
        for r in ordered:
            why = f"  {r.reason}" if r.reason else ""
            print(f"{r.run_id:<40} {r.backend:<7} {r.action!s:<15} {r.state:<9} {r.verdict or '-'}{why}")
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    from specgen.engine import registry
    from specgen.engine.launch import stop
    from specgen.engine.records import BY_CLI, LaunchError

    try:
        record = registry.load(args.run_id)
        result = stop(record, timeout=args.timeout, by=BY_CLI)
    except (FileNotFoundError, LaunchError) as exc:
        _err(str(exc))
        return 2
    print(result.line(record.run_id))
    return 0
