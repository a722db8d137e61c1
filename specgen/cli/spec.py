"""``depthnet spec | validate | pairs | recipes | references``: writing and checking specs."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from specgen.cli.common import (
    EXIT_OK,
    EXIT_PROBLEM,
    EXIT_USAGE,
    _err,
    _parse_sets,
    _print_json,
    write_data,
)
from specgen.spec.catalog import DATASETS, pairing_table

if TYPE_CHECKING:
    from specgen.job.builders import BuildRequest

from specgen.spec.names import ACTIONS, ENCODERS, MONO_MODEL_TYPES, RECIPES, STARTS

# --------------------------------------------------------------------------- spec


def cmd_spec(args: argparse.Namespace) -> int:
    from specgen.job.builders import BuildRequest, SpecError, build_spec

    if args.action == "convert":
        return _cmd_spec_convert(args)
    absolute = (
        _absolute  # paths typed relative to this folder mean nothing inside the container: made absolute
    )
    req = BuildRequest(
        action=args.action,
        model_type=args.model_type,
        dataset_name=args.dataset_name,
        data_file=absolute(args.data_file),
        val_data_file=absolute(args.val_data_file),
        results_dir=absolute(args.results_dir),
        checkpoint=absolute(args.checkpoint),
        encoder=args.encoder,
        recipe=args.recipe,
        min_depth=args.min_depth,
        max_depth=args.max_depth,
        onnx_file=absolute(args.onnx_file),
        trt_engine=absolute(args.trt_engine),
        calibration_images_dir=absolute(args.calibration_images_dir),
        overrides=_parse_sets(args.set),
        allow_known_failure=args.allow_known_failure,
    )
    try:
        spec, warnings = build_spec(req)
    except SpecError as exc:
        for problem in exc.problems:
            _err(problem.line())
        return EXIT_PROBLEM
    for problem in warnings:
        _err(problem.line())
    start = _say_start(req)
    header = (
        f"depth_net {args.action} spec — written by depthnet-tui ({args.recipe} recipe{start})\n"
        f"run: depth_net {args.action} -e <this file>"
    )
    return _write_out(args.output, spec, full=args.full, force=args.force, header=header)


def _say_start(req: BuildRequest) -> str:
    """Say (stderr) what a train spec starts from and why its key; the header remembers it."""
    from specgen.job.builders import start_route

    if req.action != "train":
        return ""
    route = start_route(req)
    if route is None:
        print(
            "  start: random weights — a sanity run (nothing pretrained; --checkpoint FILE, or depthnet weights "
            "list, to fine-tune); the recipe uses the from-scratch lr",
            file=sys.stderr,
        )
        return "; start: random weights"
    print(f"  start: {req.checkpoint} → {route.key}", file=sys.stderr)
    for note in route.notes:
        print(f"  {note}", file=sys.stderr)
    return f"; start: {route.start} from {req.checkpoint} in {route.key}"


def _absolute(path: str | None) -> str | None:
    import os

    return os.path.abspath(path) if path and not os.path.isabs(path) and "://" not in path else path


def _write_out(output: str, spec: Any, *, full: bool, force: bool, header: str) -> int:
    """To stdout for '-', else atomically to the file, never over an existing one without --force."""
    from specgen.spec.atomicio import RefusedOverwrite
    from specgen.spec.render import render, write_spec

    if output == "-":
        write_data(render(spec, full=full, header=header))
        return EXIT_OK
    try:
        path = write_spec(output, spec, full=full, overwrite=force, header=header)
    except RefusedOverwrite as exc:
        _err(str(exc))
        return EXIT_PROBLEM
    print(f"wrote {path}")
    return EXIT_OK


def _cmd_spec_convert(args: argparse.Namespace) -> int:
    from specgen.job.builders import ConvertRequest, build_convert_spec
    from specgen.spec.problems import UsageError

    if not args.data_root or not args.image_pattern or not args.depth_pattern:
        raise UsageError("spec convert needs --data-root, --image-pattern and --depth-pattern")
    spec = build_convert_spec(
        ConvertRequest(
            data_root=_absolute(args.data_root),
            results_dir=_absolute(args.results_dir),
            image_patterns=args.image_pattern,
            depth_patterns=args.depth_pattern,
            image_extension=args.image_ext,
            depth_extension=args.depth_ext,
            split_ratio=args.split_ratio,
        )
    )
    header = "depth_net convert spec — written by depthnet-tui\nrun: depth_net convert -e <this file>"
    return _write_out(args.output, spec, full=True, force=args.force, header=header)


# --------------------------------------------------------------------------- validate / pairs / recipes


class LineProgress:
    """The annotation check's progress on stderr, shown only once it has taken more than 2 s (a small list is
    checked before anyone would read a bar): ``checking dataset.train_dataset…: [#####     ] 52% (10,400 lines)``."""

    def __init__(self, after: float = 2.0) -> None:
        import time

        self._clock = time.monotonic
        self.after = after
        self.start = self._clock()
        self.shown = False

    @staticmethod
    def after_from_env() -> float:
        """``DEPTHNET_PROGRESS_AFTER`` seconds (0: always shown, e.g. to see it on a small list), else 2."""
        import os

        try:
            return max(0.0, float(os.environ.get("DEPTHNET_PROGRESS_AFTER", "2")))
        except ValueError:
            return 2.0

    def __call__(self, key: str, lines: int, fraction: float) -> None:
        if self._clock() - self.start < self.after:
            return
        self.shown = True
        bar = "#" * int(fraction * 20)
        print(
            f"\rchecking {key}: [{bar:<20}] {fraction:4.0%} ({lines:,} lines)",
            end="",
            file=sys.stderr,
            flush=True,
        )

    def done(self) -> None:
        if self.shown:
            print(file=sys.stderr, flush=True)


def cmd_validate(args: argparse.Namespace) -> int:
    from specgen.job.validate import validate_data
    from specgen.spec.render import SpecFileError, read_yaml

    try:
        data = read_yaml(args.spec)
    except SpecFileError as exc:
        _err(str(exc))
        return EXIT_PROBLEM
    progress = LineProgress(LineProgress.after_from_env())
    _spec, problems = validate_data(
        data,
        args.action,
        check_files=not args.no_file_check,
        allow_known_failure=args.allow_known_failure,
        annotations=True,
        annotation_mode="all",  # every line's files: the one look before TAO's minute
        progress=progress,
    )
    progress.done()
    if args.json:
        _print_json(
            {
                "file": args.spec,
                "action": args.action,
                "ok": not any(p.severity == "error" for p in problems),
                "problems": [p.model_dump() for p in problems],
            }
        )
    else:
        for problem in problems:
            print(problem.line())
        if not problems:
            print(f"{args.spec}: ok" + (f" for {args.action}" if args.action else ""))
    return EXIT_PROBLEM if any(p.severity == "error" for p in problems) else EXIT_OK


def cmd_pairs(args: argparse.Namespace) -> int:
    rows = pairing_table()
    if args.json:
        _print_json(rows)
        return EXIT_OK
    width = max(len(r["dataset_name"]) for r in rows)
    for r in rows:
        print(f"{r['dataset_name']:<{width}}  {r['model_type']:<21}  {r['explanation']}")
    return EXIT_OK


def cmd_recipes(args: argparse.Namespace) -> int:
    from specgen.spec.recipes import get_recipe

    if args.name is None:
        recipes = [get_recipe(name, args.model_type, start=args.start) for name in RECIPES]
        if args.json:
            _print_json(
                [
                    {"name": name, "title": r.title, "summary": r.summary}
                    for name, r in zip(RECIPES, recipes, strict=True)
                ]
            )
        else:
            for name, r in zip(RECIPES, recipes, strict=True):
                print(f"{name:<10} {r.title}: {r.summary}")
        return EXIT_OK
    recipe = get_recipe(args.name, args.model_type, start=args.start)
    if args.json:
        _print_json(recipe.model_dump())
        return EXIT_OK
    print(f"{recipe.title}: {recipe.summary}")
    for v in recipe.values:
        print(f"  {v.path} = {v.value!r}  — {v.reason}")
    return EXIT_OK


def cmd_references(args: argparse.Namespace) -> int:
    from specgen.job.references import check_references, write_references

    if args.check:
        stale = check_references(args.dir)
        for name in stale:
            _err(f"{name} is stale; run `depthnet references --dir {args.dir}` to regenerate")
        return EXIT_PROBLEM if stale else EXIT_OK
    for path in write_references(args.dir):
        print(f"wrote {path}")
    return EXIT_OK


# --------------------------------------------------------------------------- parser


def _add_spec_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "spec",
        help="write the spec YAML for one action",
        description="Write a validated depth_net spec for one action.",
    )
    p.add_argument("action", choices=[*ACTIONS, "convert"], help="the action the spec is for")
    p.add_argument(
        "--model-type",
        default="MetricDepthAnything",
        choices=MONO_MODEL_TYPES,
        help="metric (metres) or relative depth",
    )
    p.add_argument("--dataset-name", default="NYUDV2", help=f"one of: {', '.join(d.name for d in DATASETS)}")
    p.add_argument(
        "--data-file", help="annotation file (train.txt for train/quantize, test.txt for evaluate …)"
    )
    p.add_argument("--val-data-file", help="validation annotation file (default: val.txt beside train.txt)")
    p.add_argument("--results-dir", required=True, help="where TAO writes (made absolute)")
    p.add_argument(
        "--checkpoint",
        help="train: the weights to start from (a public release, a DINOv2 backbone or a TAO checkpoint: the key "
        "follows from what it holds, see depthnet weights inspect); evaluate/inference/export/quantize: the .pth",
    )
    p.add_argument(
        "--encoder",
        choices=ENCODERS,
        help="DINOv2 encoder size (default: the --checkpoint file's, else vitl)",
    )
    p.add_argument(
        "--recipe", default="finetune", choices=RECIPES, help="values with reasons (`depthnet recipes`)"
    )
    p.add_argument("--min-depth", type=float, help="dataset.min_depth in metres (metric)")
    p.add_argument("--max-depth", type=float, help="dataset.max_depth in metres (metric)")
    p.add_argument("--onnx-file", help="export: the ONNX to write; gen_trt_engine: the ONNX to build from")
    p.add_argument("--trt-engine", help="the TensorRT engine to write or use")
    p.add_argument("--calibration-images-dir", help="RGB images for calibration (quantize)")
    p.add_argument("--set", action="append", metavar="KEY.PATH=VALUE", help="override any key (repeatable)")
    p.add_argument(
        "--full", action="store_true", help="write every key, not only what differs from TAO's defaults"
    )
    p.add_argument("-o", "--output", required=True, help="spec file to write ('-' for stdout)")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.add_argument(
        "--allow-known-failure",
        action="store_true",
        help="write the spec although the data check says its loss will be NaN",
    )
    conv = p.add_argument_group("convert only")
    conv.add_argument("--data-root", help="the folder holding the scene folders")
    conv.add_argument("--image-pattern", action="append", help="substring every RGB path holds (repeatable)")
    conv.add_argument(
        "--depth-pattern", action="append", help="what replaces it in the depth path (repeatable)"
    )
    conv.add_argument("--image-ext", default=".jpg", help="RGB extension (default .jpg)")
    conv.add_argument("--depth-ext", default=".png", help="depth extension (default .png)")
    conv.add_argument("--split-ratio", type=float, default=0.8, help="share that goes to train")
    p.set_defaults(func=cmd_spec)


