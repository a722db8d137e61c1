"""Write TAO-format annotation files natively: complete pairs only, a recorded seed, atomic, no clobbering."""

from __future__ import annotations

import json
import os
import random
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel

from specgen.data.convert.planner import SPLIT_FILES, Plan
from specgen.spec.atomicio import RefusedOverwrite, write_set
from specgen.spec.names import DEFAULT_SEED
from specgen.spec.render import render
from specgen.spec.schema import ConvertSpec

REPORT = "convert_report.json"
SPEC = "convert_spec.yaml"


class WriteResult(BaseModel):
    out_dir: str
    files: dict[str, int]
    seed: int
    removed: list[str]


def split_pairs(
    pairs: list[tuple[str, str]], split_ratio: float, seed: int
) -> dict[str, list[tuple[str, str]]]:
    """TAO's split rule (0 or 1 → test only; else train = first int(n·ratio) of a shuffle), but seeded."""
    ordered = sorted(pairs)
    random.Random(seed).shuffle(ordered)
    if split_ratio in (0.0, 1.0):
        return {"test.txt": ordered}
    cut = int(len(ordered) * split_ratio)
    return {"train.txt": ordered[:cut], "val.txt": ordered[cut:]}


def write_annotations(
    plan: Plan, out_dir: str | os.PathLike[str], *, seed: int = DEFAULT_SEED, force: bool = False
) -> WriteResult:
    """Write the split files, ``convert_report.json`` and ``convert_spec.yaml`` into ``out_dir``.

    Refuses (RefusedOverwrite) when any of them exists, unless ``force``; with ``force`` a split file the
    new split does not produce (e.g. an old test.txt) is removed, so TAO never reads a stale one.
    """
    out = Path(out_dir)
    ours = [*SPLIT_FILES, REPORT, SPEC]
    existing = [out / n for n in ours if (out / n).exists()]
    if existing and not force:
        raise RefusedOverwrite(existing[0])
    opts = plan.options
    splits = split_pairs(plan.pairs, opts.split_ratio, seed)
    counts = {name: len(rows) for name, rows in splits.items()}
    texts = {name: "".join(f"{i} {d}\n" for i, d in rows) for name, rows in splits.items()}
    removed = [name for name in SPLIT_FILES if name not in splits and (out / name).exists()]
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
