"""``depthnet doctor``: read the depth files and predict an empty valid mask / wrong targets before launch."""

from __future__ import annotations

import argparse
import json
import sys

from specgen.cli.common import finding_lines
from specgen.spec.catalog import DATASETS
from specgen.spec.names import DEFAULT_SAMPLE, MONO_MODEL_TYPES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "doctor", help="check the depth files against the dataset class (empty mask → NaN loss)"
    )
    p.add_argument("--data-file", required=True, help="annotation file (train.txt …)")
    p.add_argument("--dataset-name", required=True, help=f"one of: {', '.join(d.name for d in DATASETS)}")
    p.add_argument("--model-type", choices=MONO_MODEL_TYPES, help="default: the model the class pairs with")
    p.add_argument("--min-depth", type=float, help="dataset.min_depth to simulate (default: the class's)")
    p.add_argument("--max-depth", type=float, help="dataset.max_depth to simulate (default: the class's)")
    p.add_argument("--normalize-depth", action="store_true", help="simulate dataset.normalize_depth: true")
    p.add_argument("--sample", type=int, default=DEFAULT_SAMPLE, help="pairs to read, spread across scenes")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    from specgen.data.doctor import diagnose

    if args.sample < 1:
        print("depthnet: --sample must be at least 1", file=sys.stderr)
        return 2
    try:
        report = diagnose(
            args.data_file,
            args.dataset_name,
            args.model_type,
            min_depth=args.min_depth,
            max_depth=args.max_depth,
            normalize_depth=args.normalize_depth,
            sample=args.sample,
        )
    except (OSError, ValueError) as exc:
        print(f"depthnet: {exc}", file=sys.stderr)
        return 1
    if args.json:
        doc = report.model_dump()
        doc["fails"] = report.fails
        print(json.dumps(doc, indent=2, allow_nan=False, default=str))
    else:
        enc = report.encoding
        print(
            f"{report.data_file}: {report.lines} lines, {len(report.samples)} sampled, class {report.dataset_name} "
            f"({report.model_type})"
        )
        if enc:
            print(f"encoding: {enc.label} (confidence {enc.confidence:.0%})")
            for e in enc.evidence:
                print(f"  - {e}")
        if report.valid_ratio is not None:
            print(f"valid pixels as {report.dataset_name} sees them: {report.valid_ratio:.1%}")
        for f in report.findings:
            print("\n".join(finding_lines(f)))
        s = report.suggestion
        if s and s.dataset_name:
            rng = f", min_depth {s.min_depth}, max_depth {s.max_depth}" if s.min_depth is not None else ""
            print(f"suggestion: dataset_name {s.dataset_name}, model_type {s.model_type}{rng} — {s.reason}")
        elif s:
            print(f"suggestion: {s.reason}")
        print("verdict: " + ("this run would fail or learn the wrong thing" if report.fails else "healthy"))
    return 1 if report.fails else 0
