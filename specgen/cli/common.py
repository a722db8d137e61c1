"""What every ``depthnet`` command shares: exit codes, error lines, ``--set`` parsing, JSON output, and the one
door to the terminal (``safe_output``: everything printed passes the display sanitiser)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any, TextIO, cast

from specgen.spec.display import safe_text

if TYPE_CHECKING:  # every command module imports this one: it stays free of pydantic for `depthnet --help`
    from specgen.spec.problems import Finding, Problem

EXIT_OK, EXIT_PROBLEM, EXIT_USAGE = 0, 1, 2


class _SafeStream:
    """A text stream whose every write passes ``safe_text`` (lines kept): a file name, a kpi key or a log line
    printed by any command shows its escapes, C1 and bidi characters as visible text instead of obeying them.
    Each character is mapped on its own, so a sequence split across two writes is caught as well."""

    def __init__(self, raw: TextIO) -> None:
        self.raw = raw

    def write(self, text: str) -> int:
        self.raw.write(safe_text(text, multiline=True))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, encoding …: the real stream's
        return getattr(self.raw, name)


def _raw(stream: IO[str]) -> IO[str]:
    return stream.raw if isinstance(stream, _SafeStream) else stream


@contextmanager
def safe_output() -> Iterator[None]:
    """For the span of a command, ``sys.stdout`` and ``sys.stderr`` pass the display sanitiser (issue #25 class 7:
    one sanitiser for everything printed). Data a command writes on purpose goes through ``write_data``."""
    saved = sys.stdout, sys.stderr
    sys.stdout = cast(TextIO, _SafeStream(sys.stdout))
    sys.stderr = cast(TextIO, _SafeStream(sys.stderr))
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved


def write_data(text: str) -> None:
    """A document written to stdout on purpose (a rendered spec, a list, a completion script): byte for byte into a
    pipe or a file (``> spec.yaml`` must keep the value it holds), sanitised only when stdout is a terminal."""
    out = _raw(sys.stdout)
    out.write(safe_text(text, multiline=True) if out.isatty() else text)


def progress(text: str, *, last: bool = False) -> None:
    """A live counter on stderr, redrawn in place with a carriage return (ours, so not shown as ``␍``); nothing
    when stderr is not a terminal (a log wants no redraws)."""
    err = _raw(sys.stderr)
    if err.isatty():
        err.write("\r" + safe_text(text) + ("\n" if last else ""))
        err.flush()


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
    """A data finding in the terminal: ``severity: CODE: message``, three examples (one line each, whatever a file
    name holds: a newline in one is shown as ``␊``), the fix."""
    lines = [f"{f.severity}: {f.code}: {f.what}"]
    lines += [f"    {example_prefix}{safe_text(ex)}" for ex in f.examples[:3]]
    if f.fix:
        lines.append(f"    fix: {f.fix}")
    return lines


def problems_to_stderr(problems: list[Problem]) -> None:
    for problem in problems:
        _err(problem.line())
