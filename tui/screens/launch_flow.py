"""Launching a saved spec from any screen: run options → preflight (an explicit yes for what may be overridden) →
start. Shared by the Spec step and the Next-step screen (each opens the Run screen its own way); call it from a
worker."""

from __future__ import annotations

import asyncio

from textual.app import App

from specgen.engine.backends import LaunchError, RunRecord
from specgen.engine.launch import Backend
from tui.screens.modals import ProblemsScreen, RunOptionsScreen

Choice = tuple[str, str, str, str]  # backend, image, gpus, network


Launched = tuple[Choice | None, RunRecord | None, Backend | None]


async def launch_spec(
    app: App, action: str, spec_path: str, defaults: Choice, *, allow_known_failure: bool = False
) -> Launched:
    """The options the person chose (None when cancelled), the started run and its backend (None when not started,
    or when only a script was written)."""
    from specgen.engine.launch import RunOptions, discard, prepare, start

    picked = await app.push_screen_wait(RunOptionsScreen(*defaults))
    if picked is None:
        return None, None, None
    backend, image, gpus, network, slurm = picked
    if backend in ("", "docker"):
        backend = await _engine_or_choice(app, backend)
        if backend is None:
            return None, None, None
    choice: Choice = (backend, image, gpus, network)
    opts = RunOptions(
        action=action,
        spec=spec_path,
        backend=backend or None,
        image=image or None,
        gpus=gpus or "0",
        network=network or None,
        allow_known_failure=allow_known_failure,
        slurm=slurm,
    )
    try:
        prepared = await asyncio.to_thread(prepare, opts)
        if prepared.problems:
            discard(prepared.request.run_id)  # the results folder is not held while the person reads
            if not await app.push_screen_wait(
                ProblemsScreen("Before launch", prepared.problems, prepared.confirmable)
            ):
                return choice, None, None
            opts.force = True
            prepared = await asyncio.to_thread(prepare, opts)
            if prepared.problems:
                discard(prepared.request.run_id)
                await app.push_screen_wait(ProblemsScreen("Before launch", prepared.problems, False))
                return choice, None, None
        for note in prepared.notes:
            app.notify(note, title="Before launch", timeout=12)
        record, run_backend = await asyncio.to_thread(start, prepared.request, opts.backend, slurm)
    except LaunchError as exc:
        await app.push_screen_wait(ProblemsScreen("Not launched", str(exc).splitlines(), False))
        return choice, None, None
    if record.backend == "script":
        app.notify(
            f"No Docker engine and no depth_net here: wrote {record.script} — run it on the GPU machine.",
            title="Script written",
            timeout=20,
        )
        return choice, None, None
    return choice, record, run_backend


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
