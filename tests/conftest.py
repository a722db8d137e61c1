"""Shared fixtures. Tests that need a real part (the TAO schema, Docker) fail rather than skip under CI.

The suite runs in parallel (pytest-xdist, ``-n auto --dist loadgroup`` in pyproject's addopts; at least 4
workers, see pytest_xdist_auto_num_workers): every test has its own folders (tmp_path, XDG homes), and the tests
that share one engine or cluster run one after another on one worker — a test that asks for ``docker_client`` /
``emu_image`` joins the "docker" group, one that asks for the Slurm ``cluster`` the "slurm" group (see
pytest_collection_modifyitems). A test sharing anything else that is global marks itself
``@pytest.mark.xdist_group("name")``. ``-n0`` runs the suite in one process.
"""

from __future__ import annotations

import functools
import json
import os
import random
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastcli import DEPTHNET

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
IN_CI = bool(os.environ.get("CI"))


def require(condition: bool, reason: str) -> None:
    """Skip locally when a real part is missing; fail in CI, where it must be there."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session", autouse=True)
def _warm_cli() -> None:
    """This worker's warm ``depthnet`` starter (tests/fastcli.py): each command a test runs is still its own process,
    without 0.3–0.5 s of imports. ``DEPTHNET_TEST_ZYGOTE=0`` starts every command cold."""
    import fastcli

    fastcli.ensure()


@pytest.fixture(scope="session")
def tao_config():
    """The real nvidia-tao-core 7.3.0 depth_net config classes (our conformance oracle)."""
    try:
        from nvidia_tao_core.config.depth_net.dataset import DNDatasetConvertConfig
        from nvidia_tao_core.config.depth_net.default_config import ExperimentConfig
    except ImportError as exc:  # pragma: no cover - depends on the environment
        require(
            False, f"nvidia-tao-core is not installed ({exc}); pip install --no-deps nvidia-tao-core==7.3.0"
        )
        raise
    return ExperimentConfig, DNDatasetConvertConfig


@pytest.fixture()
def cli(tmp_path):
    """Run the real ``depthnet`` entry point in a subprocess; returns CompletedProcess."""
    import subprocess

    def run(*args: str, cwd: Path | None = None, input: str | None = None):
        return subprocess.run(
            [*DEPTHNET, *args],
            capture_output=True,
            text=True,
            cwd=cwd or tmp_path,
            input=input,
            timeout=120,
        )

    return run


@functools.cache
def tao_structured(schema_cls):
    """The structured schema TAO's hydra runner builds from a config class, once per class and worker (0.4 s each
    for depth_net's ExperimentConfig). Read-only: ``OmegaConf.merge`` copies its first config."""
    from omegaconf import OmegaConf

    return OmegaConf.structured(schema_cls)


@functools.lru_cache(maxsize=512)
def tao_merge(schema_cls, text: str):
    """What TAO's hydra runner does with a spec file: merge the YAML into the structured schema.

    Once per text and worker (a merge is ~0.1 s of CPU; half of the conformance cases render a text another case
    rendered: the recipe does not reach an evaluate spec), so the answer is read-only: a test that changed it would
    change it for the next one, and OmegaConf raises instead. A merge that fails is not kept: it raises each time."""
    import yaml
    from omegaconf import OmegaConf

    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # the same data, in C
    merged = OmegaConf.merge(tao_structured(schema_cls), OmegaConf.create(data or {}))
    OmegaConf.to_container(merged, resolve=True, throw_on_missing=False)
    OmegaConf.set_readonly(merged, True)
    return merged


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path_factory, monkeypatch):
    """Recent roots / last session go to a throw-away config dir, crash reports to a throw-away state dir; images
    render as half cells."""
    # One mkdtemp, not three mktemp: pytest's mktemp lists the whole base folder to number the new one, and
    # with a thousand tests' folders in it that listing was 1–2 % of the suite's CPU.
    import tempfile

    homes = Path(tempfile.mkdtemp(prefix="xdg-", dir=tmp_path_factory.getbasetemp()))
    for var, name in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data-home"),
        ("XDG_STATE_HOME", "state-home"),
    ):
        (homes / name).mkdir()
        monkeypatch.setenv(var, str(homes / name))
    monkeypatch.setenv("DEPTHNET_TUI_IMAGES", "halfcell")


