"""``depthnet setup`` against real parts: the private Docker engine (no NVIDIA runtime, no TAO image), no engine at
all, real registries (Debian's docker-registry, one open, one with htpasswd auth) for pull progress, cancel/resume
and the login error."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import threading
import time
from pathlib import Path

import pytest
from conftest import require, wait_for
from fastcli import DEPTHNET
from runkit import depthnet


def checks(stdout: str) -> dict[str, dict]:
    return {c["name"]: c for c in json.loads(stdout)["checks"]}


def test_setup_against_the_private_engine_names_each_fix(docker_client, tmp_path):
    done = depthnet("setup", "--json", "--output-dir", str(tmp_path))
    assert done.returncode == 1, done.stderr  # the NVIDIA runtime is missing: a failing check
    found = checks(done.stdout)
    assert found["docker"]["status"] == "ok" and "Docker" in found["docker"]["detail"]
    runtime = found["nvidia runtime"]
    assert runtime["status"] == "fail" and "nvidia-ctk runtime configure --runtime=docker" in runtime["fix"]
    pyt = next(
        c
        for name, c in found.items()
        if name.startswith("image")
        and c["detail"].endswith("-pyt (train/evaluate/inference/export) is not on this machine")
    )
    assert pyt["status"] == "warn" and pyt["fix"].startswith("depthnet setup --pull")
    assert found["gpus"]["status"] in ("ok", "warn") and "\n" not in found["gpus"]["detail"]
    assert set(found) >= {"disk", "shm", "tao_mounts", "depth_net", "slurm", "ngc login"}
    assert all(set(c) == {"name", "status", "detail", "fix"} for c in found.values())
    plain = depthnet("setup", "--output-dir", str(tmp_path))
    assert (
        "fail  nvidia runtime" in plain.stdout and "fix: install the NVIDIA Container Toolkit" in plain.stdout
    )


def test_no_engine_is_one_failing_check_with_the_fix(tmp_path):
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent"}

    done = subprocess.run(
        [*DEPTHNET, "setup", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    found = checks(done.stdout)
    assert found["docker"]["status"] == "fail"
    assert found["docker"]["detail"] == "no Docker engine answers at DOCKER_HOST=unix:///nonexistent"
    assert "unset DOCKER_HOST" in found["docker"]["fix"]
    assert "nvidia runtime" not in found  # nothing is asked of an engine that is not there


def test_ngc_login_is_seen_and_the_secret_never_shown(tmp_path):
    from specgen.engine.setup import ngc_login

    assert ngc_login(str(tmp_path)).status == "warn" and "$oauthtoken" in ngc_login(str(tmp_path)).fix
    secret = base64.b64encode(b"$oauthtoken:nvapi-SECRET").decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {"nvcr.io": {"auth": secret}}}))
    check = ngc_login(str(tmp_path))
    assert (
        check.status == "ok"
        and secret not in json.dumps(check.as_dict())
        and "SECRET" not in json.dumps(check.as_dict())
    )
    (tmp_path / "config.json").write_text(json.dumps({"credHelpers": {"nvcr.io": "pass"}}))
    assert ngc_login(str(tmp_path)).detail == "nvcr.io credentials through docker-credential-pass"
    (tmp_path / "config.json").write_text("{not json")
    assert ngc_login(str(tmp_path)).status == "warn"


def test_tao_mounts_follow_the_launchers_rules(tmp_path):
    from specgen.engine.setup import tao_mounts

    path = tmp_path / "m.json"
    assert tao_mounts(str(path)).status == "ok"  # absent is fine
    path.write_text(json.dumps({"Mounts": [{"source": str(tmp_path), "destination": "/data"}], "Extra": 1}))
    assert tao_mounts(str(path)).status == "fail" and "'Extra'" in tao_mounts(str(path)).detail
    path.write_text(json.dumps({"Mounts": [{"source": str(tmp_path / "gone"), "destination": "/d"}]}))
    assert "does not exist" in tao_mounts(str(path)).detail
    path.write_text(
        json.dumps(
            {"Mounts": [{"source": str(tmp_path), "destination": "/d"}], "DockerOptions": {"gpus": "all"}}
        )
    )
    assert tao_mounts(str(path)).detail.endswith("DockerOptions.gpus is not allowed")
    path.write_text(
        json.dumps(
            {
                "Mounts": [{"source": str(tmp_path), "destination": "/d"}],
                "DockerOptions": {"shm_size": "16G", "user": "1000:1000"},
            }
        )
    )
    assert tao_mounts(str(path)).status == "ok"


# --------------------------------------------------------------------------- real registries


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_registry(folder: Path, auth: tuple[str, str] | None) -> tuple[subprocess.Popen, str]:
    exe = shutil.which("docker-registry")
    require(exe is not None, "Debian's docker-registry is needed (apt-get install docker-registry)")
    port = _free_port()
    folder.mkdir(parents=True, exist_ok=True)
    config = [
        f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {folder / 'data'}\n",
        f"http:\n  addr: 127.0.0.1:{port}\n",
    ]
    if auth is not None:
        import bcrypt

        hashed = bcrypt.hashpw(auth[1].encode(), bcrypt.gensalt(rounds=4)).decode()
        (folder / "htpasswd").write_text(f"{auth[0]}:{hashed}\n")
        config.append(f"auth:\n  htpasswd:\n    realm: depthnet\n    path: {folder / 'htpasswd'}\n")
    (folder / "config.yml").write_text("".join(config))
    proc = subprocess.Popen(
        [exe, "serve", str(folder / "config.yml")],
        stdout=subprocess.DEVNULL,
        stderr=open(folder / "registry.log", "wb"),
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError((folder / "registry.log").read_text())


def _image(client, tag: str, megabytes: int = 2) -> None:
    """An image of its own (random bytes, 16 MB per file), imported like `docker import`: a pull has bytes to move."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for i in range(max(1, megabytes // 16)):
            blob = os.urandom(min(megabytes, 16) * 2**20)
            info = tarfile.TarInfo(f"blob{i}.bin")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    repo, _, version = tag.rpartition(":")
    client.api.import_image_from_data(buf.getvalue(), repository=repo, tag=version)


