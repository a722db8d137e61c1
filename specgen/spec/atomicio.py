"""The one place files are written: atomic, never through a link, never clobbering what the user owns without an
explicit yes.

Every file the product writes goes through here (``tests/hostile/test_files.py`` greps the tree for any other
write). The rules:

- **whole files** (run.json, session.json, specs, scripts, crash reports, images): a temp file in the same folder
  (``mkstemp``: ``O_CREAT | O_EXCL``, so never an existing name or a planted link), written, fsynced, then
  ``os.replace``'d over the name — or hard-linked, when overwriting was not allowed, so a name that appeared
  meanwhile is refused. A target that is a symbolic link, a FIFO, a device or a folder is refused
  (:class:`UnsafeTarget`), even with ``overwrite``: replacing a link the user made is not what they asked for, and
  writing through it would change a file they never named. A target owned by another user is refused too;
- **a set of files** (convert's train/val/test + report): :func:`write_set`, built beside the folder and swapped in
  with one rename — all of the set or none of it;
- **files kept open** (the results-folder lock, a run's console log): :func:`open_owned` — ``O_NOFOLLOW``,
  ``O_NONBLOCK`` (a FIFO never blocks the open), then ``fstat`` on what was opened: a regular file, ours, with one
  name (a hard link to a user's file would be emptied by a truncation);
- **bounded reads** of files the tool keeps (an exit code, a record): :func:`read_bounded` — a FIFO or ``/dev/zero``
  named there is refused before anything is read, and no more than the limit is ever read.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO


class RefusedOverwrite(FileExistsError):
    """The target exists and the caller did not allow overwriting it."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} already exists; pass --force (or confirm) to replace it")
        self.path = path


class UnsafeTarget(OSError):
    """A name the tool would write or read that is not a plain file of ours: a symbolic link, a FIFO, a device, a
    folder, a file of another user or with a second name, a file far too large. ``what`` says what it is
    ("is a symbolic link (to …)"), ``fix`` what to do; ``str()`` is one line: the path, what it is, the fix."""

    def __init__(self, path: str | os.PathLike[str], what: str, fix: str, code: int = errno.EPERM) -> None:
        super().__init__(code, f"{what}: {fix}", os.fspath(path))
        self.what, self.fix = what, fix

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _refuse_link(path: Path, st: os.stat_result) -> UnsafeTarget:
    if stat.S_ISLNK(st.st_mode):
        try:
            where = f" (to {os.readlink(path)})"
        except OSError:
            where = ""
        return UnsafeTarget(
            path,
            f"is a symbolic link{where}",
            "refusing to write through it or replace it; remove the link or name the real file",
        )
    return UnsafeTarget(
        path, f"is {_kind(st.st_mode)}, not a file", "refusing to write it; choose another name"
    )


def check_target(path: str | os.PathLike[str], *, replacing: bool = True) -> bool:
    """Whether ``path`` exists as a name; raise UnsafeTarget when it is anything but a regular file (a link —
    dangling or not —, a FIFO, a device, a folder), and, when ``replacing`` it, when it is another user's."""
    p = Path(path)
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(st.st_mode):
        raise _refuse_link(p, st)
    if replacing and st.st_uid != os.geteuid():
        raise UnsafeTarget(
            p, f"belongs to uid {st.st_uid}, not you", "refusing to replace it; choose another name"
        )
    return True


def write_text_atomic(
    path: str | os.PathLike[str], text: str, *, overwrite: bool = False, mode: int = 0o644
) -> Path:
    """Write via a temp file in the same folder, then rename; readers never see half a file.

    Without ``overwrite`` the final step is a hard link, which fails if the name appeared meanwhile. A link, FIFO,
    device or another user's file at ``path`` is refused (UnsafeTarget) whatever ``overwrite`` says.
    """
    return write_bytes_atomic(path, text.encode("utf-8"), overwrite=overwrite, mode=mode)


def write_bytes_atomic(
    path: str | os.PathLike[str], data: bytes, *, overwrite: bool = False, mode: int = 0o644
) -> Path:
    """``write_text_atomic`` for bytes."""
    with atomic_writer(path, overwrite=overwrite, mode=mode) as handle:
        handle.write(data)
    return Path(path)


