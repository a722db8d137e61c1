"""``~/.tao_mounts.json``, read once and by the ``tao`` launcher's rules (facts §10): top-level keys ``Mounts``
(required: a list of ``{"source", "destination"}``, each source existing), ``Envs`` (``{"variable", "value"}``) and
``DockerOptions`` (``user``, ``ports``, ``shm_size``, ``ulimits``, ``privileged``, ``network``, ``tty``).

Two callers, one reader: ``depthnet setup`` checks the file strictly (the first rule it breaks, with the fix, as the
launcher would refuse it), while a Docker launch reads it leniently (``strict=False``): the person's extra mounts and
variables are honoured and an entry the launcher would refuse is skipped rather than blocking the run — only a file
that is not JSON at all stops it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from specgen.engine.records import LaunchError

KEYS = ("Mounts", "Envs", "DockerOptions")
DOCKER_OPTIONS = frozenset({"user", "ports", "shm_size", "ulimits", "privileged", "network", "tty"})


class TaoMountsError(LaunchError):
    """The file breaks one of the launcher's rules: ``detail`` says which, ``fix`` what to do."""

    def __init__(self, detail: str, fix: str) -> None:
        super().__init__(f"{detail}; {fix}")
        self.detail, self.fix = detail, fix


class Mount(BaseModel):
    source: str
    destination: str


class TaoMounts(BaseModel):
    path: str
    present: bool = False
    mounts: list[Mount] = Field(default_factory=list)
    envs: dict[str, str] = Field(default_factory=dict)
    docker_options: dict[str, Any] = Field(default_factory=dict)


def default_path() -> Path:
    return Path.home() / ".tao_mounts.json"


def read_tao_mounts(path: str | os.PathLike[str] | None = None, *, strict: bool = True) -> TaoMounts:
    """The file's mounts, variables and Docker options (empty when there is no file). ``strict``: raise
    TaoMountsError at the first rule broken; else skip what the launcher would refuse (invalid JSON still raises)."""
    p = Path(path) if path else default_path()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return TaoMounts(path=str(p))
    except OSError as exc:
        raise TaoMountsError(f"{p}: cannot be read ({exc.strerror})", f"fix {p} or move it away") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        if not strict:
            raise LaunchError(f"{p}: not valid JSON ({exc}); fix or move it") from None
        raise TaoMountsError(
            f"{p}: not valid JSON ({exc.__class__.__name__})", f"fix {p} or move it away"
        ) from None
    if not isinstance(data, dict):
        if not strict:
            return TaoMounts(path=str(p), present=True)
        raise TaoMountsError(
            f"{p}: the top level must be an object",
            '{"Mounts": [{"source": "/data", "destination": "/data"}]}',
        )
    return _fold(p, data, strict)


def _fold(p: Path, data: dict[str, Any], strict: bool) -> TaoMounts:
    def refuse(detail: str, fix: str) -> None:
        if strict:
            raise TaoMountsError(f"{p}: {detail}", fix)

    extra = sorted(set(data) - set(KEYS))
    if extra:
        refuse(
            f"key {extra[0]!r} is not allowed (the launcher raises KeyError)",
            f"remove {extra[0]!r}; allowed: Mounts, Envs, DockerOptions",
        )
    raw_mounts = data.get("Mounts")
    if not isinstance(raw_mounts, list):
        refuse("Mounts is required (a list)", '"Mounts": [{"source": "/data", "destination": "/data"}]')
        raw_mounts = []
    found = TaoMounts(path=str(p), present=True)
    for i, m in enumerate(raw_mounts):
        if not isinstance(m, dict) or not m.get("source") or not m.get("destination"):
            refuse(f"Mounts[{i}] needs source and destination", '{"source": "/data", "destination": "/data"}')
            continue
        if not Path(str(m["source"])).exists():
            refuse(
                f"Mounts[{i}].source {m['source']} does not exist (the launcher raises ValueError)",
                "create it or remove the entry",
            )
            if strict:
                continue
        found.mounts.append(Mount(source=str(m["source"]), destination=str(m["destination"])))
    for e in data.get("Envs") or []:
        if isinstance(e, dict) and "variable" in e and "value" in e:
            found.envs[str(e["variable"])] = str(e["value"])
    options = data.get("DockerOptions") or {}
    if isinstance(options, dict):
        bad = sorted(set(options) - DOCKER_OPTIONS)
        if bad:
            refuse(f"DockerOptions.{bad[0]} is not allowed", f"allowed: {', '.join(sorted(DOCKER_OPTIONS))}")
        found.docker_options = {k: v for k, v in options.items() if k in DOCKER_OPTIONS}
    return found


__all__ = ["Mount", "TaoMounts", "TaoMountsError", "read_tao_mounts"]