@pytest.fixture()
def registries(tmp_path, docker_client):
    open_proc, open_addr = _start_registry(tmp_path / "open", None)
    auth_proc, auth_addr = _start_registry(tmp_path / "auth", ("depthnet", "s3cret-pw"))
    yield open_addr, auth_addr
    for proc in (open_proc, auth_proc):
        proc.kill()
        proc.wait()


def _push_and_forget(client, tag: str, auth: dict | None = None, megabytes: int = 2) -> None:
    _image(client, tag, megabytes)
    for line in client.api.push(tag, stream=True, decode=True, auth_config=auth):
        assert "error" not in line, line
    client.images.remove(tag, force=True)


def test_pull_shows_layer_progress_cancels_and_resumes(registries, docker_client):
    from specgen.engine.pull import pull

    open_addr, _ = registries
    tag = f"{open_addr}/depthnet/tiny:1"
    _push_and_forget(docker_client, tag)
    # cancelled at the first layer message: nothing is left half-done that a second pull cannot finish
    cancel = threading.Event()
    first = pull(docker_client, tag, lambda s: cancel.set() if s.layers else None, cancel)
    assert first.status.startswith("cancelled")
    seen = []
    state = pull(
        docker_client,
        tag,
        lambda s: seen.append((s.current, s.total, [lay.status for lay in s.layers.values()])),
    )
    assert state.finished and docker_client.images.get(tag)
    statuses = {st for _, _, sts in seen for st in sts}
    assert statuses & {"Pull complete", "Already exists"}
    assert seen[-1][0] == seen[-1][1]  # the total bar ends full
    # the CLI: --pull with rich progress, then the check
    docker_client.images.remove(tag, force=True)
    done = depthnet("setup", "--pull", "--image", tag)
    assert f"{tag}: " in done.stderr and "Traceback" not in done.stderr
    assert docker_client.images.get(tag)


