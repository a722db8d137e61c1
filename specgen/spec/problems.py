"""One finding with a fix, for every layer: a spec key that is wrong, a convert pitfall, the data doctor's
verdict on depth files, a dataset/model pairing that cannot work, a preflight refusal — all ``Finding``. Rendered
once per face: ``line()`` for a terminal (``key.path: problem: fix``), ``tui/widgets/findings.py`` for the app;
and the translation of pydantic errors into them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)

from specgen.spec.keypaths import loc_to_path, where_it_belongs

Severity = Literal["error", "warning", "info"]


class Finding(BaseModel):
    """What is wrong (``what``), where (``where``: a dotted spec key, or "" for the data as a whole), how bad
    (``severity``) and what to do (``fix``). Data findings also carry a stable ``code`` (EMPTY_MASK, …), a few
    ``examples`` (files) and an ``autofix`` the UI can apply (option or key → value); a preflight finding may be
    ``confirmable`` (an explicit yes launches anyway).

    The older names are accepted (``path`` for ``where``, ``message`` for ``what``) and read back as properties; the
    JSON of a finding keeps the keys each command has always printed (``depthnet validate --json``: severity, path,
    message, fix, known_failure; ``doctor`` / ``convert --json``: code, severity, message, examples, fix, autofix)."""

    model_config = ConfigDict(populate_by_name=True)

    severity: Severity = "error"
    where: str = Field(default="", validation_alias=AliasChoices("where", "path"))
    what: str = Field(validation_alias=AliasChoices("what", "message"))
    fix: str = ""
    code: str = ""
    examples: list[str] = Field(default_factory=list)
    #: A one-key fix the UI can apply: option name (or spec key) → new value.
    autofix: dict[str, Any] | None = None
    #: The data says this run will fail or learn nothing (an empty valid mask → NaN loss): an error that only an
    #: explicit override (--allow-known-failure, or a typed confirmation in the wizard) lets through.
    known_failure: bool = False
    #: A preflight finding that an explicit yes (--force) may override.
    confirmable: bool = False

    if TYPE_CHECKING:  # what the constructor accepts (pydantic's mypy plugin cannot read AliasChoices)

        def __init__(
            self,
            *,
            severity: Severity = "error",
            where: str = "",
            path: str = "",
            what: str = "",
            message: str = "",
            fix: str = "",
            code: str = "",
            examples: list[str] | None = None,
            autofix: dict[str, Any] | None = None,
            known_failure: bool = False,
            confirmable: bool = False,
        ) -> None: ...

    @property
    def path(self) -> str:
        return self.where

    @property
    def message(self) -> str:
        return self.what

    def line(self) -> str:
        """The terminal's one line: ``[warning: ]key.path: problem: fix``."""
        head = f"{self.where}: {self.what}" if self.where else self.what
        tail = f": {self.fix}" if self.fix else ""
        if self.known_failure and self.severity == "error":
            tail += " (to run it anyway: --allow-known-failure)"
        prefix = "" if self.severity == "error" else f"{self.severity}: "
        return prefix + head + tail

    def __str__(self) -> str:
        return self.line()

    @model_serializer(mode="wrap")
    def _keys_as_printed(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        keys: tuple[str, ...]
        if self.code:  # a finding about the data
            keys = ("code", "severity", "what", "examples", "fix", "autofix")
        else:  # a finding about a key of the spec
            keys = ("severity", "where", "what", "fix", "known_failure")
        names = {"where": "path", "what": "message"}
        return {names.get(k, k): data[k] for k in keys if k in data}


#: The name most modules know a spec finding by.
Problem = Finding


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
