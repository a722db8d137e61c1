"""Where depthnet-tui keeps its own files, by the XDG base-directory rules (posting's ``locations.py`` is the
model): configuration, run folders, crash reports. One module, so every layer — the engine's run registry, the
wizard's recent folders, the CLI's crash reports — finds the same folders under the same variables."""

from __future__ import annotations

import os
from pathlib import Path

APP = "depthnet-tui"


def _base(variable: str, *fallback: str) -> Path:
    """``$VARIABLE`` when set (and not empty), else the XDG default under the home folder."""
    return Path(os.environ.get(variable) or os.path.join(os.path.expanduser("~"), *fallback))


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/depthnet-tui``: config.yaml, the recent folders, the first-start marker."""
    return _base("XDG_CONFIG_HOME", ".config") / APP


def data_dir() -> Path:
    """``$XDG_DATA_HOME/depthnet-tui``: what the tool made and must keep (run folders)."""
    return _base("XDG_DATA_HOME", ".local", "share") / APP


def state_dir() -> Path:
    """``$XDG_STATE_HOME/depthnet-tui``: what helps afterwards but may be deleted (crash reports)."""
    return _base("XDG_STATE_HOME", ".local", "state") / APP


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/depthnet-tui``: what can be made again."""
    return _base("XDG_CACHE_HOME", ".cache") / APP


def runs_dir() -> Path:
    """One folder per run: run.json, log.txt, the job's spec copy."""
    return data_dir() / "runs"


def crash_dir() -> Path:
    return state_dir() / "crashes"


def config_file() -> Path:
    """The settings file (``specgen.engine.settings``); ``$DEPTHNET_CONFIG_FILE`` names another."""
    named = os.environ.get("DEPTHNET_CONFIG_FILE")
    return Path(named).expanduser() if named else config_dir() / "config.yaml"


__all__ = ["cache_dir", "config_dir", "config_file", "crash_dir", "data_dir", "runs_dir", "state_dir"]
