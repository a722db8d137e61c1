"""``depthnet``: the headless CLI. Exit codes: 0 ok, 1 a problem in the user's input, 2 usage.

One module per command group; each registers its sub-commands on the parser built here. Every command module is
cheap to import (argparse, the standard library and ``specgen.spec.names``): what a command needs is imported by
its ``cmd_*`` function when it runs, so ``depthnet --help`` or a shell completion pays for the parser only.
``tests/test_cli_start.py`` holds that line. A new group is one more name in ``COMMAND_GROUPS`` (and the import).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from specgen.cli import (
    after,
    analyze,
    completion,
    convert,
    doctor,
    resume,
    run,
    sample,
    setup,
    spec,
    sweep,
    verdict,
    weights,
)
from specgen.cli.common import EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, _err, safe_output

#: Sub-command groups, in the order ``depthnet --help`` lists them. Each has ``register(sub)``.
COMMAND_GROUPS = (
    setup,
    sample,
    spec,
    convert,
    doctor,
    run,
    resume,
    sweep,
    verdict,
    weights,
    after,
    analyze,
    completion,
)

#: What ``depthnet`` alone prints: the first steps, in order (tests/test_cli_start.py checks each parses).
START_HERE = (
    ("depthnet setup", "check Docker, the GPUs and the TAO images on this machine"),
    ("depthnet sample-data demo/data", "a small RGB-D dataset to try everything on"),
    ("depthnet-tui", "the guided wizard: data folder → annotation files → checks → spec → run"),
    (
        "depthnet spec train --data-file demo/ann/train.txt --results-dir demo/results -o demo/train.yaml",
        "or headless: a validated train spec (annotation files from `depthnet convert`)",
    ),
    ("depthnet run train -e demo/train.yaml", "launch it and follow it to an honest verdict"),
)


class _VersionAction(argparse.Action):
    """``--version``, with the version read from the installed metadata only when asked (it costs an import)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="show the version")

    def __call__(self, parser: argparse.ArgumentParser, *_args: object, **_kwargs: object) -> None:
        from specgen.spec.names import package_version

        print(f"depthnet {package_version()}")  # on stdout, as argparse's own version action
        parser.exit()


#: Commands that read the whole parser (the shell completion describes every command and flag).
WHOLE_PARSER = frozenset({"completion"})


class _Absorb:
    """Takes any parser call and does nothing: the arguments of a command this call does not run."""

    def __getattr__(self, _name: str) -> Any:
        return lambda *_a, **_k: self


class _OnlyOne:
    """The sub-parsers action as a command group's ``register`` sees it, when one command runs: that command gets
    its real parser; every other is listed (name and help, for ``--help`` and "invalid choice") without its
    arguments, which argparse would otherwise build for every call (~19 ms, a sixth of ``depthnet --help``)."""

    def __init__(self, sub: argparse._SubParsersAction, wanted: str) -> None:
        self.sub, self.wanted = sub, wanted

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        if name == self.wanted:
            return self.sub.add_parser(name, **kwargs)
        self.sub.add_parser(name, help=kwargs.get("help"), add_help=False)
        return _Absorb()


def _command_of(argv: Sequence[str]) -> str | None:
    """The command word of ``argv`` (the first that is not an option: the top level has options without values)."""
    return next((word for word in argv if not word.startswith("-")), None)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with ``only``, the arguments of that one command (the others listed by name and help)."""
    parser = argparse.ArgumentParser(
        prog="depthnet", description="Configure, check and run TAO depth_net (mono) jobs."
    )
    parser.add_argument("--version", action=_VersionAction)
    parser.set_defaults(root_parser=parser)  # for `depthnet completion`, which describes the whole parser
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    target: Any = sub if only is None or only in WHOLE_PARSER else _OnlyOne(sub, only)
    for group in COMMAND_GROUPS:
        group.register(target)
    return parser


def start_here() -> str:
    lines = ["depthnet: configure, check and run TAO depth_net jobs. Start here:"]
    for cmd, what in START_HERE:
        lines += [f"  {cmd}", f"      {what}"]
    lines.append(
        "All commands: depthnet --help · one command: depthnet COMMAND --help · topics: depthnet help"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    with safe_output():  # every character printed passes the display sanitiser (specgen/spec/display.py)
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command_of(words) or "")
    args = parser.parse_args(words)
    if args.command is None:  # `depthnet` alone: the first steps, not a usage error
        print(start_here())
        return EXIT_OK
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except Exception as exc:  # never a traceback on the screen
        return _failed(exc, parser, args.command)


def _failed(exc: Exception, parser: argparse.ArgumentParser, command: str) -> int:
    """One line for what went wrong. The error types are imported here: one that was raised is loaded already."""
    from specgen.engine.backends import LaunchError
    from specgen.spec.problems import UsageError

    if isinstance(exc, UsageError):
        parser.print_usage(sys.stderr)
        _err(str(exc))
        return EXIT_USAGE
    if isinstance(exc, LaunchError):  # the engine's refusals already say what and why in one line
        _err(str(exc))
        return EXIT_PROBLEM
    if isinstance(exc, BrokenPipeError):
        return EXIT_OK
    if isinstance(
        exc, OSError
    ):  # a path the user gave: a file where a folder should be, no permission, a full disk …
        where = f"{exc.filename}: " if exc.filename else ""
        _err(f"{where}{exc.strerror or exc}; check the path and its permissions")
        return EXIT_PROBLEM
    from specgen.engine.crash import one_line

    _err(one_line(exc, f"depthnet {command}"))
    return EXIT_PROBLEM
