"""``depthnet verdict RESULTS_DIR``: the honest verdict of a finished run made anywhere (CI, Slurm, by hand)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from specgen.cli.common import EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, _err
from specgen.spec.names import ACTIONS


def register(sub: argparse._SubParsersAction) -> None:
    v = sub.add_parser(
        "verdict",
        help="judge a finished run from its results folder (PASS only if it truly ran)",
        description="The verdict the Run screen would give, for a run made anywhere: exit 0 PASS, "
        "1 FAIL, 2 usage.",
    )
    v.add_argument(
        "results_dir", metavar="RESULTS_DIR", help="the action's results folder (where status.json is)"
    )
    v.add_argument(
        "--log", help="the run's console output, if kept (TAO's interruption and errors are read there)"
    )
    v.add_argument(
        "--exit-code", type=int, help="the exit status of `depth_net` (else TAO's last line stands in)"
    )
    v.add_argument("--action", choices=ACTIONS, help="default: the results folder's name (results/<action>)")
    v.add_argument("--spec", help="the spec the run used (default: experiment.yaml in the results folder)")
    v.add_argument(
        "--json",
        action="store_true",
        help="one JSON object: verdict, reasons, epochs_completed, kpi, nan, interrupted, code, stopped_by, "
        "excerpt",
    )
    v.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="also print the log lines a failure's reason was read from",
    )
    v.set_defaults(func=cmd_verdict)


def cmd_verdict(args: argparse.Namespace) -> int:
    from specgen.engine.monitor import judge_results

    folder = Path(args.results_dir)
    if not folder.is_dir():
        _err(f"{folder}: no such folder (give the action's results folder, where status.json is)")
        return EXIT_USAGE
    action = args.action or next((a for a in ACTIONS if folder.resolve().name.startswith(a)), None)
    if action is None:
        _err(f"{folder}: the folder's name does not say the action; pass --action ({', '.join(ACTIONS)})")
        return EXIT_USAGE
    log_bytes = None
    if args.log:
        try:
            with open(args.log, "rb") as f:
                log_bytes = f.read(256 * 1024 * 1024)  # the verdict needs at most this much of any log
        except OSError as exc:
            _err(f"{args.log}: cannot read the log ({exc.strerror}); fix the path or leave --log out")
            return EXIT_USAGE
    if not (folder / "status.json").is_file() and log_bytes is None:
        _err(
            f"{folder}: no status.json here and no --log: nothing to judge (TAO writes status.json when an action "
            "starts; a spec error leaves only the console log)"
        )
        return EXIT_PROBLEM
    v = judge_results(
        os.fspath(folder), action, log_bytes=log_bytes, exit_code=args.exit_code, spec_path=args.spec
    )
    if args.json:
        print(json.dumps(v.report(), allow_nan=True))
    else:
        print(f"{v.word} — {v.reason}{v.tao_note}")
        for extra in v.reasons[1:]:
            print(f"  also: {extra}")
        if args.verbose and v.excerpt:
            from specgen.engine.logparse import display

            print(f"from the log ({v.code or 'no catalogue entry'}):")
            for line in v.excerpt.splitlines():
                print(f"  | {display(line)}")
    return EXIT_OK if v.passed else EXIT_PROBLEM