@contextlib.contextmanager
def atomic_writer(
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    mode: int = 0o644,
    check: Callable[[str], object] | None = None,
) -> Iterator[IO[bytes]]:
    """A binary file object to write ``path`` through (for writers that want one: Pillow, zipfile): the bytes go to
    a temp file beside it, published in one rename when the block ends without an error, thrown away when it
    raises. ``check(temp path)``, when given, looks at the written file before it is published (raising keeps the
    old file). Same rules as ``write_text_atomic``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if check_target(target, replacing=overwrite) and not overwrite:
        raise RefusedOverwrite(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)  # set before the name appears: a private file is never readable by others
        if check is not None:
            check(tmp)
        _publish(tmp, target, overwrite)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _publish(tmp: str, target: Path, overwrite: bool) -> None:
    if overwrite:
        check_target(target)  # once more, just before: a link planted meanwhile is refused, not replaced
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise RefusedOverwrite(target) from None
    except OSError:  # filesystems without hard links
        if os.path.lexists(target):
            raise RefusedOverwrite(target) from None
        os.replace(tmp, target)


#: What ``open_owned`` opens with: never through a link, never blocking on a FIFO, never a controlling terminal.
_SAFE_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


def open_owned(path: str | os.PathLike[str], *, truncate: bool = False, mode: int = 0o644) -> int:
    """A descriptor (read-write) on ``path``, a file the tool keeps open: created when missing (``O_EXCL``), else
    opened without following a link and checked on what was opened (``fstat``) — a regular file, owned by us, with
    one name. ``truncate`` empties it only after those checks. UnsafeTarget otherwise."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_EXCL | _SAFE_FLAGS, mode)
    except FileExistsError:
        try:
            fd = os.open(p, os.O_RDWR | _SAFE_FLAGS)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.EMLINK):
                raise _refuse_link(p, os.lstat(p)) from None
            # a FIFO with no reader, a folder, a socket
            if exc.errno in (errno.ENXIO, errno.EISDIR, errno.ENODEV):
                raise _refuse_link(p, os.lstat(p)) from None
            raise
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise _refuse_link(p, st)
            if st.st_uid != os.geteuid():
                raise UnsafeTarget(
                    p, f"belongs to uid {st.st_uid}, not you", "refusing to write it; remove it"
                )
            if st.st_nlink != 1:
                raise UnsafeTarget(
                    p,
                    f"has {st.st_nlink} names (a hard link to another file)",
                    "refusing to write it; remove it",
                )
        except BaseException:
            os.close(fd)
            raise
    os.set_blocking(fd, True)
    if truncate:
        os.ftruncate(fd, 0)
    return fd


def open_log(path: str | os.PathLike[str]) -> IO[bytes]:
    """A console log to write from the start (``open_owned``, emptied), as a binary file object."""
    return os.fdopen(open_owned(path, truncate=True), "wb")


def open_regular(path: str | os.PathLike[str]) -> IO[bytes]:
    """``path`` opened for reading, only when it is a regular file: a FIFO or device named there is refused before a
    byte is read (``O_NONBLOCK`` open, ``fstat``), so a reader never blocks or reads without end."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeTarget(path, f"is {_kind(st.st_mode)}, not a file", "refusing to read it; remove it")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def read_bounded(path: str | os.PathLike[str], limit: int) -> bytes:
    """A small file the tool keeps (an exit code, a record): refused when it is not a regular file or is larger than
    ``limit`` bytes (UnsafeTarget) — never more than ``limit`` bytes read."""
    with open_regular(path) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise UnsafeTarget(
            path,
            f"is larger than {limit} bytes (far more than it should hold)",
            "refusing to read it; remove it",
        )
    return data


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


def check_folder(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder`` exists; UnsafeTarget when the name is a symbolic link (a set is never written through
    one: the swap would replace the link, the files would land elsewhere) or anything but a folder."""
    target = Path(folder)
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeTarget(
            target,
            f"is a symbolic link (to {os.readlink(target)})",
            f"refusing to write the files through it; name the real folder ({os.path.realpath(target)})",
        )
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafeTarget(target, f"is {_kind(st.st_mode)}, not a folder", "choose a folder for the files")
    return True


def write_set(
    folder: str | os.PathLike[str], files: Mapping[str, str | Iterable[str]], *, drop: tuple[str, ...] = ()
) -> Path:
    """Replace a set of files in ``folder`` as one unit: after a kill at any moment the folder holds either the old
    set or the new one, never a mix. The new folder is built beside the old (other files hard-linked across), then
    the two are exchanged in one rename. ``drop``: names of the old set that the new one does not have. A file's text
    may come as chunks (an iterable of str), written as they come: convert's million-line splits need not exist whole."""
    import shutil
    import tempfile

    target = Path(folder)
    check_folder(target)
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
            # a fresh name in a fresh folder: "x" (O_EXCL) says so
            with open(staging / name, "x", encoding="utf-8", newline="\n") as f:
                if isinstance(text, str):
                    f.write(text)
                else:
                    f.writelines(text)
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
