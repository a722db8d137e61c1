"""Launching a saved spec from any screen: run options → preflight (an explicit yes for what may be overridden) →
start. Shared by the Spec step and the Next-step screen (each opens the Run screen its own way); call it from a
worker. From the Spec step a train spec can also start a sweep (``launch_or_sweep``): the engine checks and creates
the sweep folder, and ``depthnet sweep resume`` runs it in its own session — it goes on when the app is closed, and
the Sweep screen (F3) reads its study."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, cast

from textual.app import App

from specgen.engine.backend import Backend
from specgen.engine.records import LaunchError, RunRecord
from tui.screens.modals import ProblemsScreen, RunChoice, RunOptionsScreen, SweepChoice, SweepOffer

if TYPE_CHECKING:
    from specgen.spec.actions import Action

#: How long the app waits for a new sweep's first trial to start before it opens the Sweep screen anyway.
FIRST_TRIAL_WAIT = 120.0


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


class SweepStarted(NamedTuple):
    """A sweep asked for instead of one run: what was asked (the step remembers it) and the sweep folder, None when
    it did not start (already said)."""

    asked: SweepChoice
    folder: str | None


async def launch_spec(
    app: App,
    action: str,
    spec_path: str,
    defaults: tuple[str, str, str, str],
    *,
    allow_known_failure: bool = False,
) -> Launched:
    """Run options → preflight (an explicit yes for what may be overridden) → start."""
    launched, _sweep = await launch_or_sweep(
        app, action, spec_path, defaults, allow_known_failure=allow_known_failure
    )
    return launched


async def launch_or_sweep(
    app: App,
    action: str,
    spec_path: str,
    defaults: tuple[str, str, str, str],
    *,
    allow_known_failure: bool = False,
    offer: SweepOffer | None = None,
    sweeps_dir: str = "",
) -> tuple[Launched, SweepStarted | None]:
    """Run options (with ``offer``: one run or a sweep) → one run launched as ``launch_spec`` does, or a sweep
    created in a new folder under ``sweeps_dir`` and started."""
    from specgen.engine.settings import settings

    conf = await asyncio.to_thread(settings)  # what the step has not chosen yet, the machine's settings offer
    backend_was, image_was, gpus_was, network_was = defaults
    offered = (
        backend_was or conf.backend or "",
        image_was or conf.image or "",
        gpus_was or conf.gpus,
        network_was or conf.network or "",
    )
    picked: RunChoice | None = await app.push_screen_wait(
        RunOptionsScreen(*offered, sweep=offer, action=action)
    )
    if picked is None:
        return Launched(None, None, None), None
    backend = picked.backend
    if backend in ("", "docker"):
        found = await _engine_or_choice(app, backend)
        if found is None:
            return Launched(None, None, None), None
        backend = found
    choice = Choice(backend, picked.image, picked.gpus, picked.network)
    if picked.sweep is not None:
        folder = await _start_sweep(app, spec_path, backend, picked, picked.sweep, sweeps_dir)
        return Launched(choice, None, None), SweepStarted(picked.sweep, folder)
    return await _launch(app, action, spec_path, choice, picked, allow_known_failure), None


async def _launch(
    app: App, action: str, spec_path: str, choice: Choice, picked: RunChoice, allow_known_failure: bool
) -> Launched:
    from specgen.engine.launch import RunOptions, prepare, start

    opts = RunOptions(
        action=cast("Action", action),  # validated by the model
        spec=spec_path,
        backend=choice.backend or None,
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
        record, run_backend = await asyncio.to_thread(
            start, prepared, opts.backend, picked.slurm, retries=picked.retries
        )
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


async def _start_sweep(
    app: App, spec_path: str, backend: str, picked: RunChoice, asked: SweepChoice, sweeps_dir: str
) -> str | None:
    """Check and create the sweep (the engine's ``create_sweep``: nothing is made when it refuses), start its
    runner, and wait for the first trial to start — a runner whose first launch is refused gives the folder back
    and its one line is shown. The folder, or None when the sweep did not start."""
    from specgen.engine.sweep import (
        SweepConfig,
        choose_objective,
        create_sweep,
        default_space,
        parse_space,
        spawn_runner,
    )
    from specgen.job.gpus import parse_gpus
    from specgen.spec.paths import free_path
    from specgen.spec.render import read_yaml

    if backend == "script":
        await app.push_screen_wait(
            ProblemsScreen(
                "Sweep not started",
                [
                    "a sweep's trials must start from here: a script is run by hand; choose docker, local or slurm"
                ],
                False,
            )
        )
        return None
    try:
        data = await asyncio.to_thread(read_yaml, spec_path)
        params = parse_space(asked.space) or default_space(data)
        objective, direction, said = choose_objective(asked.objective or None, asked.direction or None, data)
        ids = parse_gpus(picked.gpus or "0")
        cfg = SweepConfig(
            trials=asked.trials,
            params=params,
            objective=objective,
            direction=direction,
            parallel=asked.parallel or (len(ids) if isinstance(ids, list) else 1),
            backend=backend or None,
            gpus=picked.gpus or "0",
            image=picked.image or None,
            network=picked.network or None,
            slurm=picked.slurm,
        )
        folder = Path(free_path(str(Path(sweeps_dir) / "sweep")))
        new = await asyncio.to_thread(create_sweep, folder, Path(spec_path), cfg)
    except (LaunchError, ValueError) as exc:  # SpecFileError and pydantic's ValidationError are ValueErrors
        await app.push_screen_wait(ProblemsScreen("Sweep not started", str(exc).splitlines()[:1], False))
        return None
    proc = await asyncio.to_thread(spawn_runner, new.folder)
    app.notify(
        f"{cfg.trials} trials of {', '.join(p.key.rsplit('.', 1)[-1] for p in params)}, {objective} ({direction})"
        f" → {new.folder}",
        title="Sweep starting",
        timeout=10,
    )
    if said:
        app.notify(said, title="Sweep", timeout=10)
    if await _first_trial(new.folder, proc):
        return str(new.folder)
    line = await asyncio.to_thread(_last_error, new.folder / "sweep.log")
    await asyncio.to_thread(new.discard)
    await app.push_screen_wait(ProblemsScreen("Sweep not started", [line], False))
    return None


async def _first_trial(folder: Path, proc: object) -> bool:
    """True once a trial of the sweep has a run, or the runner still runs after FIRST_TRIAL_WAIT; False when the
    runner ended before any trial started."""
    import subprocess

    from specgen.engine.sweep import started_trials

    assert isinstance(proc, subprocess.Popen)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + FIRST_TRIAL_WAIT
    while loop.time() < deadline:
        ended = proc.poll() is not None
        if await asyncio.to_thread(started_trials, folder) > 0:
            return True
        if ended:
            return False
        await asyncio.sleep(0.3)
    return True


def _last_error(log: Path) -> str:
    """The runner's own line for why it stopped (``depthnet: …``), from the end of its log."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()[-40:]
    except OSError:
        lines = []
    said = [line.removeprefix("depthnet: ") for line in lines if line.startswith("depthnet: ")]
    return said[-1] if said else (lines[-1] if lines else "the sweep's runner stopped before its first trial")


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