@pytest.fixture(autouse=True)
def _steady_cursors(request, monkeypatch):
    """Snapshots: a focused field's cursor stays shown. Its 0.5 s blink timer otherwise decides, by how long the
    machine took to settle, whether the picture has a cursor (a CI failure under load)."""
    if "snap_compare" not in request.fixturenames:
        return
    from textual.widgets import Input, TextArea

    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)
    monkeypatch.setattr(TextArea, "_toggle_cursor_blink_visible", lambda self: None)


#: The folder the committed snapshot pictures show. Each test module draws from its own folder of the same length
#: (``snap_dir``), so every line is laid out alike, and the picture is compared with this name put back.
SNAP_SHOWN = "/tmp/depthnet-snap"
_SNAP_DIRS: set[str] = set()


@pytest.fixture(scope="module")
def snap_dir() -> Iterator[Path]:
    """A fresh folder for one module's snapshot data, named like SNAP_SHOWN (digits only, so no ``png``/``jpg``
    turns up in a path that TAO's rules rewrite): parallel workers and parallel sessions never share one."""
    for _ in range(1000):
        folder = Path(f"/tmp/snap-{random.randrange(10**8):08d}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        break
    else:  # pragma: no cover - a /tmp full of our folders
        raise RuntimeError("no free /tmp/snap-NNNNNNNN folder")
    assert len(str(folder)) == len(SNAP_SHOWN)
    _SNAP_DIRS.add(str(folder))
    yield folder
    _SNAP_DIRS.discard(str(folder))
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture()
def snap_compare(snap_compare):
    """pytest-textual-snapshot's snap_compare, drawn once the screen stops changing: under load a table's header
    or a preview can still be catching up after the test's own waits (seen as a CI-only mismatch). The picture
    names SNAP_SHOWN where the app showed a ``snap_dir`` folder."""

    def compare(app, *args, run_before=None, **kwargs):
        async def before(pilot) -> None:
            if run_before is not None:
                await run_before(pilot)
            await steady_picture(pilot)

        export = app.export_screenshot

        def shown(*a, **k) -> str:
            svg = export(*a, **k)
            for (
                folder
            ) in _SNAP_DIRS:  # the whole path, then the folder's name alone (a path cut to "…/snap-N/…")
                svg = svg.replace(folder, SNAP_SHOWN).replace(
                    os.path.basename(folder), os.path.basename(SNAP_SHOWN)
                )
            return svg

        app.export_screenshot = shown
        return snap_compare(app, *args, run_before=before, **kwargs)

    return compare


async def steady_picture(pilot, tries: int = 40) -> None:
    """Wait until two screenshots 0.15 s apart are the same (at most ``tries`` rounds)."""
    last = None
    for _ in range(tries):
        await pilot.pause(0.15)
        now = pilot.app.export_screenshot()
        if now == last:
            return
        last = now


async def wait_for(pilot, predicate: Callable[[], object], seconds: float = 30.0) -> None:
    """Let the app run until ``predicate()`` holds (checked every 0.1 s); fail after ``seconds``."""
    for _ in range(int(seconds / 0.1)):
        if predicate():
            return
        await pilot.pause(0.1)
    raise AssertionError("condition not reached in time")


def wait_until(predicate: Callable[[], object], seconds: float = 60.0, what: str = "the condition") -> None:
    """Outside an app: poll ``predicate()`` every 0.05 s until it holds; fail after ``seconds`` naming ``what``."""
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {seconds:g} s")
        time.sleep(0.05)


@pytest.fixture()
def depth_net_on_path(tmp_path, monkeypatch) -> Path:
    """The emulator (tests/emulator/depth_net) as ``depth_net`` on PATH: what the local backend launches."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "depth_net").symlink_to(Path(__file__).parent / "emulator" / "depth_net")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir / "depth_net"


async def settle(pilot, seconds: float = 0.2) -> None:
    """Let our workers finish and their results render (DirectoryTree's loader worker never ends)."""
    from textual.worker import WorkerCancelled, WorkerFailed

    await pilot.pause(seconds)
    for _ in range(3):
        ours = [w for w in pilot.app.workers if w.group != "_loader" and not w.is_finished]
        if not ours:
            break
        try:
            await pilot.app.workers.wait_for_complete(ours)
        except (WorkerCancelled, WorkerFailed):
            pass
        await pilot.pause(seconds)


@pytest.fixture(scope="session")
def docker_client():
    """The real engine at DOCKER_HOST (``.ci/run`` starts one on a private socket)."""
    try:
        import docker

        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as exc:  # no engine: the docker SDK raises several types
        require(False, f"no Docker engine at {os.environ.get('DOCKER_HOST', 'the default socket')} ({exc})")
        raise
    return client


@pytest.fixture(scope="session")
def emu_image(docker_client) -> str:
    """A busybox image whose ``depth_net`` replays TAO's output formats (tests/emulator/depth_net)."""
    from docker_env import busybox_path, ensure_emulator_image

    require(busybox_path() is not None, "a static busybox is needed: apt-get install busybox-static")
    return ensure_emulator_image(docker_client)


#: A Slurm job that must run into its one-minute time limit takes Slurm 60–90 s to end: it is submitted when the
#: session starts (when a cluster answers) and judged by tests/test_slurm.py minutes later, after the fact. Under
#: xdist the controller submits it once and the workers read it from TIMEOUT_JOB_ENV (they inherit its environment).
TIMEOUT_JOB_ENV = "DEPTHNET_TEST_TIMEOUT_JOB"
TIMEOUT_JOB: dict[str, str] = json.loads(os.environ.get(TIMEOUT_JOB_ENV) or "{}")

#: Fixtures that share one engine or cluster with every other test using them: such tests run on one worker.
SHARED_PARTS = {"docker_client": "docker", "emu_image": "docker", "cluster": "slurm"}


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: at least 4 workers. About half of a test's time is waiting (replays at their recorded pace,
    containers, Slurm's scheduler), so on a 2-core machine 2 workers leave the cores idle half the time."""
    return max(4, os.cpu_count() or 1)


@pytest.hookimpl(tryfirst=True)  # before xdist's worker reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        groups = {SHARED_PARTS[f] for f in getattr(item, "fixturenames", ()) if f in SHARED_PARTS}
        if groups and not any(item.iter_markers("xdist_group")):
            item.add_marker(pytest.mark.xdist_group("_".join(sorted(groups))))


def pytest_sessionstart(session: pytest.Session) -> None:
    import subprocess
    import tempfile

    if hasattr(session.config, "workerinput") or TIMEOUT_JOB_ENV in os.environ:
        return  # an xdist worker: the controller has submitted it
    os.environ[TIMEOUT_JOB_ENV] = "{}"
    if not shutil.which("sbatch") or not shutil.which("sinfo"):
        return
    try:
        up = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return
    if up.returncode != 0 or not any(s in up.stdout for s in ("idle", "mix", "alloc")):
        return
    sys.path.insert(0, str(Path(__file__).parent))
    from runkit import make_project

    base = Path(tempfile.mkdtemp(prefix="depthnet-timeout-"))
    (base / "bin").mkdir()
    (base / "bin" / "depth_net").symlink_to(Path(__file__).parent / "emulator" / "depth_net")
    env = {
        **os.environ,
        "PATH": f"{base / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "XDG_DATA_HOME": str(base / "data-home"),
        "XDG_CONFIG_HOME": str(base / "config"),
    }
    with pytest.MonkeyPatch.context() as mp:  # make_project's CLI calls inherit these
        mp.setenv("XDG_DATA_HOME", env["XDG_DATA_HOME"])
        mp.setenv("XDG_CONFIG_HOME", env["XDG_CONFIG_HOME"])
        project = make_project(base)
        spec = project.spec("train", "long.yaml", results="long")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "specgen.cli",
            "run",
            "train",
            "-e",
            str(spec),
            "--backend",
            "slurm",
            "--container-runtime",
            "none",
            "--time",
            "0:01",
            "--env",
            "EMU_SPEED=1",
            "--detach",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    if done.returncode == 0:
        TIMEOUT_JOB.update(run_id=done.stdout.strip(), data_home=env["XDG_DATA_HOME"], path=env["PATH"])
        os.environ[TIMEOUT_JOB_ENV] = json.dumps(TIMEOUT_JOB)
