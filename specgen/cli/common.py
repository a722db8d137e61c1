"""What every ``depthnet`` command shares: exit codes, error lines, ``--set`` parsing, JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from specgen.spec.keypaths import parse_assignment
from specgen.spec.problems import Finding, Problem, UsageError

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, allow_nan=True))


def _err(text: str) -> None:
    print(f"depthnet: {text}", file=sys.stderr)


def _parse_sets(items: Sequence[str] | None) -> dict[str, Any]:
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
