"""``depthnet analyze``: which images a model gets wrong — per-image AbsRel, RMSE, δ1 of an inference run with ground
truth, worst first, and the error by depth range. Exit 0 when at least one image was scored, 1 otherwise."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from specgen.cli.common import _err, progress

BY = {"abs_rel": "AbsRel", "rmse": "RMSE", "d1": "δ1"}


def register(sub: argparse._SubParsersAction) -> None:
    a = sub.add_parser(
        "analyze",
        help="per-image errors of an inference run with ground truth (AbsRel, RMSE, δ1 as TAO computes them), "
        "worst first, and the error by depth range",
    )
    a.add_argument("run", help="a run id from `depthnet runs`, or an inference results folder")
    a.add_argument(
        "--worst", type=int, default=10, metavar="K", help="how many of the worst images to list (10)"
    )
    a.add_argument("--by", choices=tuple(BY), default="abs_rel", help="what 'worst' means (default abs_rel)")
    a.add_argument(
        "--json", action="store_true", help="print JSON: every image, the bins, the pooled numbers"
    )
    a.set_defaults(func=cmd_analyze)


def cmd_analyze(args: argparse.Namespace) -> int:
    from specgen.data.analysis import (
        aligned,
        analyse,
        bin_rows,
        describe,
        samples_from_spec,
        setup_from_spec,
    )
    from specgen.engine.results import resolve
    from specgen.job.chain import ChainError

    if args.worst < 0:
        _err("--worst K: K must be 0 or more")
        return 2
    try:
        run = resolve(args.run)
    except ChainError as exc:
        _err(str(exc))
        return 1
    if run.source.action == "evaluate":
        _err(
            f"{run.label} is an evaluate run: TAO's evaluate writes no per-image prediction (only its pooled "
            f"metrics); run inference on the same data with its raw PFMs — `depthnet next {args.run} inference` "
            "(reads this run's test data, turns inference.save_raw_pfm on) — then `depthnet analyze` that run"
        )
        return 1
    if run.source.action != "inference":
        _err(
            f"{run.label} is a {run.source.action} run; give an inference run whose annotation lines have ground truth"
        )
        return 1
    spec = run.source.data
    samples, notes = samples_from_spec(spec, run.source.results_dir)
    if not samples:
        for note in notes:
            _err(note)
        _err(
            f"{run.label}: no annotation line of dataset.infer_dataset names ground truth "
            "(`image depth` lines are needed; an image-only list can be viewed, not scored)"
        )
        return 1
    setup = setup_from_spec(spec)

    def count(done: int, total: int) -> None:
        progress(f"scoring {done}/{total}", last=done >= total)

    result = analyse(samples, setup, progress=count, notes=notes)
    worst = result.worst(args.worst, by=args.by)
    if args.json:
        data: dict[str, Any] = {
            "run": run.label,
            "results_dir": run.source.results_dir,
            "setup": {**vars(setup), "how": describe(setup)},
            "by": args.by,
            "worst": [vars(i) for i in worst],
            **result.to_json(),
        }
        print(json.dumps(data, indent=2, allow_nan=True))
        return 0 if result.scored else 1
    for note in notes:
        print(f"  {note}", file=sys.stderr)
    classes = sorted({s.dataset_name for s in samples})
    print(
        f"{run.label}: {len(result.scored)} of {len(samples)} images scored ({', '.join(classes)}; {describe(setup)})"
    )
    unit = "m" if result.unit == "m" else "(disparity)"
    if result.pooled:
        p = result.pooled
        print(
            f"all valid pixels, pooled as TAO's evaluate reports them: AbsRel {p['abs_rel']:.4f}  δ1 {p['d1']:.4f}  "
            f"δ2 {p['d2']:.4f}  δ3 {p['d3']:.4f}  RMSE {p['rmse']:.4g} {unit}  ({p['pixels']:,} pixels)"
        )
    if worst:
        print(f"\nworst {len(worst)} by {BY[args.by]}:")
        head = f"{'#':>3}  {'AbsRel':>8}  {'RMSE':>8}  {'δ1':>6}  {'pixels':>9}  "
        print(f"{head}image / ground truth / prediction")
        for rank, item in enumerate(worst, 1):
            print(
                f"{rank:>3}  {item.abs_rel:>8.4f}  {item.rmse:>8.4g}  {item.d1:>6.3f}  {item.pixels:>9,}  {item.image}"
            )
            print(f"{'':>{len(head)}}{item.gt}\n{'':>{len(head)}}{item.pfm}")
    if result.bins:
        print("\nby ground-truth depth (terciles of the run's valid pixels, a third of them in each bin):")
        for line in aligned(bin_rows(result.bins, classes)):
            print(f"  {line}")
    for problem in result.problems:
        _err(problem)
    if not result.scored:
        _err(f"{run.label}: no image could be scored")
        return 1
    return 0
