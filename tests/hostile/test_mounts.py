"""Issue 25, class 5 and issue 22, item 6: what a container is given. Each case of ``cases_files`` (class 5), how a
path resolves in a container (``container_path``), and — on the private Docker engine (``.ci/dockerd``) — what the
real engine shows through the mounts the product computes."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from cases_files import Ctx, available, of_class, record_outcome, run_case

from specgen.engine.preflight import container_path, system_folder

LOCAL = [c for c in of_class(5) if "docker" not in c.needs]


@pytest.mark.parametrize("case", LOCAL, ids=lambda c: c.name)
def test_case(case, tmp_path, request):
    if (why := available(case)) is not None:
        pytest.skip(why)
    result = run_case(case, tmp_path)
    record_outcome(request.node.name, result)
    assert result.outcome == case.expect, result.output[-3000:]


# ------------------------------------------------------------------------------------------- resolution, as a kernel


def test_a_path_resolves_in_the_container_only_through_its_mounts(tmp_path):
    data, other = tmp_path / "data", tmp_path / "other"
    (data / "a").mkdir(parents=True)
    other.mkdir()
    (other / "x.png").write_bytes(b"x")
    (data / "a" / "plain.png").write_bytes(b"p")
    (data / "a" / "abs.png").symlink_to(other / "x.png")
    (data / "a" / "rel.png").symlink_to("../../other/x.png")
    (data / "a" / "inside.png").symlink_to("plain.png")
    (data / "a" / "loop.png").symlink_to("loop.png")
    mounts = [str(data)]
    assert container_path(str(data / "a" / "plain.png"), mounts) == str(data / "a" / "plain.png")
    assert container_path(str(data / "a" / "inside.png"), mounts) == str(data / "a" / "plain.png")
    assert container_path(str(data / "a" / "abs.png"), mounts) is None  # dangles in the container
    assert container_path(str(data / "a" / "rel.png"), mounts) is None
    assert container_path(str(data / "a" / "loop.png"), mounts) is None
    assert container_path(str(other / "x.png"), mounts) is None
    both = [str(data), str(other)]
    assert container_path(str(data / "a" / "abs.png"), both) == str(other / "x.png")
    assert container_path(str(data / "a" / "rel.png"), both) == str(other / "x.png")


def test_a_relative_link_is_read_in_the_containers_view_of_a_linked_root(tmp_path):
    """The data root, as named, is a link to a deeper folder: '..' in a link climbs the name's parents inside the
    container, not the real folder's."""
    real = tmp_path / "disk" / "deep" / "data"
    (real / "a").mkdir(parents=True)
    (tmp_path / "disk" / "deep" / "other").mkdir()
    (tmp_path / "disk" / "deep" / "other" / "x.png").write_bytes(b"x")
    (real / "a" / "rel.png").symlink_to("../../other/x.png")
    (tmp_path / "data").symlink_to(real)
    named = str(tmp_path / "data" / "a" / "rel.png")
    assert os.path.exists(named)  # fine on the host
    assert container_path(named, [str(tmp_path / "data"), str(tmp_path / "disk" / "deep" / "other")]) is None
    assert container_path(named, [str(tmp_path / "data"), str(tmp_path / "other")]) is None


@pytest.mark.parametrize(
    "path, says",
    [
        ("/", "root folder"),
        ("/etc", "system folder"),
        ("/var/run", "system folder /run"),
        ("/run/user", "system folder /run"),
        ("/proc/self", "system folder"),
        ("~/.ssh", "keys and tokens"),
        ("~/.gnupg/private-keys-v1.d", "keys and tokens"),
        ("~", "home folder itself"),
    ],
)
def test_the_system_folder_rule(path, says, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "someone"))  # root's own home is a system folder already
    (tmp_path / "someone").mkdir()
    assert says in (system_folder(os.path.expanduser(path)) or "")


def test_another_users_home_is_never_written_but_may_be_read():
    from cases_files import other_home

    home = other_home()
    if home is None:
        pytest.skip("no other user with a home folder on this machine")
    assert "another user's home" in (system_folder(str(home / "results")) or "")
    assert system_folder(str(home / "datasets"), writing=False) is None
    assert "keys and tokens" in (system_folder(str(home / ".ssh"), writing=False) or "")


def test_the_rule_sees_through_links(tmp_path):
    (tmp_path / "innocent").symlink_to("/etc")
    assert "/etc" in (system_folder(str(tmp_path / "innocent" / "ssl")) or "")
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / ".ssh").mkdir()
    (tmp_path / "plain").symlink_to(tmp_path / "keys" / ".ssh")
    assert "keys and tokens" in (system_folder(str(tmp_path / "plain")) or "")
    assert system_folder(str(tmp_path / "keys")) is None


