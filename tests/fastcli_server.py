"""A warm start for the tests' ``depthnet`` processes (a zygote, as Android's or multiprocessing's forkserver).

Every ``python -m specgen.cli`` a test starts pays 0.3–0.5 s of CPU for imports (pydantic, numpy, Pillow, our
modules, pydantic's model builds) before it does anything: about a third of the suite's CPU on a 2-core box. This
process pays that once, then forks a fresh process per command. The command still runs as its own process — its own
pid, the caller's stdin/stdout/stderr (passed over the socket as file descriptors), cwd, environment and argv, its
exit code or the signal that ended it given back to the caller — so a test of the CLI keeps its meaning. What it
does not show is a cold import; the tests that check imports (``test_cli_start``, ``test_readme``, ``test_wheel``)
start real processes.

Protocol, over a Unix socket (``tests/fastcli_client.py`` is the other end):
  client → one byte with its fds 0, 1, 2 attached, then a 10-digit length and a ``marshal`` of
  ``{"argv", "env", "cwd"}``;
  server → ``F`` (declined: the caller starts a real process), or ``P<pid>`` once the command runs, then
  ``S<wait status>`` when it ends. The caller forwards signals to ``pid``. If the caller goes away first (killed
  at a timeout), the command is killed, as ``subprocess.run``'s timeout kills a real one.

Per connection a monitor process is forked (it reads the request, forks the command and reports its end): this
process stays single-threaded and never blocks on a client, so forking it is safe. It reaps its monitors, and the
pytest worker reaps it, so ``time`` over the suite counts the commands' CPU as it counted cold ones'.
"""

from __future__ import annotations

import gc
import io
import marshal
import os
import select
import signal
import socket
import sys
from collections.abc import Callable

#: Settings the interpreter reads at its own start, so a forked command would not honour a change in them: a
#: request whose values differ from this process's is declined (the client starts a real process).
INTERPRETER_ENV = (
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "PYTHONIOENCODING",
    "PYTHONUTF8",
    "PYTHONHASHSEED",
    "PYTHONWARNINGS",
    "PYTHONSAFEPATH",
    "PYTHONHOME",
    "PYTHONNOUSERSITE",
    "PYTHONDEVMODE",
    "PYTHONMALLOC",
    "PYTHONFAULTHANDLER",
    "PYTHONTRACEMALLOC",
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONINSPECT",
    "PYTHONOPTIMIZE",
    "PYTHONVERBOSE",
)


