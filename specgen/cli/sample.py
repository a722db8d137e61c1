"""``depthnet sample-data DIR``: a small NYU-like RGB-D dataset (uint16 millimetre PNGs, JPEG RGB) to try every
command on, without a dataset of your own."""

from __future__ import annotations

import argparse
import sys

from specgen.cli.common import EXIT_OK, EXIT_PROBLEM, _err, progress


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("sample-data", help="write a small NYU-like RGB-D dataset to try things on")
    s.add_argument("folder", help="a new (or empty) folder")
    s.add_argument("--per-scene", type=int, default=4, help="pairs per scene (3 scenes)")
    s.set_defaults(func=cmd_sample)


def cmd_sample(args: argparse.Namespace) -> int:
    from specgen.data.sample_data import make_sample_dataset

    def count(done: int, total: int) -> None:
        progress(f"{done}/{total} pairs")

    try:
        root = make_sample_dataset(args.folder, per_scene=max(1, args.per_scene), progress=count)
    except FileExistsError as exc:
        _err(str(exc))
        return EXIT_PROBLEM
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(f"wrote {root} (rgb_NNNNN.jpg + sync_depth_NNNNN.png, uint16 millimetres as in raw NYU)")
    return EXIT_OK
