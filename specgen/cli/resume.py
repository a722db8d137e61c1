"""``depthnet resume RUN``: a train run that failed or was interrupted starts again from its last checkpoint, into
the same results folder, on the backend it ran on — after a yes (``--yes`` for scripts)."""

from __future__ import annotations

import argparse
import sys

from specgen.cli.common import _err

#: Words of ``Backend.state`` that mean the run still goes on (or waits to).
GOING = ("running", "pending", "configuring", "completing", "requeued", "suspended", "created", "restarting")


def register(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser(
        "resume",
        help="start a failed or interrupted train run again from its last checkpoint (same results folder)",
    )
    r.add_argument("run_id", help="a run id from `depthnet runs` (a unique part is enough)")
    r.add_argument("--yes", action="store_true", help="resume without asking (for scripts)")
    r.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="the run's --env values again (they were never saved); else taken from this environment",
    )
    r.add_argument("--detach", action="store_true", help="resume and return; follow with depthnet attach")
    r.add_argument("--json-events", action="store_true", help="one JSON object per event on stdout")
    r.set_defaults(func=cmd_resume)


def cmd_resume(args: argparse.Namespace) -> int:
    import os

    from specgen.cli.run import follow
    from specgen.engine import registry
    from specgen.engine.backends import backend_class
    from specgen.engine.logparse import display
    from specgen.engine.records import LaunchError, env_pairs
    from specgen.engine.retry import latest_checkpoint, missing_env, relaunch, why_not_resumable

    try:
        record = registry.load(args.run_id)
        given = env_pairs(args.env)
        state = backend_class(record.backend).observe().state(record)
    except (FileNotFoundError, LaunchError) as exc:
        _err(str(exc))
        return 2
    running = record.verdict is None and state.split(" ")[0] in GOING
    why = why_not_resumable(record, running)
    if why is not None:
        _err(display(why))
        return 2
    checkpoint = latest_checkpoint(record.results_dir)
    question = display(  # the verdict's reason may quote a log line: no control byte reaches the terminal
        f"resume run {record.run_id} ({record.verdict.word + ': ' + record.verdict.reason if record.verdict else state})"
        f" from {checkpoint} into {record.results_dir}? TAO keeps the folder's files and adds to them"
    )
    if not args.yes:
        if not sys.stdin.isatty():
            _err(f"{question}: no terminal to ask on; add --yes to resume")
            return 2
        answer = input(f"{question} [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("not resumed: nothing was started", file=sys.stderr)
            return 1
    env = {
        **{k: v for k, v in os.environ.items() if record.relaunch and k in record.relaunch.env_names},
        **given,
    }
    gone = missing_env(record, env)
    if gone:
        print(
            f"note: no value for --env {', '.join(gone)} here (values are never saved): a new process starts "
            "without them (a Slurm requeue keeps the job's own)",
            file=sys.stderr,
        )
    try:
        record, backend = relaunch(record, kind="resume", why="depthnet resume", env=env)
    except LaunchError as exc:
        for line in str(exc).splitlines():
            _err(line)
        return 2
    print(
        f"run {record.run_id} resumed ({backend.describe(record)}) from {checkpoint.name if checkpoint else '-'}; "
        f"results in {record.results_dir}",
        file=sys.stderr,
    )
    if args.detach:
        backend.take(record.run_id).release()
        print(record.run_id)
        return 0
    return follow(record, backend, args.json_events, env=env)
