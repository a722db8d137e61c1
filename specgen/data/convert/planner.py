"""Re-match the file index against convert patterns exactly as TAO would, and name every pitfall.

``plan`` never touches the disk except for the OUTPUT_EXISTS check: the wizard calls it on every keystroke.
What the preview shows is what TAO would write, traps included; the pitfalls say what goes wrong and how
to fix it.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import compress
from typing import Any

from pydantic import BaseModel, Field

from specgen.data.convert.index import FileIndex, gc_paused
from specgen.spec.problems import Finding

IMAGE_EXTS = (".png", ".jpg", ".jpeg")  # TAO's RGB reader, case-sensitive
DEPTH_EXTS = (".png", ".pfm", ".npy")  # what some mono dataset class can read
SPLIT_FILES = ("train.txt", "val.txt", "test.txt")
EXAMPLES = 3
#: What no annotation line can hold: a control character (CR and the rest: TAO's text-mode reader ends the line
#: there), a line separator, or a byte that is not UTF-8 (a lone surrogate here, os.fsdecode's; TAO opens the list
#: as UTF-8, and our writer cannot encode it). A name with a newline is set aside by the walk (index.newline_names).
UNLISTABLE = re.compile("[\x00-\x09\x0b-\x1f\x7f\x85\u2028\u2029\ud800-\udfff]")


def _listable(text: str) -> bool:
    """No UNLISTABLE character in ``text`` (newlines allowed: the joiner). Printable ASCII answers in one C pass
    (a third of the regex's time); anything else asks the regex."""
    if text.isascii() and text.replace("\n", " ").isprintable():
        return True
    return UNLISTABLE.search(text) is None


class ConvertOptions(BaseModel):
    """The convert spec as the user types it (extensions exactly as given: TAO does not add the dot)."""

    image_patterns: list[str] = Field(default_factory=list)
    depth_patterns: list[str] = Field(default_factory=list)
    image_extension: str = ".jpg"
    depth_extension: str = ".png"
    split_ratio: float = 0.8
    results_dir: str | None = None


#: A convert pitfall is the house's one finding type (code, severity, message, examples, fix, autofix).
Pitfall = Finding


#: One walked folder's share of a plan: (folder, image names, derived folder, derived names, depth found per image).
#: Names are kept "\n"-joined and the flags as bytes: none of these is a container the cyclic GC must traverse, so
#: a plan over a million files leaves no million-element lists behind for every later collection to walk (~70 ms).
Group = tuple[str, str, str, str, bytes]


def _rows(groups: list[Group] | None) -> Iterator[tuple[str, str, str, str, int]]:
    for f, images, df, derived, found in groups or ():
        for i, d, ok in zip(images.split("\n"), derived.split("\n"), found, strict=True):
            yield f, i, df, d, ok


@dataclass
class Plan:
    """The outcome of one re-match (a plain dataclass: it holds up to millions of pairs, validated by construction).

    On the fast path the pairs are kept per folder and their full paths are built only when asked for (writing
    them, or a preview): a pattern edit on a million files costs the matching, not a million string joins."""

    data_root: str
    options: ConvertOptions
    files_indexed: int
    images_matched: int
    _pairs: list[tuple[str, str]] | None
    _missing: list[tuple[str, str]] | None
    pitfalls: list[Pitfall]
    seconds: float
    groups: list[Group] | None = None
    pair_count: int = 0

    @property
    def pairs(self) -> list[tuple[str, str]]:
        if self._pairs is None:
            self._pairs = [(f"{f}/{i}", f"{df}/{d}") for f, i, df, d, ok in _rows(self.groups) if ok]
        return self._pairs

    @property
    def missing(self) -> list[tuple[str, str]]:
        if self._missing is None:
            self._missing = [(f"{f}/{i}", f"{df}/{d}") for f, i, df, d, ok in _rows(self.groups) if not ok]
        return self._missing

    def head(self, n: int) -> list[tuple[str, str]]:
        """The first ``n`` complete pairs, without building the rest."""
        if self._pairs is not None or self.groups is None:
            return self.pairs[:n]
        return self._first(n, complete=True)

    def missing_head(self, n: int) -> list[tuple[str, str]]:
        """The first ``n`` pairs whose depth file is missing, without building the rest (or scanning for none)."""
        if self._missing is not None or self.groups is None:
            return self.missing[:n]
        return self._first(n, complete=False) if self.pair_count < self.images_matched else []

    def _first(self, n: int, *, complete: bool) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if n <= 0:
            return out
        for f, i, df, d, ok in _rows(self.groups):
            if bool(ok) is complete:
                out.append((f"{f}/{i}", f"{df}/{d}"))
                if len(out) == n:
                    break
        return out

    @property
    def usable(self) -> bool:
        """Something worth writing: complete pairs and no pitfall that makes them wrong."""
        return self.pair_count > 0 and not any(p.severity == "error" for p in self.pitfalls)

    def summary(self, samples: int = 10) -> dict[str, Any]:
        """The ``--preview --json`` document."""
        return {
            "data_root": self.data_root,
            "files_indexed": self.files_indexed,
            "images_matched": self.images_matched,
            "pairs_complete": self.pair_count,
            "depth_missing": self.images_matched - self.pair_count,
            "samples": [{"image": i, "depth": d} for i, d in self.head(samples)],
            "missing_samples": [{"image": i, "depth": d} for i, d in self.missing_head(samples)],
            "warnings": [p.model_dump(exclude_none=True) for p in self.pitfalls],
            "timings": {"plan_ms": round(self.seconds * 1000, 2)},
            "usable": self.usable,
        }


def derive_depth(path: str, opts: ConvertOptions) -> str:
    """TAO's derivation: chained plain replacement over the whole path, then the extension swap."""
    for image_pat, depth_pat in zip(opts.image_patterns, opts.depth_patterns, strict=False):
        path = path.replace(image_pat, depth_pat)
    return path.replace(opts.image_extension, opts.depth_extension)


def derive_all(images: list[str], opts: ConvertOptions) -> tuple[list[str], str, str]:
    """derive_depth for many paths at once: the replacements run over one joined string.

    Equivalent because no pattern can span the newline separators (none contains a newline and none is
    empty — an empty pattern or extension inserts text everywhere, so those take the per-path route).
    Returns (depths, joined images, joined depths); the joined strings feed the pitfall scans.
    """
    joined_images = "\n".join(images)
    texts = [*opts.image_patterns, *opts.depth_patterns, opts.image_extension, opts.depth_extension]
    if not images or "" in opts.image_patterns or not opts.image_extension or any("\n" in t for t in texts):
        depths = [derive_depth(i, opts) for i in images]
        return depths, joined_images, "\n".join(depths)
    joined = joined_images
    for image_pat, depth_pat in zip(opts.image_patterns, opts.depth_patterns, strict=False):
        joined = joined.replace(image_pat, depth_pat)
    joined = joined.replace(opts.image_extension, opts.depth_extension)
    return joined.split("\n"), joined_images, joined


def match_images(files: list[str] | FileIndex, opts: ConvertOptions) -> list[str]:
    """TAO's filter: every pattern is a substring of the path; the extension (if > 1 char) ends it."""
    pats = opts.image_patterns
    ext = opts.image_extension
    if isinstance(files, FileIndex):
        if len(ext) > 1:
            candidates = files.with_suffix(ext)
            if not pats:
                return list(candidates)
            if len(pats) == 1:
                p = pats[0]
                return [f for f in candidates if p in f]
            return [f for f in candidates if all(p in f for p in pats)]
        files = files.files
    if len(ext) > 1:
        if len(pats) == 1:
            p = pats[0]
            return [f for f in files if f.endswith(ext) and p in f]
        candidates = [f for f in files if f.endswith(ext)]
    else:
        candidates = files
    if not pats:
        return list(candidates)
    if len(pats) == 1:
        p = pats[0]
        return [f for f in candidates if p in f]
    return [f for f in candidates if all(p in f for p in pats)]


def plan(index: FileIndex, opts: ConvertOptions) -> Plan:
    with gc_paused():
        start = time.perf_counter()
        index.plans += 1
        fast = _plan_by_folder(index, opts) if _separable(opts) else None
        out = fast if fast is not None else _plan(index, opts)
        out.seconds = time.perf_counter() - start
        return out


def _separable(opts: ConvertOptions) -> bool:
    """TAO matches and replaces over the whole path; when no extension holds a '/' and no pattern or extension is
    empty, that can be done folder by folder — the per-folder fast path (patterns with a '/' included: see
    ``_matches``). Otherwise, the whole paths."""
    texts = [*opts.image_patterns, *opts.depth_patterns, opts.image_extension, opts.depth_extension]
    return (
        len(opts.image_extension) > 1
        and len(opts.image_patterns) == len(opts.depth_patterns)
        and all(x and "\n" not in x for x in texts)
        and "/" not in opts.image_extension
        and "/" not in opts.depth_extension
    )


def _plan(index: FileIndex, opts: ConvertOptions) -> Plan:
    matched = match_images(index, opts)
    depths, joined_images, joined_depths = derive_all(matched, opts)
    found = list(map(index.lookup.__contains__, depths))
    pairs = list(compress(zip(matched, depths, strict=False), found))
    missing = (
        list(compress(zip(matched, depths, strict=False), [not f for f in found]))
        if len(pairs) < len(matched)
        else []
    )
    pitfalls = find_pitfalls(index, opts, matched, depths, pairs, missing, joined_images, joined_depths)
    return Plan(
        data_root=index.data_root,
        options=opts,
        files_indexed=len(index),
        images_matched=len(matched),
        _pairs=pairs,
        _missing=missing,
        pitfalls=pitfalls,
        seconds=0.0,
        pair_count=len(pairs),
    )


def _matches(folder: str, names: list[str], joined: str, pats: list[str]) -> tuple[list[str], int]:
    """The names in ``folder`` whose path ``folder + "/" + name`` contains every pattern, tested on the short names
    (``joined``: the same names "\n"-joined), and, for one pattern without '/' that is not in the folder, how often
    it occurs in them (else -1): the PATTERN_REPEATED check then needs no second count. ``names`` itself comes back
    when every name matches, so the caller reuses ``joined`` instead of joining them again.

    A pattern without '/' is in the path when it is in the folder (then in every path) or in the name. One with a
    '/' (``A/B``, B after its last '/'), when it is in ``folder + "/"``, or else when the folder ends with A and the
    name starts with B: a name holds no '/', so an occurrence reaching into the name has its last '/' at the
    boundary. While no pattern has filtered yet, C-level scans of the joined names answer "none" (a count: no
    pattern holds a newline, so no occurrence spans two names) and, mostly, "all" (``_in_every``; for a pattern
    starting with '/', a count of the names that start with B); only the rest filters name by name."""
    head = folder + "/"
    every = names
    tally = -1
    for p in pats:
        whole = names is every  # ``joined`` still lists exactly ``names``
        if "/" not in p:
            if p in folder:
                continue
            if not whole:
                names = [n for n in names if p in n]
            else:
                c = joined.count(p)
                if not c:
                    return [], -1
                if c < len(names) or not _in_every(names, joined, p):
                    kept = [n for n in names if p in n]
                    if len(kept) < len(names):
                        names = kept
                if len(pats) == 1:
                    tally = c
        elif p not in head:
            a, _, b = p.rpartition("/")
            if not folder.endswith(a):
                return [], -1
            if not b:
                continue
            if whole:
                c = joined.startswith(b) + joined.count("\n" + b)  # the names that start with b
                if not c:
                    return [], -1
                if c == len(names):
                    continue
            names = [n for n in names if n.startswith(b)]
        if not names:
            break
    return names, tally


def _in_every(names: list[str], joined: str, p: str) -> bool:
    """Does every name hold ``p``? True only when that is shown with a few C-level slices: the names all have one
    length (their separators fall every ``len + 1`` characters of ``joined``) and ``p`` sits at the same offset in
    each (one slice per character of ``p``). False means "not shown": the caller filters name by name. Numbered
    names (``rgb_0000001.jpg``) are like that, and a pattern edit that keeps every name then costs no loop over
    them."""
    first = names[0]
    size, n = len(first) + 1, len(names)
    at = first.find(p)
    if at < 0 or len(joined) != n * size - 1 or joined[size - 1 :: size] != "\n" * (n - 1):
        return False
    return all(joined[at + i :: size] == ch * n for i, ch in enumerate(p))


def _derive_apart(
    head: str, names: str, steps: list[tuple[str, str]], ie: str, de: str
) -> tuple[str, str] | None:
    """TAO's chained replacement over every path ``head + name`` (``names``: the names "\n"-joined), done on the
    folder and on the names apart: (the depth folder + "/", the derived names "\n"-joined), or None when that
    could differ from the whole path's.

    Replacing over ``head + name`` is replacing over each part when no occurrence reaches across the boundary
    (the head's last '/'). One without '/' cannot (it would hold that '/'); it may be in the names, and then its
    replacement must hold no '/' (else a name gains a folder). One with '/', ``A/B`` (B after its last '/'), cannot
    be in a name at all, and reaches across only when the head ends with ``A/`` and a name starts with B. After
    each step the head must still end with '/', so the boundary stays where it was."""
    for p, q in steps:
        if "/" in p:
            a, _, b = p.rpartition("/")
            if b and head.endswith(a + "/") and (names.startswith(b) or "\n" + b in names):
                return None
            head = head.replace(p, q)
        else:
            if "/" in q and p in names:
                return None
            head, names = head.replace(p, q), names.replace(p, q)
        if not head.endswith("/"):
            return None
    return head.replace(ie, de), names.replace(ie, de)


#: found-flag bytes the other way round: ``left.__contains__`` answers "missing", a plan keeps "found"
_FLIP = bytes.maketrans(b"\x00\x01", b"\x01\x00")


def _plan_by_folder(index: FileIndex, opts: ConvertOptions) -> Plan | None:
    """The same plan worked out per folder on short names. None when a per-path pitfall shows up (a pattern or the
    extension repeated in a path, a depth path equal to its image, unsupported extensions, spaces): those rare cases
    take the whole-path route, which names them. With a '/' in a pattern the replacements run on the folder and on
    its joined names apart (``_derive_apart``) when no occurrence can reach across the boundary, else over the
    folder's full paths (one joined string); the depth paths must share one folder, as they do unless a pattern
    rewrites part of some names' folder only (then: the whole-path route). When nothing matches, the answer is the
    whole-path route's for no match (NO_MATCH or ROOT_IS_SCENE and the rest), worked out without any full path.

    Which derived depth names exist, cheapest answer first: the index's memory of this folder (the same derived
    names as its last look-up, or as its last complete one: an edit that derives what an earlier one did); on a
    re-plan, their length (names of one length that no depth file there has: none exists, as for most keystrokes
    on the way to a depth pattern); else a fresh set of them (hashed while they are hot, just split) less the
    folder's names with the depth extension, read in order. Looking each derived name up in a kept set of the
    folder's names instead costs two cache misses a name (the kept table and the kept string, cold since the last
    keystroke): ~3x the time at 100k files."""
    ie, de, pats, dpats = opts.image_extension, opts.depth_extension, opts.image_patterns, opts.depth_patterns
    if index.newline_names:
        return None  # UNLISTABLE_PATH, named by the whole-path route
    slashed = any("/" in p for p in (*pats, *dpats))
    # Every pattern "/B" → "/B'" (one '/', first, B non-empty): TAO's replacement over a full path only ever meets
    # it where a name starts (names hold no '/'), as long as the folder itself does not hold it. Then the folder
    # stays as it is and the names are rewritten at their starts, with no full paths built (the `/rgb_` re-match).
    at_starts = slashed and all(len(x) > 1 and x[0] == "/" and x.count("/") == 1 for x in (*pats, *dpats))
    starts = [("\n" + i[1:], "\n" + d[1:]) for i, d in zip(pats, dpats, strict=False)]
    steps = list(zip(pats, dpats, strict=False))
    groups: list[Group] = []
    matched = found_total = 0
    same_end = ie.endswith(de) or de.endswith(ie)  # else no image name can equal its depth name
    # A derived depth path holds characters of its image path and of these only; the space and listability checks
    # are per character, so when these pass, a derived name passes whenever its image path does.
    texts = "".join(dpats) + de
    plain_texts = " " not in texts and _listable(texts)
    keep = index.plans >= 2
    memo = index.memo if keep else None
    known = index.derived_memo
    for folder, names, joined, every in index.ending_with(ie, de):
        cand, tally = _matches(folder, names, joined, pats)
        if not cand:
            continue
        if de not in DEPTH_EXTS:
            return None  # UNSUPPORTED_DEPTH_EXT: named by the whole-path route
        k = len(cand)
        cj = joined if cand is names else "\n".join(cand)
        if ie in folder or " " in folder or "\n" in folder or not _listable(folder):
            return (
                None  # EXT_ELSEWHERE_IN_PATH / SPACE_IN_PATH / UNLISTABLE_PATH: the whole-path route names it
            )
        clean = False
        if (
            memo is not None
        ):  # a re-plan: answered once for all the folder's names (then for any subset of them)
            got = memo.get((ie, folder))
            if got is None:
                got = memo[(ie, folder)] = (
                    joined.count(ie) == len(names) and " " not in joined and _listable(joined)
                )
            clean = got
        if not clean and (cj.count(ie) > k or " " in cj or not _listable(cj)):
            return None  # EXT_ELSEWHERE_IN_PATH / SPACE_IN_PATH / UNLISTABLE_PATH
        if at_starts and not any(p in folder + "/" for p in pats):
            dfolder = folder
            rewritten = "\n" + cj
            for image_start, depth_start in starts:
                rewritten = rewritten.replace(image_start, depth_start)
            derived_joined = rewritten[1:].replace(ie, de)
        elif slashed:
            head = folder + "/"
            apart = _derive_apart(head, cj, steps, ie, de)
            if apart is not None:  # the folder and the names rewritten apart: no full path built
                dhead, derived_joined = apart
                dfolder = dhead[:-1]
                if any(k * head.count(p) + (0 if "/" in p else cj.count(p)) > k for p in pats):
                    return None  # PATTERN_REPEATED_IN_PATH: named by the whole-path route
            else:
                full = head + ("\n" + head).join(cand)
                if any(full.count(p) > k for p in pats):
                    return None  # PATTERN_REPEATED_IN_PATH: named by the whole-path route
                derived_full = derive_depth(full, opts)
                dfolder = derived_full.partition("\n")[0].rpartition("/")[0]
                dhead = dfolder + "/"
                if (
                    not derived_full.startswith(dhead)
                    or derived_full.count("\n" + dhead) != k - 1
                    or derived_full.count("/") != k * dhead.count("/")
                ):
                    return None  # depth paths in more than one folder: the whole-path route
                # every line is dhead + a name without '/': the names, "\n"-joined, in two C passes
                derived_joined = derived_full.replace("\n" + dhead, "\n")[len(dhead) :]
        else:
            dfolder = derive_depth(folder, opts)
            derived_joined = derive_depth(cj, opts)
            if tally >= 0:
                repeated = tally > k
            else:
                repeated = any(cj.count(p) + folder.count(p) * k > k for p in pats)
            if repeated:
                return None  # PATTERN_REPEATED_IN_PATH: named by the whole-path route
        if " " in dfolder or not _listable(dfolder):
            return None  # SPACE_IN_PATH / UNLISTABLE_PATH
        if not plain_texts and (" " in derived_joined or not _listable(derived_joined)):
            return None  # SPACE_IN_PATH / UNLISTABLE_PATH
        derived: list[str] | None = None
        # the derived names' one length, if they share one (their separators every size characters), else 0
        size = derived_joined.find("\n") + 1 if k > 1 else len(derived_joined) + 1
        if len(derived_joined) != k * size - 1 or derived_joined[size - 1 :: size] != "\n" * (k - 1):
            size = 0
        last = known.get((dfolder, de))
        looked = False
        if last is not None and last[2] and derived_joined == last[2]:
            found = b"\x01" * k  # the names of the last complete look-up here: all exist
        elif last is not None and derived_joined == last[0]:
            found = last[1]  # the same names as the last look-up here: the same answer
        elif keep and size and size - 1 not in index.name_lengths(dfolder, de):
            found = bytes(k)  # no file there has their length: none exists, shown without hashing one
        else:
            if keep:
                present = index.named(dfolder, de)
            elif every is not None and dfolder == folder:
                present = every
            else:
                present = index.names_in(dfolder)
            derived = derived_joined.split("\n")
            left = set(derived)
            distinct = len(left)
            left.difference_update(present)
            if not left:
                found = b"\x01" * k
            elif len(left) == distinct:
                found = bytes(k)
            else:
                found = bytes(map(left.__contains__, derived)).translate(_FLIP)
            del left, present
            looked = True
        complete = found.count(1)
        # Found among the names that end with de (a re-plan's lists) means ending with de; otherwise, check: with
        # one length, a slice per character of de (every name's last characters); else a count.
        if complete < k or not keep:
            if size and size > len(de):
                ends = all(
                    derived_joined[size - 1 - len(de) + i :: size] == ch * k for i, ch in enumerate(de)
                )
            else:
                ends = derived_joined.count(de + "\n") == k - 1 and derived_joined.endswith(de)
            if not ends:
                return None  # UNSUPPORTED_DEPTH_EXT (some derived name does not end with it): the whole-path route
        if looked:  # kept only once every name ends with de: then an answer from all names is one from these
            whole = derived_joined if complete == k else ("" if last is None else last[2])
            known[(dfolder, de)] = (derived_joined, found, whole)
        # one pattern once in each name, not in the folder, and no extension swap: the name changes iff p != q
        if (
            same_end
            and dfolder == folder
            and not (tally == k and ie == de and not slashed and pats[0] != dpats[0])
        ):
            if derived is None:
                derived = derived_joined.split("\n")
            if any(map(str.__eq__, cand, derived)):
                return None  # DEPTH_IS_IMAGE
        del derived, every
        groups.append((folder, cj, dfolder, derived_joined, found))
        matched += k
        found_total += complete
    if not matched:
        return _no_match_plan(index, opts)
    if not (ie in IMAGE_EXTS and "." not in ie[1:]):
        return None  # UNSUPPORTED_IMAGE_EXT
    out = Plan(
        data_root=index.data_root,
        options=opts,
        files_indexed=len(index),
        images_matched=matched,
        _pairs=None,
        _missing=None,
        pitfalls=[],
        seconds=0.0,
        groups=groups,
        pair_count=found_total,
    )
    sample = f"{groups[0][0]}/{groups[0][1].split(chr(10), 1)[0]}"
    out.pitfalls = _extension_pitfalls(opts, sample) + _location_pitfalls(index, opts, matched > 0)
    if found_total < matched:
        missing = []
        for f, i, df, d, ok in _rows(groups):
            if not ok:
                missing.append((f"{f}/{i}", f"{df}/{d}"))
                if len(missing) >= EXAMPLES:
                    break
        out.pitfalls.append(_missing_pitfall(matched - found_total, matched, found_total > 0, missing))
    out.pitfalls.extend(_output_pitfalls(opts))
    return out


# --------------------------------------------------------------------------- pitfalls


def _with_dot(ext: str) -> str:
    return ext if ext.startswith(".") or not ext else "." + ext


def find_pitfalls(
    index: FileIndex,
    opts: ConvertOptions,
    matched: list[str],
    depths: list[str],
    pairs: list[tuple[str, str]],
    missing: list[tuple[str, str]],
    joined: str | None = None,
    joined_depths: str | None = None,
) -> list[Pitfall]:
    """Every pitfall of this choice. Per-path loops run only after a C-level scan says there is a hit."""
    out: list[Pitfall] = []
    ie, de = opts.image_extension, opts.depth_extension
    all_pairs = pairs + missing
    sample_image = matched[0] if matched else _sample_image(index)

    out += _extension_pitfalls(opts, sample_image)
    # One C-level scan of the joined paths answers "does any path …?" before any per-path loop.
    joined = "\n".join(matched) if joined is None else joined
    joined_depths = "\n".join(depths) if joined_depths is None else joined_depths
    if ie and len(ie) > 1 and joined.count(ie) > len(matched):
        elsewhere = [i for i in matched if i.count(ie) > 1]
        if elsewhere:
            out.append(
                Pitfall(
                    code="EXT_ELSEWHERE_IN_PATH",
                    severity="warning",
                    message=f"{len(elsewhere)} path(s) contain {ie!r} before the end: the swap to {de!r} changes the folder too",
                    examples=[f"{i} → {derive_depth(i, opts)}" for i in elsewhere[:EXAMPLES]],
                    fix="rename those folders, or move the data so the extension text occurs only at the end",
                )
            )

    # Patterns --------------------------------------------------------------
    if len(opts.image_patterns) != len(opts.depth_patterns):
        out.append(
            Pitfall(
                code="PATTERN_COUNT_MISMATCH",
                severity="error",
                message=(
                    f"{len(opts.image_patterns)} image pattern(s) but {len(opts.depth_patterns)} depth pattern(s): "
                    "patterns pair up by position, so TAO fails on the unpaired index or leaves a pattern unreplaced"
                ),
                fix="give one depth pattern for each image pattern, in the same order",
            )
        )
    for pat, dpat in zip(opts.image_patterns, opts.depth_patterns, strict=False):
        if not pat or joined.count(pat) <= len(matched):
            continue
        repeated = [i for i in matched if i.count(pat) > 1]
        if repeated:
            out.append(
                Pitfall(
                    code="PATTERN_REPEATED_IN_PATH",
                    severity="warning",
                    message=f"{len(repeated)} path(s) contain {pat!r} more than once: every occurrence becomes {dpat!r}, folders included",
                    examples=[f"{i} → {derive_depth(i, opts)}" for i in repeated[:EXAMPLES]],
                    fix=f"make the pattern specific to the file or folder name (e.g. include a '/' : '/{pat}')",
                )
            )

    out += _location_pitfalls(index, opts, bool(matched))

    # Pairs -----------------------------------------------------------------
    if missing:
        out.append(_missing_pitfall(len(missing), len(all_pairs), bool(pairs), missing))
    same = (
        [i for i, d in zip(matched, depths, strict=False) if i == d]
        if any(map(str.__eq__, matched, depths))
        else []
    )
    if same:
        out.append(
            Pitfall(
                code="DEPTH_IS_IMAGE",
                severity="error",
                message=f"for {len(same)} image(s) the derived depth path is the image itself: the pattern or extension changes nothing",
                examples=same[:EXAMPLES],
                fix="make the depth pattern differ from the image pattern (e.g. rgb_ → sync_depth_)",
            )
        )
    if len(ie) > 1 and ie.startswith(".") and "." not in ie[1:]:  # the filter fixed every suffix to ie
        bad_images = [] if ie in IMAGE_EXTS else matched
    else:
        bad_images = [i for i in matched if not i.endswith(IMAGE_EXTS)]
    if bad_images:
        out.append(
            Pitfall(
                code="UNSUPPORTED_IMAGE_EXT",
                severity="error",
                message=f"TAO reads only .png, .jpg, .jpeg images (case-sensitive) and fails at train time on: {_ext_counts(bad_images)}",
                examples=bad_images[:EXAMPLES],
                fix="rename the files to a lower-case supported extension (e.g. .JPG → .jpg), then re-run",
            )
        )
    if de in DEPTH_EXTS and joined_depths.count(de + "\n") == len(depths) - 1 and joined_depths.endswith(de):
        bad_depths: list[str] = []
    else:
        bad_depths = [d for d in depths if not d.endswith(DEPTH_EXTS)]
    if bad_depths:
        out.append(
            Pitfall(
                code="UNSUPPORTED_DEPTH_EXT",
                severity="error",
                message=f"no mono dataset class reads these depth files: {_ext_counts(bad_depths)} (supported: .png, .pfm, .npy)",
                examples=bad_depths[:EXAMPLES],
                fix="set depth_extension to the depth files' real extension (with its dot)",
            )
        )
    spaced = (
        [f"{i} {d}" for i, d in all_pairs if " " in i or " " in d]
        if " " in joined or " " in joined_depths
        else []
    )
    if spaced:
        out.append(
            Pitfall(
                code="SPACE_IN_PATH",
                severity="error",
                message=f"{len(spaced)} pair(s) have a space in a path: TAO splits annotation lines on spaces, so they break",
                examples=spaced[:EXAMPLES],
                fix="rename the folders/files to remove spaces",
            )
        )

    odd = (
        [f"{i} {d}" for i, d in all_pairs if UNLISTABLE.search(i) or UNLISTABLE.search(d)]
        if UNLISTABLE.search(joined) or UNLISTABLE.search(joined_depths)
        else []
    )
    exts = tuple(e for e in (opts.image_extension, opts.depth_extension) if e)
    odd += [
        n for n in index.newline_names if n.endswith(exts)
    ]  # set aside by the walk (a newline: the joiner)
    if odd:
        out.append(
            Pitfall(
                code="UNLISTABLE_PATH",
                severity="error",
                message=(
                    f"{len(odd)} pair(s) or file(s) have a control character (e.g. a carriage return) or bytes that are not UTF-8 "
                    "in a path: an annotation line cannot hold them, TAO reads the list as UTF-8 text"
                ),
                examples=odd[:EXAMPLES],
                fix="rename the files (e.g. `convmv -f latin1 -t utf8` for old encodings; remove carriage returns)",
            )
        )

    out += _output_pitfalls(opts)
    return out


def _extension_pitfalls(opts: ConvertOptions, sample_image: str) -> list[Pitfall]:
    out: list[Pitfall] = []
    ie, de = opts.image_extension, opts.depth_extension
    if ie == "" and de != "":
        out.append(
            Pitfall(
                code="EXT_EMPTY_SWAP",
                severity="error",
                message=(
                    f"image_extension is empty: TAO replaces '' with {de!r}, which inserts {de!r} between every "
                    "character of every path, and no extension filter is applied"
                ),
                examples=[f"{sample_image} → {derive_depth(sample_image, opts)[:120]}"],
                fix="set image_extension to your images' extension with its dot, e.g. .jpg",
                autofix={"image_extension": ".jpg"},
            )
        )
    elif len(ie) == 1:
        out.append(
            Pitfall(
                code="EXT_EMPTY_SWAP",
                severity="error",
                message=(
                    f"image_extension {ie!r} has one character: TAO ignores it as a filter but still replaces every "
                    f"{ie!r} in the path with {de!r}"
                ),
                examples=[f"{sample_image} → {derive_depth(sample_image, opts)}"],
                fix="give the full extension with its dot, e.g. .jpg",
            )
        )
    no_dot = [
        (name, ext)
        for name, ext in (("image_extension", ie), ("depth_extension", de))
        if ext and not ext.startswith(".")
    ]
    if no_dot:
        mixed = len(no_dot) == 1 and bool(ie) and bool(de)
        autofix = {name: _with_dot(ext) for name, ext in no_dot}
        example = f"{sample_image} → {derive_depth(sample_image, opts)}"
        if mixed:
            msg = (
                f"{no_dot[0][0]} {no_dot[0][1]!r} has no leading dot while the other has one: "
                f"{ie!r} → {de!r} turns every name into a broken one"
            )
        else:
            msg = (
                f"extensions without a leading dot ({', '.join(repr(e) for _, e in no_dot)}): the swap also hits the "
                "text anywhere in the path and the filter matches names that merely end with those letters"
            )
        out.append(
            Pitfall(
                code="EXT_NO_DOT",
                severity="error" if mixed else "warning",
                message=msg,
                examples=[example],
                fix="write extensions with their dot: "
                + ", ".join(f"{n}: {_with_dot(e)}" for n, e in no_dot),
                autofix=autofix,
            )
        )
    return out


def _location_pitfalls(index: FileIndex, opts: ConvertOptions, matched: bool) -> list[Pitfall]:
    """Where the files are: top-level files, a data root that is one scene, links and unreadable folders."""
    out: list[Pitfall] = []
    top_hits = match_images(index.top_level_files, opts)
    if top_hits:
        parent = os.path.dirname(os.path.normpath(index.data_root))
        if not matched:
            out.append(
                Pitfall(
                    code="ROOT_IS_SCENE",
                    severity="error",
                    message=(
                        f"data_root holds {len(top_hits)} image(s) directly, and TAO only walks its sub-folders: "
                        "data_root looks like one scene, not the parent of scene folders"
                    ),
                    examples=top_hits[:EXAMPLES],
                    fix=f"use the parent folder as data_root: {parent}",
                    autofix={"data_root": parent},
                )
            )
        else:
            out.append(
                Pitfall(
                    code="TOP_LEVEL_FILES_IGNORED",
                    severity="warning",
                    message=f"{len(top_hits)} matching file(s) sit directly in data_root; TAO never sees them",
                    examples=top_hits[:EXAMPLES],
                    fix="move them into a scene sub-folder",
                )
            )
    elif not matched:
        out.append(_no_match(index, opts))
    if index.symlink_dirs_skipped:
        out.append(
            Pitfall(
                code="SYMLINK_DIR_SKIPPED",
                severity="warning",
                message=f"{len(index.symlink_dirs_skipped)} symlinked folder(s) inside the scenes: TAO's walk does not follow them",
                examples=index.symlink_dirs_skipped[:EXAMPLES],
                fix="replace the links by real folders or bind mounts",
            )
        )
    if index.unreadable:
        out.append(
            Pitfall(
                code="UNREADABLE_DIR",
                severity="warning",
                message=f"{len(index.unreadable)} folder(s) could not be read and were skipped (TAO skips them silently)",
                examples=[f"{p}: {why}" for p, why in index.unreadable[:EXAMPLES]],
                fix="fix their permissions",
            )
        )

    return out


def _missing_pitfall(
    n_missing: int, n_total: int, have_pairs: bool, examples: list[tuple[str, str]]
) -> Pitfall:
    return Pitfall(
        code="DEPTH_MISSING",
        severity="warning" if have_pairs else "error",
        message=f"{n_missing} of {n_total} derived depth path(s) do not exist (TAO would still write them)",
        examples=[f"{i} → {d}" for i, d in examples[:EXAMPLES]],
        fix="check the depth pattern and extension; depthnet writes only complete pairs",
    )


def _output_pitfalls(opts: ConvertOptions) -> list[Pitfall]:
    if not opts.results_dir:
        return []
    existing = [
        os.path.join(opts.results_dir, n)
        for n in SPLIT_FILES
        if os.path.exists(os.path.join(opts.results_dir, n))
    ]
    if not existing:
        return []
    return [
        Pitfall(
            code="OUTPUT_EXISTS",
            severity="warning",
            message="split files already exist: TAO's convert appends to them and duplicates every line",
            examples=existing,
            fix="write into an empty folder, or confirm replacing them (--force)",
        )
    ]


def _ext_counts(paths: list[str], top: int = 4) -> str:
    """'.JPG ×3, (none) ×1': the extensions of the offending paths, commonest first."""
    return _counts_text(Counter(os.path.splitext(p)[1] for p in paths), top)


def _counts_text(counts: Counter[str], top: int = 4) -> str:
    return ", ".join(f"{e or '(none)'} ×{n}" for e, n in counts.most_common(top))


def _sample_image(index: FileIndex) -> str:
    """The example path of an extension pitfall when nothing matched."""
    return os.path.join(index.data_root, "scene", "rgb_00001.jpg")


def _no_match_plan(index: FileIndex, opts: ConvertOptions) -> Plan:
    """What the whole-path route answers for separable options that match nothing: no pairs, and of the pitfalls
    only the extensions', the locations' (NO_MATCH or ROOT_IS_SCENE) and the output's can apply (the rest look at
    matched paths). A keystroke that matches nothing then costs a scan of the listings, not of every full path."""
    pitfalls = _extension_pitfalls(opts, _sample_image(index))
    pitfalls += _location_pitfalls(index, opts, False)
    pitfalls += _output_pitfalls(opts)
    return Plan(
        data_root=index.data_root,
        options=opts,
        files_indexed=len(index),
        images_matched=0,
        _pairs=[],
        _missing=[],
        pitfalls=pitfalls,
        seconds=0.0,
        pair_count=0,
    )


def _no_match(index: FileIndex, opts: ConvertOptions) -> Pitfall:
    exts = index.head_extensions()
    ext_hint = _counts_text(exts) or "no files at all"
    reasons = []
    if (
        opts.image_extension
        and len(opts.image_extension) > 1
        and not index.any_path_ends_with(opts.image_extension)
    ):
        reasons.append(f"no file ends with {opts.image_extension!r}")
    for pat in opts.image_patterns:
        if not index.any_path_contains(pat):
            reasons.append(f"no path contains {pat!r}")
    why = "; ".join(reasons) or "no file satisfies every pattern and the extension together"
    autofix = None
    if exts and opts.image_extension not in exts:
        image_like = [e for e, _n in exts.most_common() if e.lower() in IMAGE_EXTS]
        if image_like:
            autofix = {"image_extension": image_like[0]}
    return Pitfall(
        code="NO_MATCH",
        severity="error",
        message=f"no image matched: {why}",
        examples=[f"files here end with: {ext_hint}", *index.first_files(2)],
        fix="check the image pattern and extension against the example names",
        autofix=autofix,
    )
