"""Write TAO-format annotation files natively: complete pairs only, a recorded seed, atomic, no clobbering."""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from datetime import datetime, timezone
from itertools import chain, compress, repeat
from pathlib import Path

from pydantic import BaseModel

from specgen.data.convert.planner import SPLIT_FILES, Plan, derive_depth
from specgen.spec.atomicio import RefusedOverwrite, check_folder, write_set
from specgen.spec.names import DEFAULT_SEED

REPORT = "convert_report.json"
CHUNK = 16384  # lines per write: ~2 MB of text at a time
SPEC = "convert_spec.yaml"


class WriteResult(BaseModel):
    out_dir: str
    files: dict[str, int]
    seed: int
    removed: list[str]


def annotation_lines(plan: Plan) -> list[str]:
    """The complete pairs as TAO's lines (``image depth``), in an order that does not depend on the filesystem's:
    folders sorted, names sorted within each. Built per folder from the plan's joined names; the images of one
    folder are sorted by their short names (on this route no name holds a space or a control character, so that is
    the order of the lines), with no per-pair objects: only the lines outlive the folder."""
    if plan.groups is None:
        return [f"{i} {d}" for i, d in sorted(plan.pairs)]
    lines: list[str] = []
    opts = plan.options
    slashed = any("/" in p for p in (*opts.image_patterns, *opts.depth_patterns))
    for folder, images, dfolder, depths, found in sorted(plan.groups, key=lambda g: g[0]):
        names = images.split("\n")
        if slashed:  # a depth name may hang on the folder: the plan's own, in the images' sorted order
            dnames = depths.split("\n")
            order = sorted(compress(range(len(names)), found), key=names.__getitem__)
            names, dnames = list(map(names.__getitem__, order)), list(map(dnames.__getitem__, order))
        else:  # a name's depth name is its own: derived again over one joined string, cheaper than sorting pairs
            names = sorted(names if 0 not in found else compress(names, found))
            dnames = derive_depth("\n".join(names), opts).split("\n")
        if not names:
            continue
        head, mid = folder + "/", " " + dfolder + "/"
        sep = "\n" + head  # every line of the folder made in one join
        text = head + "".join(chain.from_iterable(zip(names, repeat(mid), dnames, repeat(sep), strict=False)))
        lines += text[: -len(sep)].split("\n")
    return lines


def split_lines(lines: list[str], split_ratio: float, seed: int) -> dict[str, tuple[int, Iterator[str]]]:
    """TAO's split rule (0 or 1 → test only; else train = the first int(n·ratio) of a shuffle), but seeded.

    The shuffle is a sort of the line numbers by one seeded random float each (a uniform permutation, as
    ``random.shuffle`` gives, at half its cost in Python); ``lines`` is reordered in place. Each file's text comes
    as chunks of joined lines, written as they are made: at a million files the whole text (and its encoded copy)
    would be twice the size of the lines themselves."""
    rng = random.Random(seed).random
    keys = [rng() for _ in lines]
    order = sorted(range(len(lines)), key=keys.__getitem__)
    del keys
    lines[:] = map(lines.__getitem__, order)
    del order

    def text(start: int, stop: int) -> tuple[int, Iterator[str]]:
        def chunks() -> Iterator[str]:
            for at in range(start, stop, CHUNK):
                yield "\n".join(lines[at : min(at + CHUNK, stop)]) + "\n"

        return stop - start, chunks()

    if split_ratio in (0.0, 1.0):
        return {"test.txt": text(0, len(lines))}
    cut = int(len(lines) * split_ratio)
    return {"train.txt": text(0, cut), "val.txt": text(cut, len(lines))}


def write_annotations(
    plan: Plan, out_dir: str | os.PathLike[str], *, seed: int = DEFAULT_SEED, force: bool = False
) -> WriteResult:
    """Write the split files, ``convert_report.json`` and ``convert_spec.yaml`` into ``out_dir``.

    Refuses (RefusedOverwrite) when any of them exists, unless ``force``; with ``force`` a split file the
    new split does not produce (e.g. an old test.txt) is removed, so TAO never reads a stale one.
    """
    out = Path(out_dir)
    check_folder(out)  # a link named as --out: refused before anything is read or written through it
    ours = [*SPLIT_FILES, REPORT, SPEC]
    existing = [out / n for n in ours if os.path.lexists(out / n)]
    if existing and not force:
        raise RefusedOverwrite(existing[0])
    from specgen.spec.render import render  # the spec language is needed only here, for convert_spec.yaml
    from specgen.spec.schema import ConvertSpec

    opts = plan.options
    splits = split_lines(annotation_lines(plan), opts.split_ratio, seed)
    counts = {name: n for name, (n, _text) in splits.items()}
    texts: dict[str, str | Iterator[str]] = {name: text for name, (_n, text) in splits.items()}
    del splits
    removed = [name for name in SPLIT_FILES if name not in texts and os.path.lexists(out / name)]
    spec = ConvertSpec(
        data_root=plan.data_root,
        results_dir=str(out),
        image_dir_pattern=opts.image_patterns,
        depth_dir_pattern=opts.depth_patterns,
        image_extension=opts.image_extension,
        depth_extension=opts.depth_extension,
        split_ratio=opts.split_ratio,
    )
    header = (
        "Equivalent TAO convert spec: depth_net convert -e convert_spec.yaml\n"
        "TAO's own convert shuffles without a seed and appends: run it into an empty results_dir."
    )
    texts[SPEC] = render(spec, full=True, header=header)
    report = {
        "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seed": seed,
        "split_ratio": opts.split_ratio,
        "counts": counts,
        "images_matched": plan.images_matched,
        "depth_missing_dropped": plan.images_matched - plan.pair_count,
        "options": opts.model_dump(),
        "data_root": plan.data_root,
        "pitfalls": [p.code for p in plan.pitfalls],
    }
    texts[REPORT] = json.dumps(report, indent=2) + "\n"
    # One unit: a kill at any moment leaves the old set or the new one (an old test.txt goes with the old set).
    write_set(out, texts, drop=tuple(removed))
    return WriteResult(out_dir=str(out), files=counts, seed=seed, removed=removed)
