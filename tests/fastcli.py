"""The command line a test uses to start ``depthnet`` as a process: warm (``fastcli_server.py``) where it can be.

``DEPTHNET`` is ``[python, -I, -S, fastcli_client.py]``: a real process per command, forked from a warm server
that this pytest process starts on first use, so the 0.3–0.5 s of imports per command are paid once per worker.
``DEPTHNET_TEST_ZYGOTE=0`` in the environment turns it off: every command then starts cold, as
``python -m specgen.cli`` (the meaning of each test is the same either way; this only saves CPU).
Tests that check what a cold start imports start ``python`` themselves.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLIENT = HERE / "fastcli_client.py"
SERVER = HERE / "fastcli_server.py"
COLD = [sys.executable, "-m", "specgen.cli"]
#: The client: it execs COLD itself when no server answers (a command started with a stripped environment).
DEPTHNET = [sys.executable, "-I", "-S", str(CLIENT)]

_lock = threading.Lock()
_server: subprocess.Popen[bytes] | None = None


def _start() -> None:
    """Start this process's server and put its socket in the environment the tests' commands inherit."""
    global _server
    folder = tempfile.mkdtemp(prefix="dnz-")
    path = os.path.join(folder, "s")
    env = {k: v for k, v in os.environ.items() if k != "DEPTHNET_TEST_ZYGOTE"}
    with open(os.path.join(folder, "log"), "wb") as log:
        server = subprocess.Popen(
            [sys.executable, str(SERVER), path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            cwd=HERE.parent,
            start_new_session=True,  # its commands are not in pytest's process group
        )
    assert server.stdout is not None
    if server.stdout.readline() != b"ready\n":  # it could not warm up: every command starts cold
        server.wait()
        shutil.rmtree(folder, ignore_errors=True)
        return
    server.stdout.close()
    _server = server
    os.environ["DEPTHNET_TEST_ZYGOTE"] = path
    atexit.register(_stop, server, folder)


def _stop(server: subprocess.Popen[bytes], folder: str) -> None:
    """At the worker's exit: end the server (reaping it adds its commands' CPU to ours) and remove its socket."""
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    shutil.rmtree(folder, ignore_errors=True)


def ensure() -> None:
    """Start the server once per process (unless turned off); safe from several threads."""
    if os.environ.get("DEPTHNET_TEST_ZYGOTE") == "0":
        return
    with _lock:
        if _server is None and not os.environ.get("DEPTHNET_TEST_ZYGOTE"):
            _start()
