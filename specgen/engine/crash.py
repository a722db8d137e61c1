"""Unexpected errors: one short line for the person, the whole traceback in a crash report file (never on screen)."""

from __future__ import annotations

import os
import platform
import sys
import time
import traceback
from pathlib import Path

from specgen.spec.atomicio import write_text_atomic
from specgen.spec.locations import crash_dir


def save_report(error: BaseException, where: str) -> Path | None:
    """Write the traceback and what ran to a new file; None when even that fails (read-only home)."""
    try:
        folder = crash_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
        text = (
            f"depthnet-tui crash report ({where})\ncommand: {' '.join(sys.argv)}\npython: {sys.version}\n"
            f"platform: {platform.platform()}\n\n" + "".join(traceback.format_exception(error))
        )
        return write_text_atomic(
            path, text, mode=0o600
        )  # private from the moment it exists, never via a link
    except OSError:
        return None


def one_line(error: BaseException, where: str) -> str:
    path = save_report(error, where)
    saved = f"; details saved in {path} (attach it to a bug report)" if path else ""
    text = str(error).splitlines()[0][:300] if str(error) else ""
    return f"unexpected error: {error.__class__.__name__}" + (f": {text}" if text else "") + saved
