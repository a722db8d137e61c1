"""``depthnet``: the headless CLI. Exit codes: 0 ok, 1 a problem in the user's input, 2 usage.

One module per command group; each registers its sub-commands on the parser built here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from specgen.cli import after, convert, doctor, run, sample, setup, spec, sweep, verdict
from specgen.cli.common import EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, _err
from specgen.engine.backends import LaunchError
from specgen.job.help import version
from specgen.spec.problems import UsageError

#: Sub-command groups, in the order ``depthnet --help`` lists them.
COMMAND_GROUPS = (setup, sample, spec, convert, doctor, run, sweep, verdict, after)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="depthnet", description="Configure, check and run TAO depth_net (mono) jobs."
    )
    parser.add_argument("--version", action="version", version=f"depthnet {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        _err(str(exc))
        return EXIT_USAGE
    except LaunchError as exc:  # the engine's refusals already say what and why in one line
        _err(str(exc))
        return EXIT_PROBLEM
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except (
        OSError
    ) as exc:  # a path the user gave: a file where a folder should be, no permission, a full disk …
        where = f"{exc.filename}: " if exc.filename else ""
        _err(f"{where}{exc.strerror or exc}; check the path and its permissions")
        return EXIT_PROBLEM
    except Exception as exc:  # never a traceback on the screen
        from specgen.engine.crash import one_line

        _err(one_line(exc, f"depthnet {args.command}"))
        return EXIT_PROBLEM
