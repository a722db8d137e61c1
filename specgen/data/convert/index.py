"""One walk of the data root, shaped exactly like TAO's: which files it sees, with the paths TAO would form.

TAO lists ``data_root`` and runs ``os.walk`` on each entry (default ``followlinks=False``): files directly in
data_root are never matched, symlinked sub-folders are not descended (a symlinked *scene* folder at the top
is, because walking starts on it), unreadable folders are skipped silently. We do the same, with one
``os.scandir`` per folder, but record what TAO skips so the user is told.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import compress
from operator import attrgetter


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building large lists of strings and tuples (none of them cyclic).

    Without it, each generation-0 collection re-walks the growing list: ~30 % of a plan's time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class WalkCancelled(Exception):
    """The walk was cancelled (a newer data root was chosen)."""


@dataclass
class FileIndex:
    data_root: str
    #: (folder, the names of its regular files "\n"-joined) in walk order: TAO's paths are ``folder + "/" + name``.
    #: Kept per folder so a re-match works on short names and builds full paths only for what it shows or writes;
    #: one string per folder, not one per name: a million names cost their characters (~20 MB), not a million
    #: objects (~70 MB more), and a plan splits one folder at a time.
    dirs: list[tuple[str, str]] = field(default_factory=list)
    top_level_files: list[str] = field(default_factory=list)
    top_level_dirs: list[str] = field(default_factory=list)
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    symlink_dirs_skipped: list[str] = field(default_factory=list)
    #: Files whose name holds a newline: no annotation line can list them, and every joined scan splits on it.
    newline_names: list[str] = field(default_factory=list)
    walk_seconds: float = 0.0
    _lookup: set[str] | None = field(default=None, repr=False)
    _by_suffix: dict[str, list[str]] | None = field(default=None, repr=False)  # suffix → files
    _files: list[str] | None = field(default=None, repr=False)
    _names: dict[str, str] | None = field(default=None, repr=False)
    count: int = 0  # files seen (without building their paths)
    #: Plans made from this index. From the second on (the wizard re-matching on a keystroke) the per-folder
    #: name lists and sets are kept, so a re-match neither splits nor hashes the listing again; a single plan
    #: (``depthnet convert``) keeps nothing beyond the listing.
    plans: int = 0
    _ext_names: dict[str, list[tuple[str, list[str]]]] | None = field(default=None, repr=False)
    _sets: dict[str, frozenset[str]] | None = field(default=None, repr=False)
    #: Per-folder answers a re-plan may reuse (the planner's: e.g. "are all its names listable?").
    memo: dict[str, bool] = field(default_factory=dict, repr=False)

    @property
    def files(self) -> list[str]:
        """Every file path TAO's walk sees (built on first use)."""
        if self._files is None:
            self._files = [f"{folder}/{name}" for folder, names in self.dirs for name in names.split("\n")]
        return self._files

    def names_in(self, folder: str) -> set[str] | frozenset[str]:
        """The file names of one walked folder (empty for any other path): a fresh set, not kept, on a first plan;
        kept from a re-plan on."""
        if self._sets is not None:
            kept = self._sets.get(folder)
            if kept is not None:
                return kept
        if self._names is None:
            self._names = dict(self.dirs)
        names = self._names.get(folder)
        if names is None:
            return _EMPTY
        if self.plans < 2:
            return set(names.split("\n"))
        if self._sets is None:
            self._sets = {}
        kept = self._sets[folder] = frozenset(names.split("\n"))
        return kept

    def ending_with(self, suffix: str) -> Iterator[tuple[str, list[str], list[str] | None]]:
        """(folder, its names that end with ``suffix``, all its names or None) for every walked folder that has one.

        Kept per suffix from a re-plan on, so a pattern edit filters these short lists only (then the third is None:
        ``names_in`` has the kept set); on a first plan the folder's whole list comes along, split once."""
        if self._ext_names is not None and suffix in self._ext_names:
            for folder, names in self._ext_names[suffix]:
                yield folder, names, None
            return
        keep: list[tuple[str, list[str]]] | None = [] if self.plans >= 2 else None
        for folder, joined in self.dirs:
            every = joined.split("\n")
            names = [n for n in every if n.endswith(suffix)]
            if names:
                if keep is not None:
                    keep.append((folder, names))
                yield folder, names, every
        if keep is not None:
            if self._ext_names is None:
                self._ext_names = {}
            self._ext_names[suffix] = keep

    @property
    def lookup(self) -> set[str]:
        """Every path TAO's walk sees, for the O(1) pair check (built once, on first use)."""
        if self._lookup is None:
            self._lookup = set(self.files)
        return self._lookup

    def with_suffix(self, suffix: str) -> list[str]:
        """Files whose path ends with ``suffix``: one scan per distinct suffix, then cached.

        Pattern edits re-match only this list; an extension edit costs one more scan.
        """
        if self._by_suffix is None:
            self._by_suffix = {}
        cached = self._by_suffix.get(suffix)
        if cached is None:
            cached = self._by_suffix[suffix] = [f for f in self.files if f.endswith(suffix)]
        return cached

    def __len__(self) -> int:
        return self.count


