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


def write_text_atomic(
    path: str | os.PathLike[str], text: str, *, overwrite: bool = False, mode: int = 0o644
) -> Path:
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


TEMP_MARK = ".depthnet-set-"


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where the system cannot."""
    import ctypes
    import ctypes.util

    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    fn = getattr(libc, "renameat2", None)
    if fn is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    return fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def clean_set_litter(folder: Path) -> None:
    """Remove what an interrupted ``write_set`` left beside ``folder`` (never anything of the user's: the other
    files there were hard links to files that stay in ``folder``)."""
    import shutil

    parent = folder.parent
    if not parent.is_dir():
        return
    for p in parent.glob(f".{folder.name}{TEMP_MARK}*"):
        shutil.rmtree(p, ignore_errors=True)


def write_set(folder: str | os.PathLike[str], files: dict[str, str], *, drop: tuple[str, ...] = ()) -> Path:
    """Replace a set of files in ``folder`` as one unit: after a kill at any moment the folder holds either the old
    set or the new one, never a mix. The new folder is built beside the old (other files hard-linked across), then
    the two are exchanged in one rename. ``drop``: names of the old set that the new one does not have."""
    import shutil
    import tempfile

    target = Path(folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_set_litter(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}{TEMP_MARK}", dir=target.parent))
    try:
        if target.is_dir():
            for entry in os.scandir(target):
                if entry.name in files or entry.name in drop:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    raise IsADirectoryError(
                        f"{target} holds the folder {entry.name}: write annotation files into a "
                        "folder of their own"
                    )
                try:
                    os.link(entry.path, staging / entry.name, follow_symlinks=False)
                except OSError:
                    shutil.copy2(entry.path, staging / entry.name, follow_symlinks=False)
            os.chmod(staging, os.stat(target).st_mode & 0o7777)
        else:
            os.chmod(staging, 0o755)
        for name, text in files.items():
            with open(staging / name, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(staging / name, 0o644)
        dir_fd = os.open(staging, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        if not target.exists():
            os.rename(staging, target)  # nothing was there: one rename publishes the whole set
        elif not _exchange(staging, target):
            for name in files:  # no exchange on this system: file by file (each atomic, the set not)
                os.replace(staging / name, target / name)
            for name in drop:
                with contextlib.suppress(FileNotFoundError):
                    (target / name).unlink()
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # after an exchange this is the old set
    return target
