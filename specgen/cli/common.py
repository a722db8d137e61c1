"""What every ``depthnet`` command shares: exit codes, error lines, ``--set`` parsing, JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # every command module imports this one: it stays free of pydantic for `depthnet --help`
    from specgen.spec.problems import Finding, Problem

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, allow_nan=True))


def _err(text: str) -> None:
    print(f"depthnet: {text}", file=sys.stderr)


def apply_settings(args: Any, backends: tuple[str, ...]) -> None:
    """Fill the run options left out on the command line (``--backend``, ``--image``, ``--gpus``, ``--network``)
    from the machine's settings (config.yaml, DEPTHNET_*); a setting the command cannot take is one LaunchError."""
    from specgen.engine.records import LaunchError
    from specgen.engine.settings import settings

    conf = settings()
    if args.backend is None and conf.backend is not None:
        if conf.backend not in backends:
            raise LaunchError(f"setting backend {conf.backend!r}: use one of {', '.join(backends)} here")
        args.backend = conf.backend
    args.image = args.image or conf.image
    args.gpus = args.gpus or conf.gpus
    args.network = args.network or conf.network


def _parse_sets(items: Sequence[str] | None) -> dict[str, Any]:
    from specgen.spec.keypaths import parse_assignment
    from specgen.spec.problems import UsageError

    out: dict[str, Any] = {}
    for item in items or ():
        try:
            key, value = parse_assignment(item)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        out[key] = value
    return out


def finding_lines(f: Finding, example_prefix: str = "") -> list[str]:
    """A data finding in the terminal: ``severity: CODE: message``, three examples, the fix."""
    lines = [f"{f.severity}: {f.code}: {f.what}"]
    lines += [f"    {example_prefix}{ex}" for ex in f.examples[:3]]
    if f.fix:
        lines.append(f"    fix: {f.fix}")
    return lines


def problems_to_stderr(problems: list[Problem]) -> None:
    for problem in problems:
        _err(problem.line())