# ------------------------------------------------------------------------------------------- a real engine


def _volumes_of(spec, *roots):
    from specgen.engine.backends import DockerBackend
    from specgen.engine.launch import RunOptions, prepare

    prepared = prepare(
        RunOptions(action="train", spec=str(spec), backend="docker", data_roots=list(roots), gpus="none")
    )
    try:
        assert prepared.problems == []
        return prepared.request, DockerBackend.volumes(prepared.request)
    finally:
        prepared.discard()


def _listed(p) -> list[str]:
    return [f for name in ("train.txt", "val.txt") for f in (p.ann / name).read_text().split()]


def _seen_by_a_container(docker_client, image, volumes, user, files, write_to):
    """Every file read inside a container with those mounts (MISSING for each it cannot), and a write probe."""
    script = 'w="$1"; shift; for f in "$@"; do cat "$f" > /dev/null 2>&1 || echo "MISSING $f"; done; echo ok > "$w/probe" && echo WROTE'
    out = docker_client.containers.run(
        image,
        ["sh", "-c", script, "sh", str(write_to), *files],
        volumes=volumes,
        user=user,
        remove=True,
        network_mode="none",
    )
    return out.decode()


def test_a_results_folder_inside_the_data_root_sees_every_image(tmp_path, docker_client, emu_image):
    ctx = Ctx(tmp_path)
    data = tmp_path / "data"
    p = ctx.project(results=data / "results")
    req, volumes = _volumes_of(p.spec)  # the data roots the annotation files imply: data/ and ann/
    assert volumes[str(data)]["mode"] == "ro" and volumes[str(data / "results")]["mode"] == "rw"
    shown = _seen_by_a_container(docker_client, emu_image, volumes, req.user, _listed(p), data / "results")
    assert "MISSING" not in shown and "WROTE" in shown, shown


def test_a_depth_file_linked_outside_the_root_is_visible(tmp_path, docker_client, emu_image):
    ctx = Ctx(tmp_path)
    p = ctx.project()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    first = (p.ann / "train.txt").read_text().split()[1]
    shutil.move(first, elsewhere / "d.png")
    os.symlink(elsewhere / "d.png", first)
    req, volumes = _volumes_of(p.spec)
    assert volumes[str(elsewhere)]["mode"] == "ro"
    shown = _seen_by_a_container(docker_client, emu_image, volumes, req.user, _listed(p), p.results)
    assert "MISSING" not in shown and "WROTE" in shown, shown


def test_a_run_with_results_inside_the_data_root_passes(tmp_path, emu_image):
    ctx = Ctx(tmp_path)
    data = tmp_path / "data"
    p = ctx.project(results=data / "results")
    done = ctx.cli(
        "run",
        "train",
        "-e",
        str(p.spec),
        "--backend",
        "docker",
        "--image",
        emu_image,
        "--gpus",
        "none",
        "--network",
        "none",
        "--json-events",
        timeout=180,
    )
    verdicts = [json.loads(line) for line in done.stdout.splitlines() if '"kind": "verdict"' in line]
    assert done.returncode == 0 and verdicts and verdicts[-1]["passed"], done.stderr[-2000:]
    assert (data / "results" / "train" / "status.json").is_file()


def test_tao_mounts_etc_is_refused_by_the_launch_too(tmp_path, docker_client, emu_image, monkeypatch):
    """The preflight refuses it (a case above); the Docker launch itself refuses it as well."""
    from specgen.engine.backends import DockerBackend
    from specgen.engine.records import LaunchError, LaunchRequest

    home = tmp_path / "home"
    home.mkdir()
    (home / ".tao_mounts.json").write_text(
        json.dumps({"Mounts": [{"source": "/etc", "destination": "/etc2"}]})
    )
    monkeypatch.setenv("HOME", str(home))
    req = LaunchRequest(
        run_id="x",
        action="train",
        spec_path=str(tmp_path / "s.yaml"),
        results_dir=str(tmp_path / "r"),
        data_roots=[],
        output_dir=str(tmp_path / "r"),
        image=emu_image,
        gpus="none",
    )
    with pytest.raises(LaunchError, match="/etc.*Mounts\\[0\\]"):
        DockerBackend(docker_client).launch(req, tmp_path / "run")
    assert docker_client.containers.list(all=True, filters={"label": "depthnet.run_id=x"}) == []
