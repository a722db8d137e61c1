"""One-line problems (``key.path: problem: fix``) and the translation of pydantic errors into them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from specgen.spec.keypaths import loc_to_path, where_it_belongs

Severity = Literal["error", "warning"]


class Problem(BaseModel):
    """A finding about a spec. ``path`` is the dotted key, ``fix`` what the user should do."""

    severity: Severity = "error"
    path: str
    message: str
    fix: str = ""
    #: The data says this run will fail or learn nothing (an empty valid mask → NaN loss): an error that only an
    #: explicit override (--allow-known-failure, or a typed confirmation in the wizard) lets through.
    known_failure: bool = False

    def line(self) -> str:
        head = f"{self.path}: {self.message}"
        tail = f": {self.fix}" if self.fix else ""
        if self.known_failure and self.severity == "error":
            tail += " (to run it anyway: --allow-known-failure)"
        prefix = "" if self.severity == "error" else "warning: "
        return prefix + head + tail


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def from_validation_error(err: ValidationError, model: type[BaseModel], prefix: str = "") -> list[Problem]:
    """Turn each pydantic error into a Problem that names the key and the fix."""
    problems: list[Problem] = []
    for e in err.errors(include_url=False):
        path = prefix + loc_to_path(tuple(e["loc"]))
        kind = e["type"]
        given = e.get("input")
        ctx = e.get("ctx") or {}
        if kind == "extra_forbidden":
            problems.append(Problem(path=path, message="unknown key", fix=where_it_belongs(model, path)))
        elif kind == "missing":
            problems.append(Problem(path=path, message="missing", fix="this key is required here; add it"))
        elif kind in ("literal_error", "enum"):
            expected = str(ctx.get("expected", "")).replace("'", "")
            problems.append(
                Problem(
                    path=path,
                    message=f"{_shown(given)} is not a valid value",
                    fix=f"use one of {expected.replace(' or ', ', ')}",
                )
            )
        elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
            bound = {
                "greater_than_equal": ">=",
                "less_than_equal": "<=",
                "greater_than": ">",
                "less_than": "<",
            }[kind]
            limit = next(iter(ctx.values()), "")
            problems.append(
                Problem(
                    path=path, message=f"{_shown(given)} is out of range", fix=f"use a value {bound} {limit}"
                )
            )
        elif kind.endswith("_parsing") or kind.endswith("_type"):
            wanted = kind.split("_", 1)[0]
            wanted = {
                "int": "an integer",
                "float": "a number",
                "bool": "true or false",
                "string": "a string",
                "list": "a list",
                "dict": "a mapping",
                "model": "a mapping of keys",
            }.get(wanted, wanted)
            problems.append(
                Problem(path=path, message=f"{_shown(given)} has the wrong type", fix=f"give {wanted}")
            )
        elif kind == "value_error":
            text = str(ctx.get("error", e["msg"]))
            message, _, fix = text.partition("; ")
            problems.append(Problem(path=path, message=message, fix=fix))
        else:
            problems.append(Problem(path=path, message=e["msg"], fix=""))
    return problems


class UsageError(Exception):
    """Bad command-line use that argparse cannot see (exit 2). Lives here, not in the CLI module, so sub-command
    modules raise the very class ``main`` catches even when the CLI runs as ``python -m specgen.cli``."""
