"""What every ``depthnet`` command shares: exit codes, error lines, ``--set`` parsing, JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # every command module imports this one: it stays free of pydantic for `depthnet --help`
    from specgen.spec.problems import Problem

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, allow_nan=True))


def _err(text: str) -> None:
    print(f"depthnet: {text}", file=sys.stderr)


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


def problems_to_stderr(problems: list[Problem]) -> None:
    for problem in problems:
        _err(problem.line())
