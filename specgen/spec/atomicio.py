"""Atomic writes that never clobber what the user owns without an explicit yes."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


class RefusedOverwrite(FileExistsError):
    """The target exists and the caller did not allow overwriting it."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} already exists; pass --force (or confirm) to replace it")
        self.path = path


def write_text_atomic(path: str | os.PathLike[str], text: str, *, overwrite: bool = False, mode: int = 0o644) -> Path:
    """Write via a temp file in the same folder, then rename; readers never see half a file.

    Without ``overwrite`` the final step is a hard link, which fails if the name appeared meanwhile.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not overwrite and target.exists():
        raise RefusedOverwrite(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)  # set before the name appears: a private file is never readable by others
        if overwrite:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)
            except FileExistsError:
                raise RefusedOverwrite(target) from None
            except OSError:  # filesystems without hard links
                if target.exists():
                    raise RefusedOverwrite(target) from None
                os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return target
