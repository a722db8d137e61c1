"""``depthnet next | metrics | outputs``: build on a finished run. Exit 0 ok, 1 a problem, 2 usage."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from specgen.cli.common import _err, _parse_sets, write_data
from specgen.spec.atomicio import RefusedOverwrite, write_text_atomic
from specgen.spec.names import NEXT_ACTIONS

if TYPE_CHECKING:  # imported by the commands that use them: `depthnet --help` does not pay for the engine
    from specgen.engine.results import RunRef
    from specgen.job.chain import Choices, Derived

FOLLOWERS = sorted({a for nexts in NEXT_ACTIONS.values() for a in nexts})


def register(sub: argparse._SubParsersAction) -> None:
    n = sub.add_parser(
        "next",
        help="derive the next action's spec from a finished run (prefilled: checkpoint, model, "
        "depth block, data)",
    )
    n.add_argument(
        "run", help="a run id from `depthnet runs`, or an action's results folder (holding experiment.yaml)"
    )
    n.add_argument("action", choices=FOLLOWERS, help="the action to derive a spec for")
    n.add_argument(
        "-o",
        "--output",
        help="spec file to write ('-' = stdout; default <results_dir>/specs/<action>.yaml, a free name)",
    )
    n.add_argument("--checkpoint", help="use this .pth instead of the run's latest")
    n.add_argument(
        "--data-file", help="annotation file to evaluate/infer on (default: the run's val/test data)"
    )
    n.add_argument(
        "--images-dir",
        help="inference on a folder of your own images: writes a one-column list beside the spec and uses it",
    )
    n.add_argument("--dataset-name", help="dataset class for --data-file (default: the run's)")
    n.add_argument("--onnx-file", help="the ONNX file to export to or build from")
    n.add_argument("--trt-engine", help="the TensorRT engine file to write or use")
    n.add_argument(
        "--data-type",
        choices=("FP32", "BF16", "FP16"),
        help="TensorRT precision (FP16 is refused for vitl/vitg)",
    )
    n.add_argument("--calibration-images-dir", help="RGB images for INT8/quantize calibration")
    n.add_argument("--results-dir", help="the new action's own results folder")
    n.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="any further spec value, e.g. export.opset_version=17",
    )
    n.add_argument("--full", action="store_true", help="write every key")
    n.add_argument("--force", action="store_true", help="replace an existing -o file")
    n.add_argument(
        "--allow-failed", action="store_true", help="derive from a run that failed or did not finish"
    )
    n.add_argument("--json", action="store_true", help="print the derivation (spec, notes, problems) as JSON")
    n.set_defaults(func=cmd_next)

    m = sub.add_parser("metrics", help="evaluation metrics of one run, or several side by side")
    m.add_argument("runs", nargs="+", help="run ids or results folders of evaluate (or train) runs")
    m.add_argument("--json", action="store_true", help="print JSON")
    m.set_defaults(func=cmd_metrics)

    o = sub.add_parser("outputs", help="list what an inference run wrote (picture, input, raw PFM)")
    o.add_argument("run", help="a run id or an inference results folder")
    o.add_argument("--stats", action="store_true", help="read each PFM: predicted min/median/max")
    o.add_argument("--json", action="store_true", help="print JSON")
    o.set_defaults(func=cmd_outputs)


def next_spec(
    ref: str, action: str, choices: Choices, *, allow_failed: bool = False
) -> tuple[RunRef, Derived]:
    from specgen.engine.results import failure, resolve
    from specgen.job.chain import ChainError, derive

    if allow_failed:  # building on a failed run knowingly: its data's known failure is accepted with it
        choices = choices.model_copy(update={"allow_known_failure": True})
    run = resolve(ref)
    why = failure(run)
    if why and not allow_failed:
        raise ChainError(f"{why}; building on it would waste GPU time (pass --allow-failed to derive anyway)")
    return run, derive(run.source, action, choices)


def cmd_next(args: argparse.Namespace) -> int:
    from specgen.job.chain import ChainError, Choices
    from specgen.spec.problems import UsageError

    choices = Choices(
        checkpoint=args.checkpoint,
        data_file=args.data_file,
        dataset_name=args.dataset_name,
        onnx_file=args.onnx_file,
        trt_engine=args.trt_engine,
        data_type=args.data_type,
        calibration_images_dir=args.calibration_images_dir,
        results_dir=args.results_dir,
        overrides=_parse_sets(args.set),
    )
    if args.images_dir:
        if args.action != "inference" or args.data_file:
            raise UsageError("--images-dir is for inference, instead of --data-file")
        listed = _write_image_list(args.images_dir, args.output)
        if listed is None:
            return 1
        choices.data_file = listed
    try:
        run, derived = next_spec(args.run, args.action, choices, allow_failed=args.allow_failed)
    except ChainError as exc:
        for line in str(exc).splitlines():
            _err(line)
        return 1
    text = derived.text(full=args.full)
    if args.json:
        print(
            json.dumps(
                {
                    "source": run.label,
                    "action": derived.action,
                    "image": derived.image,
                    "notes": derived.notes,
                    "problems": [p.model_dump() for p in derived.problems],
                    "spec": text,
                },
                indent=2,
            )
        )
        return 0
    for note in derived.notes:
        print(f"  {note}", file=sys.stderr)
    for problem in derived.problems:
        _err(problem.line())
    if args.output == "-":
        write_data(text)
        return 0

    path = Path(args.output) if args.output else derived.default_path()
    try:
        write_text_atomic(path, text, overwrite=args.force)
    except (RefusedOverwrite, OSError) as exc:
        _err(str(exc))
        return 1
    print(f"wrote {path}")
    print(
        f"next: depthnet run {derived.action} -e {path}"
        + ("   (TAO Deploy image)" if "deploy" in derived.image else "")
    )
    return 0


def _write_image_list(folder: str, output: str | None) -> str | None:
    from specgen.spec.paths import free_path

    """The one-column annotation file for --images-dir (beside -o, else in the folder's parent), atomically."""
    from specgen.data.inference_outputs import image_list

    if not Path(folder).is_dir():
        _err(f"--images-dir {folder}: no such folder")
        return None
    images, skipped = image_list(folder)
    for line in skipped[:10]:
        _err(f"skipped {line}")
    if not images:
        _err(f"{folder} holds no .png/.jpg/.jpeg image TAO can read")
        return None
    base = Path(output).parent if output and output != "-" else Path(folder).resolve().parent
    path = Path(free_path(str(base / f"{Path(folder).name}_images.txt")))
    write_text_atomic(path, "".join(f"{p}\n" for p in images))
    print(f"  {len(images)} images listed in {path}", file=sys.stderr)
    return str(path)


def cmd_metrics(args: argparse.Namespace) -> int:
    from specgen.data.metrics import fmt, fmt_delta, metric_rows
    from specgen.engine.results import evaluations
    from specgen.job.chain import ChainError

    try:
        found = evaluations(args.runs)
    except ChainError as exc:
        _err(str(exc))
        return 1
    rows = metric_rows([kpi for _, kpi in found])
    if args.json:
        print(json.dumps({"runs": [label for label, _ in found], "rows": rows}, indent=2, allow_nan=True))
        return 0
    labels = [label for label, _ in found]
    width = max(12, *(len(x) for x in labels))
    print(f"{'metric':<14}" + "".join(f"{label:>{width + 2}}" for label in labels))
    for row in rows:
        cells = []
        for i, value in enumerate(row["values"]):
            mark = " *" if row["best"] == i else "  "
            delta = fmt_delta(row["deltas"][i], row["higher_is_better"])
            cells.append(f"{(fmt(value) + (' ' + delta if delta else '')) + mark:>{width + 2}}")
        print(f"{row['label']:<14}" + "".join(cells))
    if len(found) > 1:
        print("* best; change against the first run, ▲ better ▼ worse")
    return 0


def _stats(pfm: str | None) -> dict[str, Any]:
    from specgen.data.doctor.readers import UnreadableFile, read_pfm
    from specgen.data.inference_outputs import prediction_stats

    if pfm is None:
        return {}
    try:
        return prediction_stats(read_pfm(pfm))
    except (UnreadableFile, OSError) as exc:
        return {"error": str(exc)}


def cmd_outputs(args: argparse.Namespace) -> int:
    from specgen.data.inference_outputs import list_outputs
    from specgen.engine.results import resolve
    from specgen.job.chain import ChainError

    try:
        run = resolve(args.run)
    except ChainError as exc:
        _err(str(exc))
        return 1
    if run.source.action != "inference":
        _err(f"{run.label} is a {run.source.action} run; give an inference run")
        return 1
    items = list_outputs(run.source.results_dir)
    if not items:
        _err(f"no pictures under {run.source.results_dir}/inference_images: did the inference run finish?")
        return 1
    rows: list[dict[str, Any]] = [
        {
            "output": i.output,
            "input": i.input,
            "input_exists": i.input_exists,
            "pfm": i.pfm,
            **({"stats": _stats(i.pfm)} if args.stats else {}),
        }
        for i in items
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        stats = row.get("stats") or {}
        extra = (
            f"  pred {stats['min']:.3g}–{stats['max']:.3g} (median {stats['median']:.3g})"
            if stats.get("min") is not None
            else ""
        )
        print(
            f"{row['input']}  →  {row['output']}"
            + (f"  + {row['pfm']}" if row["pfm"] else "  (no PFM)")
            + extra
        )
    with_pfm = sum(1 for r in rows if r["pfm"])
    print(f"{len(rows)} pictures, {with_pfm} with a raw PFM", file=sys.stderr)
    return 0
