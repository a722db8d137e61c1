"""Shared fixtures. Tests that need a real part (the TAO schema, Docker) fail rather than skip under CI."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

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
            [sys.executable, "-m", "specgen.cli", *args],
            capture_output=True,
            text=True,
            cwd=cwd or tmp_path,
            input=input,
            timeout=120,
        )

    return run


def tao_merge(schema_cls, text: str):
    """What TAO's hydra runner does with a spec file: merge the YAML into the structured schema."""
    import yaml
    from omegaconf import OmegaConf

    merged = OmegaConf.merge(OmegaConf.structured(schema_cls), OmegaConf.create(yaml.safe_load(text) or {}))
    OmegaConf.to_container(merged, resolve=True, throw_on_missing=False)
    return merged


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path_factory, monkeypatch):
    """Recent roots / last session go to a throw-away config dir; images render as half cells."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data-home")))
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


@pytest.fixture()
def snap_compare(snap_compare):
    """pytest-textual-snapshot's snap_compare, drawn once the screen stops changing: under load a table's header
    or a preview can still be catching up after the test's own waits (seen as a CI-only mismatch)."""

    def compare(app, *args, run_before=None, **kwargs):
        async def before(pilot) -> None:
            if run_before is not None:
                await run_before(pilot)
            await steady_picture(pilot)

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
#: session starts (when a cluster answers) and judged by tests/test_slurm.py minutes later, after the fact.
TIMEOUT_JOB: dict[str, str] = {}


def pytest_sessionstart(session: pytest.Session) -> None:
    import shutil
    import subprocess
    import tempfile

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
    saved = {k: os.environ.get(k) for k in ("XDG_DATA_HOME", "XDG_CONFIG_HOME")}
    os.environ.update({k: env[k] for k in saved})
    try:
        project = make_project(base)
        spec = project.spec("train", "long.yaml", results="long")
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
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