def test_pull_from_a_registry_that_wants_a_login_says_how(registries, docker_client, tmp_path, monkeypatch):
    import docker

    from specgen.engine.pull import PullError, pull

    _, auth_addr = registries
    tag = f"{auth_addr}/depthnet/private:1"
    creds = {"username": "depthnet", "password": "s3cret-pw", "serveraddress": auth_addr}
    _push_and_forget(docker_client, tag, auth=creds)
    with pytest.raises(PullError) as err:
        pull(docker_client, tag)
    assert str(err.value).startswith(
        f"{auth_addr} refused the pull of {tag}"
    ) and f"docker login {auth_addr}" in str(err.value)
    assert "s3cret" not in str(err.value)
    # after `docker login` (an auths entry in the docker config), the same pull goes through
    config = tmp_path / "dockercfg"
    config.mkdir()
    token = base64.b64encode(b"depthnet:s3cret-pw").decode()
    (config / "config.json").write_text(json.dumps({"auths": {auth_addr: {"auth": token}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    client = docker.from_env(timeout=60)
    assert pull(client, tag).finished


def test_pull_errors_in_plain_words():
    from specgen.engine.pull import explain

    assert "ran out of disk" in explain(
        "write /var/lib/docker/tmp/x: no space left on device", "nvcr.io/a/b:1"
    )
    assert "cannot be reached" in explain(
        "Get https://nvcr.io/v2/: dial tcp: lookup nvcr.io: no such host", "nvcr.io/a:1"
    )
    assert "$oauthtoken" in explain(
        "unauthorized: authentication required", "nvcr.io/nvidia/tao/tao-toolkit:6"
    )
    assert "does not exist" in explain("manifest unknown", "nvcr.io/a/b:nope")


async def _setup_screen(app, pilot):
    """Welcome → `s` → the Setup screen."""
    from tui.screens.setup import SetupScreen
    from tui.screens.welcome import WelcomeScreen

    await wait_for(pilot, lambda: isinstance(app.screen, WelcomeScreen) and app.screen.is_mounted)
    await pilot.press("s")
    await wait_for(pilot, lambda: isinstance(app.screen, SetupScreen) and app.screen.is_mounted)
    return app.screen


async def _pull_ends(pilot, screen, ticks: int = 300) -> None:
    for _ in range(ticks):
        await pilot.pause(0.05)
        if not screen.pulling:
            break


async def test_setup_screen_pulls_with_a_bar_per_layer(registries, docker_client):
    """The Setup screen's pull: a ProgressBar for the total and one per layer, filled when done; the image is there
    afterwards (cancel and resume are the engine's, tested above with the same pull)."""
    from textual.widgets import ProgressBar

    from tui.app import DepthnetApp

    open_addr, _ = registries
    tag = f"{open_addr}/depthnet/screen:1"
    _push_and_forget(docker_client, tag)
    app = DepthnetApp()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _setup_screen(app, pilot)
        screen.action_pull([tag])
        await _pull_ends(pilot, screen)
        assert not screen.pulling
        total = screen.query_one("#pull-total", ProgressBar)
        layers = [b for b in screen.query("#pull-layers ProgressBar")]
        assert layers and total.total and total.progress == total.total
        assert all(b.total and b.progress == b.total for b in layers)
        assert "pulled: " + tag in str(screen.query_one("#pull-title").render())
    assert docker_client.images.get(tag)


async def test_setup_screen_esc_cancels_a_pull_and_a_second_pull_finishes(registries, docker_client):
    """Esc during a pull cancels it (the screen stays, says so); pulling again finishes what the engine kept."""
    from tui.app import DepthnetApp

    open_addr, _ = registries
    tag = f"{open_addr}/depthnet/big:1"
    _push_and_forget(docker_client, tag, megabytes=64)  # long enough for a key to land mid-pull
    app = DepthnetApp()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await _setup_screen(app, pilot)
        screen.action_pull([tag])
        await pilot.press("escape")
        await _pull_ends(pilot, screen)
        assert app.screen is screen  # Esc cancelled the pull; it did not leave the screen
        title = str(screen.query_one("#pull-title").render())
        assert "cancelled" in title, title
        screen.action_pull([tag])
        await _pull_ends(pilot, screen, ticks=600)
        assert str(screen.query_one("#pull-title").render()).startswith("pulled: ")
    assert docker_client.images.get(tag)