_EMPTY: frozenset[str] = frozenset()


ProgressFn = Callable[[int, int], None]  # (folders done, files seen)
_name = attrgetter("name")
_is_file = os.DirEntry.is_file


#: Listing a folder through a descriptor spares building every entry's full path (~10-25 % of the walk at 1M files).
_BY_FD = os.scandir in os.supports_fd and hasattr(os, "O_DIRECTORY")


def _list(folder: str) -> tuple[list[str], list[tuple[str, bool]]]:
    """The names of ``folder``'s regular files (is_file() alone settles a file: FIFOs, devices are never data) and
    its sub-folders as (path, is a symlink). The descriptor stays open while the types are read: an entry whose
    type needs a stat (a filesystem without d_type) stats through it."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY) if _BY_FD else None
    try:
        with os.scandir(folder if fd is None else fd) as it:
            entries = list(it)
        try:  # C-speed passes for the common case
            kinds = list(map(_is_file, entries))
            names = list(map(_name, entries))  # a file's path is folder + "/" + name, as os.walk forms it
            dirs = []
            if not all(kinds):
                dirs = [e for e in compress(entries, [not k for k in kinds]) if e.is_dir()]
                names = list(compress(names, kinds))
        except OSError:  # an entry whose type needs a stat that fails: the careful way
            names, dirs = [], []
            for entry in entries:
                try:
                    if entry.is_file():
                        names.append(entry.name)
                    elif entry.is_dir():
                        dirs.append(entry)
                except OSError:
                    continue
        return names, [(os.path.join(folder, e.name), e.is_symlink()) for e in dirs]
    finally:
        if fd is not None:
            os.close(fd)


def build_index(
    data_root: str,
    *,
    cancel: threading.Event | None = None,
    progress: ProgressFn | None = None,
    progress_every: int = 256,
) -> FileIndex:
    """Walk ``data_root`` as TAO's convert does. Raises NotADirectoryError/FileNotFoundError for a bad root."""
    with gc_paused():
        return _walk(data_root, cancel, progress, progress_every)


def _walk(
    data_root: str, cancel: threading.Event | None, progress: ProgressFn | None, progress_every: int
) -> FileIndex:
    start = time.perf_counter()
    index = FileIndex(data_root=data_root)
    try:
        top = list(os.scandir(data_root))
    except FileNotFoundError:
        raise FileNotFoundError(f"{data_root}: no such folder; choose an existing data root") from None
    except NotADirectoryError:
        raise NotADirectoryError(
            f"{data_root}: is a file, not a folder; choose the folder that holds the scene folders"
        ) from None
    except PermissionError:
        raise PermissionError(f"{data_root}: permission denied; choose a folder you can read") from None

    add_folder = index.dirs.append
    stack: list[str] = []
    for entry in top:
        path = os.path.join(data_root, entry.name)
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if is_dir:
            index.top_level_dirs.append(path)
            stack.append(path)  # os.walk(top) follows a symlinked top itself
        else:
            index.top_level_files.append(path)

    done = 0
    while stack:
        if cancel is not None and cancel.is_set():
            raise WalkCancelled(data_root)
        folder = stack.pop()
        try:
            names, subdirs = _list(folder)
        except OSError as exc:
            index.unreadable.append((folder, exc.strerror or exc.__class__.__name__))
            continue
        for path, is_link in subdirs:
            if is_link:
                index.symlink_dirs_skipped.append(path)
            else:
                stack.append(path)
        joined = "\n".join(names)
        # one C-speed scan: a name with a newline (more joiners than names less one) is set aside, named
        if names and joined.count("\n") >= len(names):
            index.newline_names += [f"{folder}/{n}" for n in names if "\n" in n]
            names = [n for n in names if "\n" not in n]
            joined = "\n".join(names)
        if names:
            add_folder((folder, joined))
            index.count += len(names)
        done += 1
        if progress is not None and done % progress_every == 0:
            progress(done, index.count)
    if progress is not None:
        progress(done, index.count)
    index.walk_seconds = time.perf_counter() - start
    return index
