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
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import compress, repeat
from operator import attrgetter, not_


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
    #: name lists of the extensions in use are kept, so a re-match neither splits the listing again nor filters
    #: it by extension; a single plan (``depthnet convert``) keeps nothing beyond the listing.
    plans: int = 0
    #: suffix → ([(folder, its names that end with it, those names "\n"-joined)] in walk order; folder → the same
    #: names: the depth-existence check's), kept from a re-plan on. One entry per suffix, set in one assignment:
    #: the wizard may start a plan while a cancelled one still runs in its thread, on the same index.
    _ext_names: dict[str, tuple[list[tuple[str, list[str], str]], dict[str, list[str]]]] = field(
        default_factory=dict, repr=False
    )
    #: Per-folder answers a re-plan may reuse (the planner's: e.g. "are all its names listable?").
    memo: dict[tuple[str, str], bool] = field(default_factory=dict, repr=False)
    #: (folder, depth extension) → (the last derived depth names looked up there, "\n"-joined; which of them exist;
    #: the last such names that all exist, or ""). A plan whose derived names are one of these (an edit that changes
    #: the patterns but not what they derive, an edit undone, the right depth pattern typed again) reads the answer
    #: instead of hashing every name again. Holds strings that plans hold anyway, two per folder at most.
    derived_memo: dict[tuple[str, str], tuple[str, bytes, str]] = field(default_factory=dict, repr=False)
    _head_exts: Counter[str] | None = field(default=None, repr=False)
    _lengths: dict[tuple[str, str], frozenset[int]] = field(default_factory=dict, repr=False)

    @property
    def files(self) -> list[str]:
        """Every file path TAO's walk sees (built on first use)."""
        if self._files is None:
            self._files = [f"{folder}/{name}" for folder, names in self.dirs for name in names.split("\n")]
        return self._files

    def first_files(self, n: int) -> list[str]:
        """The first ``n`` paths of ``files``, without building the rest (a no-match message's examples)."""
        if self._files is not None:
            return self._files[:n]
        out: list[str] = []
        for folder, names in self.dirs:
            out += [f"{folder}/{name}" for name in names.split("\n", n - len(out))[: n - len(out)]]
            if len(out) >= n:
                break
        return out

    def head_extensions(self) -> Counter[str]:
        """How often each extension (``os.path.splitext``) ends the first 20 000 paths: the no-match hint, counted
        once per index (a keystroke that matches nothing would otherwise split 20 000 paths twice)."""
        if self._head_exts is None:
            self._head_exts = Counter(os.path.splitext(f)[1] for f in self.first_files(20000))
        return self._head_exts

    def any_path_ends_with(self, suffix: str) -> bool:
        """Does some path of ``files`` end with ``suffix``? Answered on the joined listings when the suffix holds no
        '/' (then it ends the name itself) and no newline (then it cannot span two names)."""
        if "/" in suffix or "\n" in suffix or not suffix:
            return any(f.endswith(suffix) for f in self.files)
        tail = suffix + "\n"
        return any(tail in names or names.endswith(suffix) for _folder, names in self.dirs)

    def any_path_contains(self, text: str) -> bool:
        """Does some path of ``files`` contain ``text``? Answered per folder, as the planner matches: text without
        '/' is in the folder or in a name; ``A/B`` (B after its last '/') in ``folder + "/"``, or the folder ends
        with A and a name starts with B."""
        if "\n" in text:
            return any(text in f for f in self.files)
        if "/" not in text:
            return any(text in folder or text in names for folder, names in self.dirs)
        a, _, b = text.rpartition("/")
        start = "\n" + b
        return any(
            text in folder + "/" or (folder.endswith(a) and (names.startswith(b) or start in names))
            for folder, names in self.dirs
        )

    def names_in(self, folder: str) -> list[str]:
        """All the file names of one walked folder (empty for any other path), split afresh: a first plan's."""
        if self._names is None:
            self._names = dict(self.dirs)
        names = self._names.get(folder)
        return [] if names is None else names.split("\n")

    def named(self, folder: str, suffix: str) -> list[str]:
        """The names in ``folder`` that end with ``suffix``, from the kept lists (``ending_with`` keeps them)."""
        if suffix not in self._ext_names:
            self._shelve((suffix,))
        return self._ext_names[suffix][1].get(folder) or []

    def name_lengths(self, folder: str, suffix: str) -> frozenset[int]:
        """The lengths of ``named(folder, suffix)``, counted once: a derived name of any other length is no file
        there (a keystroke on the way to the right depth pattern derives names of the wrong length, mostly)."""
        key = (folder, suffix)
        got = self._lengths.get(key)
        if got is None:
            got = self._lengths[key] = frozenset(map(len, self.named(folder, suffix)))
        return got

    def ending_with(self, suffix: str, *also: str) -> Iterator[tuple[str, list[str], str, list[str] | None]]:
        """(folder, its names that end with ``suffix``, those names "\n"-joined, all its names or None) for every
        walked folder that has one.

        From a re-plan on, the lists are kept per suffix (and for the suffixes in ``also``, split in the same pass):
        a pattern edit filters these short lists only, and the fourth is None (``named`` has the kept lists). On a
        first plan the folder's whole list comes along, split once, and nothing is kept."""
        if self.plans < 2:
            for folder, joined in self.dirs:
                every = joined.split("\n")
                names = [n for n in every if n.endswith(suffix)]
                if names:
                    yield folder, names, joined if len(names) == len(every) else "\n".join(names), every
            return
        if suffix not in self._ext_names:
            self._shelve((suffix, *also))
        for folder, names, joined in self._ext_names[suffix][0]:
            yield folder, names, joined, None

    def _shelve(self, suffixes: tuple[str, ...]) -> None:
        """Keep, for each suffix not kept yet, every folder's names that end with it: one split per folder, one
        C-level ``endswith`` pass per suffix (over the names no earlier suffix took, when no suffix ends another:
        then a name ends with one at most), and each list split again from its joined names, so that one suffix's
        names lie side by side in memory (a re-match reads them in order; interleaved with the other suffix's they
        cost cache misses)."""
        todo = [s for s in dict.fromkeys(suffixes) if s not in self._ext_names]
        apart = not any(a != b and a.endswith(b) for a in todo for b in todo)
        shelves: list[list[tuple[str, list[str], str]]] = [[] for _ in todo]
        for folder, joined in self.dirs:
            every = pool = joined.split("\n")
            for suffix, shelf in zip(todo, shelves, strict=True):
                if not pool:
                    break
                mask = list(map(str.endswith, pool, repeat(suffix)))
                if not any(mask):
                    continue
                if pool is every and all(mask):
                    names, kept = every, joined
                else:
                    names = (kept := "\n".join(compress(pool, mask))).split("\n")
                shelf.append((folder, names, kept))
                if apart:
                    pool = list(compress(pool, map(not_, mask)))
        for suffix, shelf in zip(todo, shelves, strict=True):
            self._ext_names[suffix] = (shelf, {folder: names for folder, names, _joined in shelf})

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
