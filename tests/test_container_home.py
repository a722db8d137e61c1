"""The container as your user (issue 27, item 3): a TAO container runs as ``--user uid:gid``, whose HOME in the image is
not writable, so HOME and the caches (XDG_CACHE_HOME, MPLCONFIGDIR, TORCHINDUCTOR_CACHE_DIR, TRITON_CACHE_DIR) point
at folders in the run folder, 0700, mounted read-write; a value the person gave with --env wins. Docker here (a real
engine, the emulator image); pyxis and apptainer are in the sbatch scripts tests/test_slurm.py compares."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from runkit import depthnet, make_project

from specgen.engine.home import HOME_DIRS

pytestmark = pytest.mark.usefixtures("docker_client")


def _run(spec: Path, image: str, *extra: str):
    return depthnet(
        "run",
        "train",
        "-e",
        str(spec),
        "--image",
        image,
        "--gpus",
        "none",
        "--network",
        "none",
        "--json-events",
        *extra,
        timeout=180,
    )


def _container(docker_client, run_id: str):
    (found,) = docker_client.containers.list(all=True, filters={"label": f"depthnet.run_id={run_id}"})
    return found


def test_docker_container_gets_home_and_caches_in_the_run_folder(tmp_path, emu_image, docker_client):
    project = make_project(tmp_path)
    spec = project.spec("train", "home.yaml", results="home")
    done = _run(spec, emu_image)
    assert done.returncode == 0, done.stderr
    run_id = done.stderr.split("run ", 1)[1].split()[0]
    c = _container(docker_client, run_id)
    env = dict(e.split("=", 1) for e in c.attrs["Config"]["Env"])
    home = Path(os.environ["XDG_DATA_HOME"]) / "depthnet-tui" / "runs" / run_id / "home"
    for name, rel in HOME_DIRS.items():
        assert env[name] == str(home / rel if rel else home), name
        folder = home / rel
        assert folder.is_dir() and stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert c.attrs["Config"]["User"] == f"{os.getuid()}:{os.getgid()}"
    binds = {b.split(":")[0]: b for b in c.attrs["HostConfig"]["Binds"]}
    assert binds[str(home)] == f"{home}:{home}:rw"


def test_an_env_value_of_the_persons_own_wins(tmp_path, emu_image, docker_client):
    project = make_project(tmp_path)
    spec = project.spec("train", "own.yaml", results="own")
    done = _run(spec, emu_image, "--env", "MPLCONFIGDIR=/tmp/mine")
    assert done.returncode == 0, done.stderr
    run_id = done.stderr.split("run ", 1)[1].split()[0]
    env = [
        e for e in _container(docker_client, run_id).attrs["Config"]["Env"] if e.startswith("MPLCONFIGDIR=")
    ]
    assert env == ["MPLCONFIGDIR=/tmp/mine"]
