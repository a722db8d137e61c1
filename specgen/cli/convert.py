"""``depthnet convert``: preview or write annotation files with TAO's convert semantics."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import TYPE_CHECKING

from specgen.cli.common import finding_lines
from specgen.spec.names import DEFAULT_SEED

if TYPE_CHECKING:
    from specgen.spec.problems import Finding


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert", help="make train/val/test annotation files (TAO convert semantics, pitfalls flagged)"
    )
    p.add_argument(
        "--data-root",
        required=True,
        help="the folder holding the scene folders (the annotation files list absolute paths)",
    )
    p.add_argument(
        "--image-pattern",
        action="append",
        required=True,
        help="substring every image path contains (repeatable)",
    )
    p.add_argument(
        "--depth-pattern",
        action="append",
        required=True,
        help="its replacement in the depth path (repeatable)",
    )
    p.add_argument(
        "--image-ext", default=".jpg", help="RGB extension, exactly as TAO compares it (default .jpg)"
    )
    p.add_argument("--depth-ext", default=".png", help="depth extension that replaces it (default .png)")
    p.add_argument(
        "--split-ratio", type=float, default=0.8, help="train fraction; 0 or 1 writes test.txt only"
    )
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="split seed (TAO shuffles unseeded)")
    p.add_argument("--out", required=True, help="folder for the annotation files")
    p.add_argument("--preview", action="store_true", help="show what would be written; write nothing")
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.add_argument("--force", action="store_true", help="replace existing annotation files")
    p.set_defaults(func=cmd_convert)


def _print_human(summary: dict, pitfalls: list[Finding]) -> None:
    print(
        f"{summary['files_indexed']} files indexed, {summary['images_matched']} images matched, "
        f"{summary['pairs_complete']} complete pairs, {summary['depth_missing']} depth missing"
    )
    for s in summary["samples"][:5]:
        print(f"  {s['image']}  →  {s['depth']}")
    for w in pitfalls:
        print("\n".join(finding_lines(w, "e.g. ")))


def cmd_convert(args: argparse.Namespace) -> int:
    from specgen.data.convert import ConvertOptions, build_index, plan, write_annotations
    from specgen.spec.atomicio import RefusedOverwrite

    if not 0.0 <= args.split_ratio <= 1.0:
        print(f"depthnet: --split-ratio {args.split_ratio}: must be between 0 and 1", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    # the annotation files list absolute paths: relative ones resolve against the container's folder, not yours
    args.data_root = os.path.abspath(args.data_root)
    try:
        index = build_index(args.data_root)
    except OSError as exc:
        print(f"depthnet: {exc}", file=sys.stderr)
        return 1
    opts = ConvertOptions(
        image_patterns=args.image_pattern,
        depth_patterns=args.depth_pattern,
        image_extension=args.image_ext,
        depth_extension=args.depth_ext,
        split_ratio=args.split_ratio,
        results_dir=args.out,
    )
    result = plan(index, opts)
    walk_ms = round(index.walk_seconds * 1000, 2)
    del index  # the plan holds what the writer needs: the listing goes before the lines are built
    summary = result.summary()
    summary["timings"].update(walk_ms=walk_ms, total_ms=round((time.perf_counter() - t0) * 1000, 2))
    written = None
    if not args.preview and result.usable:
        try:
            written = write_annotations(result, args.out, seed=args.seed, force=args.force)
        except RefusedOverwrite as exc:
            print(f"depthnet: {exc}", file=sys.stderr)
            return 1
        summary["written"] = written.model_dump()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_human(summary, result.pitfalls)
        if written:
            parts = ", ".join(f"{n} ({c} lines)" for n, c in written.files.items())
            print(f"wrote {parts} to {written.out_dir} (seed {written.seed})")
    if not result.usable:
        print("depthnet: nothing usable would be written; see the errors above", file=sys.stderr)
        return 1
    return 0
