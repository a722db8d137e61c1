"""The tests' warm ``depthnet`` starter (tests/fastcli.py) answers as a cold ``python -m specgen.cli`` does — exit
code, stdout, stderr, cwd, environment, signals — so a test that runs the CLI through it keeps its meaning."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import wait_until
from fastcli import COLD, DEPTHNET


def both(*args: str, cwd: Path, env: dict[str, str] | None = None) -> list[tuple[int, str, str]]:
    """(exit code, stdout, stderr) of the command started warm, then cold."""
    done = [
        subprocess.run([*argv, *args], capture_output=True, text=True, timeout=60, cwd=cwd, env=env)
        for argv in (DEPTHNET, COLD)
    ]
    return [(d.returncode, d.stdout, d.stderr) for d in done]


def test_the_warm_starter_runs_unless_turned_off():
    """Without it every command would start cold: the suite would pass, at twice the CPU, and nobody would know."""
    if os.environ.get("DEPTHNET_TEST_ZYGOTE") == "0":
        pytest.skip("DEPTHNET_TEST_ZYGOTE=0: turned off")
    assert stat.S_ISSOCK(os.stat(os.environ["DEPTHNET_TEST_ZYGOTE"]).st_mode)


@pytest.mark.parametrize(
    "args",
    [
        ("--version",),
        (),
        ("nope",),
        ("spec", "convert", "--results-dir", "r", "-o", "-"),
        ("validate", "spec.yaml"),
        ("validate", "missing.yaml"),
        ("runs", "--json"),
    ],
    ids=["version", "bare", "unknown", "usage", "relative-path", "missing", "env"],
)
def test_a_warm_command_answers_as_a_cold_one(args, tmp_path):
    (tmp_path / "spec.yaml").write_text("train:\n  num_epochs: [\n")  # a YAML error, found from the cwd
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg"), "NO_COLOR": "1"}
    warm, cold = both(*args, cwd=tmp_path, env=env)
    assert warm == cold


def test_a_stripped_environment_starts_cold(tmp_path):
    """A command given an environment without the server's socket (or a differing interpreter setting) is the
    cold process itself (the client execs it)."""
    env = {k: v for k, v in os.environ.items() if k != "DEPTHNET_TEST_ZYGOTE"}
    warm, cold = both("--version", cwd=tmp_path, env=env)
    assert warm == cold and warm[0] == 0
    other = {**os.environ, "PYTHONHASHSEED": "7"}
    warm, cold = both("--version", cwd=tmp_path, env=other)
    assert warm == cold and warm[0] == 0


@pytest.fixture()
def slow_run(tmp_path, depth_net_on_path):
    """A warm ``depthnet run train`` following a slow stand-in run, once it relays the run's first line."""
    from runkit import make_project

    spec = make_project(tmp_path).spec("train", "train.yaml")
    proc = subprocess.Popen(
        [*DEPTHNET, "run", "train", "-e", str(spec), "--backend", "local", "--env", "EMU_SPEED=0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline(), proc.stderr
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def _run_id(err: str) -> str:
    return err.split("run ", 1)[1].split()[0]


def test_a_signal_reaches_the_command_and_its_exit_comes_back(slow_run):
    slow_run.send_signal(signal.SIGTERM)
    _, err = slow_run.communicate(timeout=30)
    assert slow_run.returncode == 130 and "depthnet attach" in err, err  # the CLI's own answer to SIGTERM
    stop = subprocess.run([*DEPTHNET, "stop", _run_id(err)], capture_output=True, text=True, timeout=30)
    assert stop.returncode == 0, stop.stderr


def test_a_killed_starter_takes_its_command_with_it(slow_run):
    """``subprocess.run``'s timeout kills the process it started; a warm command must end with it too."""
    commands_before = _commands()
    assert commands_before, "no warm command is running"
    slow_run.kill()
    slow_run.communicate()
    wait_until(lambda: not (_commands() & commands_before), 20, "the warm command's end")
    runs = Path(os.environ["XDG_DATA_HOME"]) / "depthnet-tui" / "runs"
    (run_id,) = [p.name for p in runs.iterdir()]
    # the run itself goes on, as after a cold CLI's SIGKILL (TAO runs in its own session): stop it
    stop = subprocess.run([*DEPTHNET, "stop", run_id], capture_output=True, text=True, timeout=30)
    assert stop.returncode == 0, stop.stderr


def _commands() -> set[int]:
    """The warm commands now running: grandchildren of this worker's server (its monitors' children)."""
    socket_path = os.environ["DEPTHNET_TEST_ZYGOTE"]
    parents: dict[int, int] = {}
    servers: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        if socket_path.encode() in cmdline:
            servers.add(int(entry.name))
    monitors = {pid for pid, ppid in parents.items() if ppid in servers}
    return {pid for pid, ppid in parents.items() if ppid in monitors}


def test_log_handlers_made_while_warming_write_to_the_commands_stderr(monkeypatch):
    """Optuna makes its logging handler at import, in the server (warm): the command's process points it at the
    command's stderr, as a cold process would have made it."""
    import io
    import logging

    import fastcli_server

    server_stderr, command_stderr = io.StringIO(), io.StringIO()
    logger = logging.getLogger("dn-test-warm-handler")
    handler = logging.StreamHandler(server_stderr)
    logger.addHandler(handler)
    try:
        monkeypatch.setattr("sys.stderr", command_stderr)
        fastcli_server._repoint_log_handlers({id(server_stderr): 2})
        logger.warning("trial 3 pruned")
    finally:
        logger.removeHandler(handler)
    assert command_stderr.getvalue() == "trial 3 pruned\n" and server_stderr.getvalue() == ""