def register(sub: argparse._SubParsersAction) -> None:
    _add_spec_parser(sub)

    v = sub.add_parser("validate", help="check a spec; each problem on its own line")
    v.add_argument("spec", help="the spec file to check")
    v.add_argument("--action", choices=ACTIONS, help="check it for this action (default: every section)")
    v.add_argument("--json", action="store_true", help="print the problems as JSON")
    v.add_argument("--no-file-check", action="store_true", help="do not look for data files on this machine")
    v.add_argument(
        "--allow-known-failure",
        action="store_true",
        help="report a run the data says will produce NaN as a warning, not an error",
    )
    v.set_defaults(func=cmd_validate)

    pr = sub.add_parser("pairs", help="the model_type ↔ dataset_name table")
    pr.add_argument("--json", action="store_true", help="print JSON")
    pr.set_defaults(func=cmd_pairs)

    r = sub.add_parser("recipes", help="list the recipes, or show one's values and reasons")
    r.add_argument("name", nargs="?", choices=RECIPES, help="a recipe; none: the list")
    r.add_argument(
        "--model-type",
        default="MetricDepthAnything",
        choices=MONO_MODEL_TYPES,
        help="the recipe for this model type",
    )
    r.add_argument(
        "--start",
        default="whole",
        choices=STARTS,
        help="what training starts from: a whole pretrained model, a backbone (fresh head) or none (random)",
    )
    r.add_argument("--json", action="store_true", help="print JSON")
    r.set_defaults(func=cmd_recipes)

    ref = sub.add_parser(
        "references",
        help="write the generated reference files into a folder you name",
        description="Writes (or with --check compares) the generated files — spec templates, the "
        "parameter table, the train schema — only into --dir.",
    )
    ref.add_argument(
        "--dir", required=True, help="the folder to write into (a checkout's references/ to refresh it)"
    )
    ref.add_argument("--check", action="store_true", help="exit 1 when a generated file is stale")
    ref.set_defaults(func=cmd_references)

    h = sub.add_parser("help", help="read a help topic (the same text as F1 in the app); no topic lists them")
    h.add_argument("topic", nargs="?", help="a topic name, e.g. finetuning, troubleshooting, after-training")
    h.set_defaults(func=cmd_help)


def cmd_help(args: argparse.Namespace) -> int:
    from specgen.job.help import help_text, topics

    names = topics()
    if not names:
        _err("no help topics are installed with this copy of depthnet-tui (references/ is missing)")
        return EXIT_PROBLEM
    if args.topic is None:
        print("Help topics (depthnet help TOPIC):")
        for name, title in names.items():
            print(f"  {name:<18} {title}")
        return EXIT_OK
    topic = args.topic.removesuffix(".md")
    if topic not in names:
        _err(f"no help topic {args.topic!r}; topics: {', '.join(names)}")
        return EXIT_USAGE
    print(help_text(f"{topic}.md"))
    return EXIT_OK