def warm() -> None:
    """Import what commands import when they run, and build the schema's deferred pydantic models. Only modules
    that read no environment at import time (huggingface_hub, docker, pynvml, textual are left to the command:
    they read settings such as HF_ENDPOINT when imported).

    Optuna too (it reads none: its one ``OPTUNA_STORAGE`` is read by its own CLI): a sweep command paid 0.5 s for
    its import and 1.2 s more for its first SQLite storage (SQLAlchemy's and Alembic's lazy imports), a third of
    the warm commands' CPU. A throw-away storage here loads all of that; its engine is closed before any fork. Its
    logging handler, made at import, holds this process's stderr: ``_command`` points it at the command's."""
    import importlib
    import pkgutil
    import tempfile

    import optuna

    with tempfile.TemporaryDirectory(prefix="dnz-warm-") as folder:
        storage = optuna.storages.RDBStorage(f"sqlite:///{folder}/warm.db")
        storage.engine.dispose()
        del storage

    import numpy  # noqa: F401
    import PIL.Image
    import pydantic
    import yaml  # noqa: F401

    import specgen

    PIL.Image.preinit()
    PIL.Image.init()
    for info in pkgutil.walk_packages(specgen.__path__, "specgen."):
        if not info.name.endswith(".__main__"):  # that one runs the CLI
            importlib.import_module(info.name)
    todo = list(pydantic.BaseModel.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("specgen.") and not cls.__pydantic_complete__:
            cls.model_rebuild()


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError("client went away")
        data += chunk
    return data


def _declined(env: dict[str, str]) -> bool:
    """Whether a forked command could differ from a cold one: an interpreter setting differs, or PYTHONPATH names
    a folder with another copy of a package this process has imported (the GPU scripts put the checkout itself
    there, which holds the same ``specgen``)."""
    if any(env.get(name) != os.environ.get(name) for name in INTERPRETER_ENV):
        return True
    for entry in _pythonpath(env):
        for name in ("specgen", "tui"):
            module = sys.modules.get(name)  # one not imported here is imported by the command, as cold
            there = os.path.join(entry, name)
            if module is not None and os.path.isdir(there):
                mine = os.path.dirname(module.__file__ or "")
                if os.path.realpath(there) != os.path.realpath(mine):
                    return True
    return False


def _pythonpath(env: dict[str, str]) -> list[str]:
    return [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]


def _monitor(conn: socket.socket) -> Callable[[], None] | None:
    """In the forked monitor: read the request, fork the command, report its pid and its end. Returns the
    command's entry in the command's own process; never returns in the monitor (it exits)."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    _, fds, _, _ = socket.recv_fds(conn, 1, 3)
    request = marshal.loads(_recv_exact(conn, int(_recv_exact(conn, 10))))
    if len(fds) != 3 or _declined(request["env"]):
        conn.sendall(b"F\n")
        os._exit(0)
    pid = os.fork()
    if pid == 0:
        return _command(conn, fds, request)
    for fd in fds:
        os.close(fd)
    conn.sendall(b"P%d\n" % pid)
    pidfd = os.pidfd_open(pid)
    while True:
        ready, _, _ = select.select([pidfd, conn], [], [])
        if pidfd in ready:
            _, status = os.waitpid(pid, 0)
            try:
                conn.sendall(b"S%d\n" % status)
            except OSError:
                pass
            os._exit(0)
        if not conn.recv(1):  # the caller is gone (a test's timeout killed it): so goes its command
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
            os._exit(0)


def _command(conn: socket.socket, fds: list[int], request: dict[str, object]) -> Callable[[], None]:
    """Become the command's process: the caller's stdio, cwd, environment and argv, then ``python -m specgen.cli``."""
    conn.close()
    for target, fd in zip((0, 1, 2), fds, strict=True):
        os.dup2(fd, target)
        os.close(fd)
    env = request["env"]
    cwd = request["cwd"]
    argv = request["argv"]
    assert isinstance(env, dict) and isinstance(cwd, str) and isinstance(argv, list)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    sys.path[1:1] = [os.path.abspath(p) for p in _pythonpath(env)]  # as Python: after the first entry
    sys.path[0] = cwd  # what ``python -m`` puts first
    import tempfile

    tempfile.tempdir = None  # gettempdir() reads TMPDIR again
    unbuffered = bool(env.get("PYTHONUNBUFFERED"))
    encoding, errors = sys.stdout.encoding, sys.stdout.errors

    def stream(fd: int, mode: str, line: bool) -> io.TextIOWrapper:
        raw = io.FileIO(fd, mode, closefd=False)
        buffered: io.BufferedIOBase = io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
        return io.TextIOWrapper(
            buffered,
            encoding=encoding,
            errors="backslashreplace" if fd == 2 else errors,
            line_buffering=line or raw.isatty(),
            write_through=unbuffered and mode == "w",
        )

    old_streams = {id(sys.stdout): 1, id(sys.stderr): 2, id(sys.__stdout__): 1, id(sys.__stderr__): 2}
    sys.stdin = sys.__stdin__ = stream(0, "r", False)
    sys.stdout = sys.__stdout__ = stream(1, "w", False)
    sys.stderr = sys.__stderr__ = stream(2, "w", True)  # as Python 3.9+: stderr is line-buffered
    _repoint_log_handlers(old_streams)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in request.get(
        "ignored", []
    ):  # inherited as ignored by the caller: so by a cold process (Python too
        signal.signal(sig, signal.SIG_IGN)  # leaves an ignored SIGINT ignored)

    def run() -> None:
        """The command, then what the interpreter does at its exit — wait for non-daemon threads, atexit, flush —
        and ``os._exit``: a real process would now free its whole heap, which here would copy every shared page."""
        import atexit
        import runpy
        import threading
        import traceback

        sys.argv = ["-m", *argv]
        code = 0
        interrupted = False
        try:
            runpy.run_module("specgen.cli", run_name="__main__", alter_sys=True)
        except SystemExit as exc:
            if exc.code is None:
                code = 0
            elif isinstance(exc.code, int):
                code = exc.code & 0xFF
            else:
                print(exc.code, file=sys.stderr)
                code = 1
        except KeyboardInterrupt:
            traceback.print_exc()
            interrupted = True
        except BaseException:
            traceback.print_exc()
            code = 1
        threading._shutdown()  # type: ignore[attr-defined]
        atexit._run_exitfuncs()
        for out in (sys.stdout, sys.stderr):
            try:
                out.flush()
            except OSError:
                code = 120  # as Python: stdout could not be flushed at exit
        if interrupted:  # as Python 3.8+: an uncaught KeyboardInterrupt ends the process by SIGINT
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        os._exit(code)

    return run


def _repoint_log_handlers(old_streams: dict[int, int]) -> None:
    """Log handlers made while warming (optuna's, at its import) write to this process's old stdout/stderr
    objects: point them at the command's, as a cold process would have made them."""
    import logging

    loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
    for logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            if isinstance(handler, logging.StreamHandler) and id(handler.stream) in old_streams:
                handler.setStream(sys.stdout if old_streams[id(handler.stream)] == 1 else sys.stderr)


def _reap() -> None:
    """Wait for the monitors that ended, so their CPU (and their commands') counts as this process's children's:
    the suite's CPU stays measurable with ``time``."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def serve(path: str) -> Callable[[], None]:
    """Accept requests until the parent (the pytest worker) is gone. Returns only in a command's process."""
    parent = os.getppid()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    gc.freeze()  # the warm objects: commands neither scan nor copy them
    os.write(1, b"ready\n")
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)
    os.close(devnull)
    while True:
        ready, _, _ = select.select([listener], [], [], 1.0)
        if os.getppid() != parent:
            os._exit(0)
        _reap()
        if not ready:
            continue
        try:
            conn, _ = listener.accept()
        except OSError:
            continue
        if os.fork() == 0:
            listener.close()
            try:
                job = _monitor(conn)
            except (
                BaseException
            ):  # a broken request: the caller sees the socket close and starts a real process
                os._exit(1)
            if job is not None:
                return job
            os._exit(0)
        conn.close()


if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # no BLAS threads in a process that forks
    warm()
    serve(sys.argv[1])()
