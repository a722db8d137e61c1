"""``depthnet weights inspect | list | fetch | strip-ddp``: what a weights file is, the public ones, getting them."""

from __future__ import annotations

import argparse
import os
import sys
import time

from specgen.cli.common import EXIT_OK, EXIT_PROBLEM, _err, _print_json


def _where_it_goes(info) -> list[str]:
    """For people: the key the file goes to for each model type (train)."""
    from specgen.job.weights import route

    lines = []
    for model_type in ("RelativeDepthAnything", "MetricDepthAnything"):
        r = route(info, model_type, info.encoder)
        short = model_type.replace("DepthAnything", "")
        if r.ok:
            what = "whole model" if r.start == "whole" else "backbone only, the head from scratch"
            lines.append(f"  {short:<8} train: {r.key} ({what})")
        else:
            assert r.problem is not None
            lines.append(f"  {short:<8} train: refused — {r.problem.message}; {r.problem.fix}")
    export = route(info, "RelativeDepthAnything", info.encoder, "export")
    lines.append(
        "  export/quantize: " + ("yes" if export.ok else "no (TAO exports Lightning checkpoints only)")
    )
    return lines


def cmd_inspect(args: argparse.Namespace) -> int:
    from specgen.data.checkpoints import CheckpointError, inspect_checkpoint

    t0 = time.perf_counter()
    try:
        info = inspect_checkpoint(args.file)
    except CheckpointError as exc:
        _err(str(exc))
        return EXIT_PROBLEM
    seconds = time.perf_counter() - t0
    if args.json:
        _print_json({**info.as_json(), "seconds": round(seconds, 4)})
        return EXIT_OK
    print(f"{info.path}: {info.describe()}")
    print(
        f"  layout {info.layout}, encoder {info.encoder or '?'}, head {info.head or '-'}, "
        f"{info.format}, {info.size / 1e6:.1f} MB, dtypes {', '.join(info.dtypes) or '-'}"
        + (f", Lightning {info.lightning_version} (epoch {info.epoch})" if info.lightning_version else "")
    )
    for note in info.notes:
        print(f"  note: {note}")
    for line in _where_it_goes(info):
        print(line)
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    from specgen.spec.releases import NOT_PUBLIC, RELEASES

    if args.json:
        _print_json(
            [
                {
                    "name": r.name,
                    "title": r.title,
                    "kind": r.kind,
                    "encoder": r.encoder,
                    "licence": r.licence,
                    "parameters": r.parameters,
                    "size_bytes": r.size_bytes,
                    "filename": r.filename,
                    "repo_id": r.repo_id,
                    "url": r.url,
                    "max_depth": r.max_depth,
                    "trained_on": r.trained_on,
                    "fetchable": r.fetchable,
                }
                for r in RELEASES
            ]
        )
        return EXIT_OK
    print(f"{'name':<26} {'kind':<9} {'enc':<5} {'licence':<13} {'size':>8}  from")
    for r in RELEASES:
        extra = f" (max_depth {r.max_depth:g}, {r.trained_on})" if r.max_depth else ""
        print(
            f"{r.name:<26} {r.kind:<9} {r.encoder:<5} {r.licence:<13} {r.size_text():>8}  "
            f"{r.repo_id or r.url}{extra}"
        )
    print("CC-BY-NC-4.0: non-commercial use only.  " + "  ".join(NOT_PUBLIC.values()))
    print("get one: depthnet weights fetch NAME [--dir DIR]; use it: depthnet spec train --checkpoint FILE …")
    return EXIT_OK


def cmd_fetch(args: argparse.Namespace) -> int:
    from specgen.spec.releases import NOT_PUBLIC, find_release

    release = find_release(args.name)
    if release is None:
        _err(NOT_PUBLIC.get(args.name.lower()) or f"no release {args.name!r}; see depthnet weights list")
        return EXIT_PROBLEM
    from specgen.engine.hub import FetchError, fetch

    print(
        f"{release.title}: {release.licence}, {release.size_text()}, from {release.repo_id}", file=sys.stderr
    )
    if release.non_commercial:
        print("  licence CC-BY-NC-4.0: non-commercial use only", file=sys.stderr)
    try:
        got = fetch(release, args.dir)
    except FetchError as exc:
        _err(str(exc))
        return EXIT_PROBLEM
    if args.json:
        _print_json(
            {"path": got.path, "verified": got.verified, "release": release.name, **got.info.as_json()}
        )
        return EXIT_OK
    print(got.path)
    print(
        f"  {got.info.describe()}" + ("; SHA-256 verified" if got.verified else ""),
        file=sys.stderr,
    )
    if release.max_depth:
        print(
            f"  trained with dataset.max_depth {release.max_depth:g} ({release.trained_on})", file=sys.stderr
        )
    print(f"  next: depthnet spec train --checkpoint {got.path} …", file=sys.stderr)
    return EXIT_OK


def cmd_strip_ddp(args: argparse.Namespace) -> int:
    from specgen.data.checkpoints import CheckpointError, strip_ddp

    if os.path.lexists(args.output) and not args.force:
        _err(f"{args.output} already exists; pass --force to replace it")
        return EXIT_PROBLEM
    try:
        info = strip_ddp(args.file, args.output)
    except CheckpointError as exc:
        _err(str(exc))
        return EXIT_PROBLEM
    print(f"wrote {args.output}: {info.describe()}")
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    w = sub.add_parser(
        "weights",
        help="what a weights file holds, the public releases, fetching them",
        description="Inspect a checkpoint without torch, list and fetch the public Depth Anything V2 / DINOv2 "
        "weights, re-save a DDP checkpoint without its module. prefix.",
    )
    ws = w.add_subparsers(dest="weights_command", required=True)
    i = ws.add_parser("inspect", help="layout, encoder, head, tensors, and the spec key it goes to")
    i.add_argument("file", help="a .pth (torch.save) or .safetensors file")
    i.add_argument("--json", action="store_true", help="print one JSON object")
    i.set_defaults(func=cmd_inspect)
    ls = ws.add_parser("list", help="the public releases: encoder, kind, licence, size, where from")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=cmd_list)
    f = ws.add_parser("fetch", help="download a release through the Hugging Face Hub client, then inspect it")
    f.add_argument("name", help="a name from `depthnet weights list` (or its file name)")
    f.add_argument("--dir", help="put the file in this folder (default: the Hugging Face cache)")
    f.add_argument("--json", action="store_true", help="print the path and the inspection as JSON")
    f.set_defaults(func=cmd_fetch)
    s = ws.add_parser(
        "strip-ddp", help="re-save a DDP checkpoint without the module. prefix (no torch needed)"
    )
    s.add_argument("file", help="the checkpoint whose keys start with module.")
    s.add_argument("-o", "--output", required=True, help="the new file")
    s.add_argument("--force", action="store_true", help="replace an existing output file")
    s.set_defaults(func=cmd_strip_ddp)
