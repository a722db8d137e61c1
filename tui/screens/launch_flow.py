"""Launching a saved spec from any screen: run options → preflight (an explicit yes for what may be overridden) →
start. Shared by the Spec step and the Next-step screen (each opens the Run screen its own way); call it from a
worker."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, NamedTuple, cast

from textual.app import App

from specgen.engine.backend import Backend
from specgen.engine.records import LaunchError, RunRecord
from tui.screens.modals import ProblemsScreen, RunChoice, RunOptionsScreen

if TYPE_CHECKING:
    from specgen.spec.actions import Action


class Choice(NamedTuple):
    """The run options a step remembers (and offers again next time): "" means the default."""

    backend: str
    image: str
    gpus: str
    network: str


class Launched(NamedTuple):
    """What the launch flow did: the options chosen (None: cancelled), the started run and its backend (None: not
    started, or only a script was written). The backend holds what the run was prepared with: give it to the Run
    screen, whose follower releases it."""

    choice: Choice | None
    record: RunRecord | None
    backend: Backend | None


async def launch_spec(
    app: App,
    action: str,
    spec_path: str,
    defaults: tuple[str, str, str, str],
    *,
    allow_known_failure: bool = False,
) -> Launched:
    """Run options → preflight (an explicit yes for what may be overridden) → start."""
    from specgen.engine.launch import RunOptions, prepare, start
    from specgen.engine.settings import settings

    conf = await asyncio.to_thread(settings)  # what the step has not chosen yet, the machine's settings offer
    backend_was, image_was, gpus_was, network_was = defaults
    offered = (
        backend_was or conf.backend or "",
        image_was or conf.image or "",
        gpus_was or conf.gpus,
        network_was or conf.network or "",
    )
    picked: RunChoice | None = await app.push_screen_wait(RunOptionsScreen(*offered))
    if picked is None:
        return Launched(None, None, None)
    backend = picked.backend
    if backend in ("", "docker"):
        found = await _engine_or_choice(app, backend)
        if found is None:
            return Launched(None, None, None)
        backend = found
    choice = Choice(backend, picked.image, picked.gpus, picked.network)
    opts = RunOptions(
        action=cast("Action", action),  # validated by the model
        spec=spec_path,
        backend=backend or None,
        image=picked.image or None,
        gpus=picked.gpus or "0",
        network=picked.network or None,
        allow_known_failure=allow_known_failure,
        slurm=picked.slurm,
    )
    try:
        prepared = await asyncio.to_thread(prepare, opts)
        if prepared.problems:
            prepared.discard()  # the results folder is not held while the person reads
            if not await app.push_screen_wait(
                ProblemsScreen("Before launch", prepared.problems, prepared.confirmable)
            ):
                return Launched(choice, None, None)
            opts.force = True
            prepared = await asyncio.to_thread(prepare, opts)
            if prepared.problems:
                prepared.discard()
                await app.push_screen_wait(ProblemsScreen("Before launch", prepared.problems, False))
                return Launched(choice, None, None)
        for note in prepared.notes:
            app.notify(note, title="Before launch", timeout=12)
        record, run_backend = await asyncio.to_thread(start, prepared, opts.backend, picked.slurm)
    except LaunchError as exc:
        await app.push_screen_wait(ProblemsScreen("Not launched", str(exc).splitlines(), False))
        return Launched(choice, None, None)
    if not run_backend.starts:
        app.notify(
            f"No Docker engine and no depth_net here: wrote {record.script} — run it on the GPU machine.",
            title="Script written",
            timeout=20,
        )
        return Launched(choice, None, None)
    return Launched(choice, record, run_backend)


async def _engine_or_choice(app: App, backend: str) -> str | None:
    """Docker wanted (or auto) and no engine answers: the person chooses what happens instead (never a silent
    fallback). The backend to use, or None when cancelled."""
    import shutil

    from specgen.engine.setup import docker_client
    from tui.screens.modals import NoEngineScreen

    while True:
        client, check = await asyncio.to_thread(docker_client)
        if client is not None:
            return backend or "docker"
        where = check.detail.removeprefix("no Docker engine answers at ")
        answer = await app.push_screen_wait(
            NoEngineScreen(where, check.fix, shutil.which("depth_net") is not None)
        )
        if answer != "retry":
            return answer or None
