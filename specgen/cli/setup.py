"""``depthnet setup [--json] [--pull] [--image IMG]``: can this machine run TAO depth_net, and the fix for what not.
Exit 0 when no check fails, 1 otherwise."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from specgen.cli.common import EXIT_OK, EXIT_PROBLEM, _err

MARK = {"ok": "[green]ok[/]  ", "warn": "[yellow]warn[/]", "fail": "[red]fail[/]"}


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "setup",
        help="check Docker, the NVIDIA runtime, GPUs, NGC login, TAO images, disk; pull images",
        description="Each check says ok / warn / fail, what it found and the fix that applies here.",
    )
    s.add_argument("--json", action="store_true", help='{"checks": [{"name", "status", "detail", "fix"}]}')
    s.add_argument("--pull", action="store_true", help="pull the TAO images that are missing (live progress)")
    s.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="IMG",
        help="pull this image instead of the TAO ones (repeatable; with --pull)",
    )
    s.add_argument("--output-dir", default=".", help="where runs will write (for the free-disk check)")
    s.set_defaults(func=cmd_setup)


def cmd_setup(args: argparse.Namespace) -> int:
    from specgen.engine.setup import docker_client, run_checks

    engine = docker_client()  # asked once, for the pull and the checks
    pulled_ok = _pull(engine, args.image, quiet=args.json) if args.pull else True
    report = run_checks(args.output_dir, engine=engine)
    if args.json:
        print(json.dumps({"checks": [c.as_dict() for c in report.checks]}, indent=2))
    else:
        from rich.console import Console

        console = Console(
            highlight=False, soft_wrap=True
        )  # a fix is a command to copy: never broken mid-line
        for c in report.checks:
            console.print(f"{MARK[c.status]}  [b]{c.name}[/]: {c.detail}", markup=True)
            if c.fix and c.status != "ok":
                console.print(f"        fix: {c.fix}", markup=False)
    return EXIT_PROBLEM if report.failed or not pulled_ok else EXIT_OK


def _pull(engine: tuple[Any, Any], images: list[str], quiet: bool) -> bool:
    """Pull each missing image with a rich progress bar per layer and one for the total. False when one failed."""
    from specgen.spec.docker_cmd import DEPLOY_IMAGE, TRAIN_IMAGE

    client, check = engine
    if client is None:
        _err(f"cannot pull: {check.detail}; {check.fix}")
        return False
    wanted = images or [TRAIN_IMAGE, DEPLOY_IMAGE]
    ok = True
    for image in wanted:
        try:
            client.images.get(image)
            if not quiet:
                print(f"{image}: already here", file=sys.stderr)
            continue
        except Exception:  # noqa: BLE001 - not here: pull it
            pass
        if not _pull_one(client, image, quiet):
            ok = False
    return ok


def _pull_one(client: object, image: str, quiet: bool) -> bool:
    from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TransferSpeedColumn

    from specgen.engine.pull import PullError, PullState, pull

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        disable=quiet,
        console=None,
    ) as progress:
        total_task = progress.add_task(image, total=None)
        tasks: dict[str, TaskID] = {}

        def show(state: PullState) -> None:
            for layer in state.layers.values():
                if layer.id not in tasks:
                    tasks[layer.id] = progress.add_task(f"  {layer.id}", total=layer.total or None)
                progress.update(
                    tasks[layer.id],
                    completed=layer.current,
                    total=layer.total or None,
                    description=f"  {layer.id} {layer.status}",
                )
            progress.update(total_task, completed=state.current, total=state.total or None)

        try:
            state = pull(client, image, show)
        except PullError as exc:
            progress.stop()
            _err(str(exc))
            return False
    if not quiet:
        print(f"{image}: {state.status or 'pulled'}", file=sys.stderr)
    return True
