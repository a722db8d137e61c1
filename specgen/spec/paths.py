"""Where TAO puts an action's outputs, and free names beside taken ones (no file is ever overwritten)."""

from __future__ import annotations

import os
import posixpath
from typing import Any

from specgen.spec.keypaths import get_path_or_none as get_path
from specgen.spec.schema import ExperimentSpec


def action_results_dir(data: dict[str, Any] | ExperimentSpec, action: str) -> str:
    """TAO's rule: ``<action>.results_dir`` wins, else ``<results_dir>/<action>``."""
    if isinstance(data, ExperimentSpec):
        data = data.model_dump()
    own = get_path(data, f"{action}.results_dir")
    return own or posixpath.join(data.get("results_dir") or "", action)


def free_path(path: str) -> str:
    """``path`` when nothing is there, else the first ``<stem>_2<suffix>``, ``_3`` … that is free."""
    if not os.path.lexists(path):
        return path
    stem, suffix = os.path.splitext(path)
    n = 2
    while os.path.lexists(f"{stem}_{n}{suffix}"):
        n += 1
    return f"{stem}_{n}{suffix}"


def free_results_dir(path: str) -> str:
    """A results folder that holds no run yet (status.json is appended across runs, outputs mixed)."""
    if not os.path.exists(os.path.join(path, "status.json")):
        return path
    n = 2
    while os.path.exists(os.path.join(f"{path}_{n}", "status.json")):
        n += 1
    return f"{path}_{n}"
