"""Where a run executes: a TAO container via the Docker SDK, a local ``depth_net``, or a script to run by hand (and,
in ``slurm.py``, a Slurm job). Each is a ``Backend`` (``backend.py``); ``BACKENDS`` names them all, so the launcher,
``--backend`` and the launch dialog list the same ones."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from specgen.engine.backend import (
    Backend,
    Ending,
    StateSink,
    StopResult,
    read_exit_file,
    tail,
)
from specgen.engine.home import HOME_DIRS, home_dir, home_env, make_home
from specgen.engine.records import LaunchError, LaunchRequest, RunRecord, RunRow, now
from specgen.engine.slurm import SlurmBackend, SlurmOptions
from specgen.engine.tao_mounts import TaoMounts, read_tao_mounts
from specgen.spec.docker_cmd import default_image, docker_argv, mounts

LABEL = "depthnet.run_id"
GPU_ERROR = 'could not select device driver "" with capabilities: [[gpu]]'


# --------------------------------------------------------------------------- docker


class DockerBackend(Backend):
    name = "docker"
    label = "docker"
    follower_holds_lock = True  # a container holds no descriptor of ours: the lock lives while it is followed

    def __init__(self, client: Any | None = None) -> None:
        import docker

        super().__init__()
        self._docker = docker
        try:
            self.client = client or docker.from_env(timeout=30)
            self.client.ping()
        except Exception as exc:  # docker raises several types for "no engine"
            where = os.environ.get("DOCKER_HOST", "the default socket (/var/run/docker.sock)")
            raise LaunchError(
                f"no Docker engine answers at {where} ({exc.__class__.__name__}); start Docker, "
                "set DOCKER_HOST, or use --backend local / --backend script"
            ) from None

    @classmethod
    def observe(cls) -> DockerBackend:
        return cls()

    def preflight(self, req: LaunchRequest) -> None:
        image = req.image or default_image(req.action)
        try:
            self.client.images.get(image)
        except self._docker.errors.ImageNotFound:
            raise LaunchError(
                f"image {image} is not on this machine; pull it first (docker pull {image}) or pass "
                "--image with one you have"
            ) from None

    def launch(self, req: LaunchRequest, run_dir: Path, *, lock_fd: int | None = None) -> RunRecord:
        from docker.types import DeviceRequest

        self.preflight(req)
        image = req.image or default_image(req.action)
        user_tao = read_tao_mounts(strict=False)
        volumes = self.volumes(req, user_tao)
        # TAO's child prints through a pipe: unbuffered, or output comes in bursts. It runs as --user: a HOME and
        # caches it may write, in the run folder (engine/home.py); a value the person set wins.
        given = {**user_tao.envs, **req.env}
        home = str(make_home(run_dir, req.user))
        volumes[home] = {"bind": home, "mode": "rw"}
        env = {"PYTHONUNBUFFERED": "1", **home_env(run_dir, given), **given}
        device_requests = None
        if req.gpus != "none":
            ids = None if req.gpus == "all" else req.gpus.split(",")
            device_requests = [
                DeviceRequest(count=-1, capabilities=[["gpu"]])
                if ids is None
                else DeviceRequest(device_ids=ids, capabilities=[["gpu"]])
            ]
        labels = {
            LABEL: req.run_id,
            "depthnet.action": req.action,
            "depthnet.spec": req.spec_path,
            "depthnet.results_dir": req.results_dir,
        }
        kwargs: dict[str, Any] = dict(
            command=req.command,
            detach=True,
            labels=labels,
            volumes=volumes,
            environment=env,
            shm_size=req.shm_size,
            ipc_mode="host",
            user=req.user,
            device_requests=device_requests,
            name=f"depthnet-{req.run_id}",
        )
        if req.network:
            kwargs["network_mode"] = req.network
        try:
            container = self.client.containers.run(image, **kwargs)
        except self._docker.errors.APIError as exc:
            self._remove_leftover(req.run_id)
            text = str(getattr(exc, "explanation", "") or exc)
            if "could not select device driver" in text:
                raise LaunchError(
                    "Docker has no NVIDIA GPU runtime (" + GPU_ERROR + "): install the NVIDIA Container "
                    "Toolkit and restart Docker, or run with --gpus none for a CPU-only check"
                ) from None
            raise LaunchError(f"Docker refused to start the container: {text}") from None
        return RunRecord(
            run_id=req.run_id,
            backend="docker",
            action=req.action,
            spec_path=req.spec_path,
            results_dir=req.results_dir,
            started=now(),
            container_id=container.id,
            image=image,
        )

    def restart(
        self, record: RunRecord, req: LaunchRequest, run_dir: Path, *, lock_fd: int | None = None
    ) -> RunRecord:
        """A new container under the run's name: the ended one (its console kept in the run folder) goes first."""
        self._remove_leftover(record.run_id)
        return super().restart(record, req, run_dir, lock_fd=lock_fd)

    @staticmethod
    def volumes(req: LaunchRequest, user_tao: TaoMounts | None = None) -> dict[str, dict[str, str]]:
        """The container's mounts, as the Docker SDK takes them: ``docker_cmd.mounts`` (each folder at its own
        path; the data roots — checkpoint and link-target folders included, the preflight added them — read-only,
        the output folder read-write, nested in a data root when it lies there), then ``~/.tao_mounts.json``'s."""
        volumes = {
            folder: {"bind": folder, "mode": "ro" if read_only else "rw"}
            for folder, read_only in mounts(
                req.spec_path, data_roots=req.data_roots, output_dir=req.output_dir
            )
        }
        if user_tao is not None:
            volumes.update({k: v for k, v in _user_volumes(user_tao).items() if k not in volumes})
        return volumes

    def _remove_leftover(self, run_id: str) -> None:
        for c in self.client.containers.list(all=True, filters={"label": f"{LABEL}={run_id}"}):
            try:
                c.remove(force=True)
            except self._docker.errors.APIError:
                pass

    def container(self, record: RunRecord) -> Any:
        if not record.container_id:
            raise LaunchError(f"run {record.run_id} has no container id in its record: it never started")
        return self.client.containers.get(record.container_id)

    def alive(self, record: RunRecord) -> bool:
        """The container still exists (running or not): its log and exit code can be read."""
        try:
            self.container(record)
        except self._docker.errors.NotFound:
            return False
        return True

    def output(self, record: RunRecord, log_path: Path, ended: Callable[[], bool]) -> Iterator[bytes]:
        """The log driver's follow stream, kept in ``log_path`` as it comes; then whatever the stream missed (it can
        end before the last partial line is flushed)."""
        from specgen.spec.atomicio import open_log

        received = 0
        with open_log(log_path) as raw:  # never through a link planted at log.txt: it is emptied first
            for chunk in self.container(record).logs(stream=True, follow=True, stdout=True, stderr=True):
                received += len(chunk)
                raw.write(chunk)
                raw.flush()
                yield chunk
            try:
                full = self.container(record).logs(stdout=True, stderr=True)
            except Exception:  # noqa: BLE001 - the container may be gone: what we have stands
                return
            if len(full) > received:
                raw.write(full[received:])
                raw.flush()
                yield full[received:]

    def live(self, record: RunRecord) -> Iterator[bytes]:
        """The container's output as it is written. Docker's log driver holds a line until its newline, and TAO's
        progress updates have none until the epoch ends, so per-step losses come from an attach stream."""
        c = self.container(record)
        c.reload()
        if c.status != "running":
            return
        yield from c.attach(stdout=True, stderr=True, stream=True, logs=False)

    def running(self, record: RunRecord) -> bool:
        """The container still runs (or is paused, restarting): a detached run whose follower has gone."""
        try:
            return str(self.container(record).status) in ("running", "restarting", "paused")
        except Exception:  # noqa: BLE001 - gone, no id, or the engine fails: nothing here runs it
            return False

    def wait(self, record: RunRecord, on_state: StateSink) -> Ending:
        code = int(self.container(record).wait().get("StatusCode", -1))
        return Ending(None if code < 0 else code)

    def stop(self, record: RunRecord, timeout: int = 10) -> StopResult:
        """Graceful first (SIGTERM, then SIGKILL after ``timeout`` seconds), as ``docker stop`` does."""
        try:
            self.container(record).stop(timeout=timeout)
        except self._docker.errors.NotFound:
            raise LaunchError(
                f"run {record.run_id}: its container {str(record.container_id)[:12]} is gone: nothing to stop"
            ) from None
        return StopResult()

    def state(self, record: RunRecord) -> str:
        try:
            return str(self.container(record).status)
        except Exception:  # noqa: BLE001 - gone, or the engine fails: the listing says so, never fails
            return "unknown"

    def listed(self) -> list[RunRow]:
        """Every container carrying our label, ours in the registry or not; an engine that answers its ping but
        refuses the list (a broken daemon, a proxy) lists nothing rather than failing the whole listing."""
        try:
            found = self.client.containers.list(all=True, filters={"label": LABEL})
        except self._docker.errors.DockerException:
            return []
        return [
            RunRow(
                run_id=c.labels.get(LABEL),
                backend="docker",
                action=c.labels.get("depthnet.action"),
                state=c.status,
            )
            for c in found
        ]


def _user_volumes(user_tao: TaoMounts) -> dict[str, dict[str, str]]:
    """``~/.tao_mounts.json``'s mounts as Docker volumes (read-write, as the launcher mounts them). The preflight
    refuses a system folder there; refused here too, for a launch that skipped it."""
    from specgen.engine.preflight import system_folder

    out: dict[str, dict[str, str]] = {}
    for i, m in enumerate(user_tao.mounts):
        why = system_folder(m.source)
        if why:
            raise LaunchError(
                f"{why}: refusing it as a mount (read-write, from {user_tao.path}, Mounts[{i}])"
            )
        out[m.source] = {"bind": m.destination, "mode": "rw"}
    return out


# --------------------------------------------------------------------------- local


class LocalBackend(Backend):
    """``depth_net`` found on PATH (inside the TAO container or a TAO venv), run as a detached subprocess."""

    name = "local"
    label = "local depth_net"
    container_mounts = False  # depth_net runs here: it reads every file you can

    def __init__(self) -> None:
        super().__init__()
        self.exe = shutil.which("depth_net")
        if self.exe is None:
            raise LaunchError(
                "depth_net is not on PATH: run inside the TAO container or its venv, or use --backend docker"
            )
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    @classmethod
    def observe(cls) -> LocalBackend:
        """For runs started by another process (re-attach, stop): no launching, only pid/exit-file bookkeeping."""
        backend = cls.__new__(cls)
        Backend.__init__(backend)
        backend.exe, backend._procs = None, {}
        return backend

    #: A tiny wrapper (paths travel as arguments, never inside the script text) that leaves the exit code in a
    #: file, so a monitor started later — after an SSH drop — still learns how the run ended.
    WRAPPER = '"$@"; code=$?; echo "$code" > "$0.tmp" && mv "$0.tmp" "$0"; exit "$code"'

    def launch(self, req: LaunchRequest, run_dir: Path, *, lock_fd: int | None = None) -> RunRecord:
        """The run's process inherits the results-folder lock (``lock_fd``), so the folder stays taken exactly as
        long as it runs; the GPUs chosen become CUDA_VISIBLE_DEVICES (it sees them as 0..n-1, as in Docker)."""
        if self.exe is None:
            raise LaunchError(
                "depth_net is not on PATH: this local backend only follows runs started elsewhere"
            )
        extra = {}
        if req.gpus not in ("all", "none") and "CUDA_VISIBLE_DEVICES" not in req.env:
            extra["CUDA_VISIBLE_DEVICES"] = req.gpus
        log_path = run_dir / "log.txt"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        exit_file = log_path.parent / "exit_code"
        exit_file.unlink(missing_ok=True)
        from specgen.spec.atomicio import open_log

        log = open_log(log_path)  # handed to the child, which outlives us; never through a planted link
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **req.env, **extra}
        argv = ["/bin/sh", "-c", self.WRAPPER, str(exit_file), str(self.exe), *req.command[1:]]
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            pass_fds=() if lock_fd is None else (lock_fd,),
        )
        log.close()
        self._procs[req.run_id] = proc
        return RunRecord(
            run_id=req.run_id,
            backend="local",
            action=req.action,
            spec_path=req.spec_path,
            results_dir=req.results_dir,
            started=now(),
            pid=proc.pid,
            pid_start=process_start(proc.pid),
            exit_file=str(exit_file),
        )

    def alive(self, record: RunRecord) -> bool:
        return self.is_running(record)

    def running(self, record: RunRecord) -> bool:
        return self.is_running(record)

    def output(self, record: RunRecord, log_path: Path, ended: Callable[[], bool]) -> Iterator[bytes]:
        return tail(log_path, ended)

    #: Seconds the group may take to empty after its leader exits (a worker being reaped) before what is left
    #: counts as outliving it.
    GROUP_GRACE = 3.0

    def wait(self, record: RunRecord, on_state: StateSink) -> Ending:
        """The run is finished when its whole process group is gone, not when its leader exits: TAO's entrypoint
        SIGKILLed by the OOM killer leaves its training child running (and the GPU taken). The exit code is the
        leader's; a group that outlived it is said in ``Ending.ended_by``."""
        proc = self._procs.get(record.run_id)
        code: int | None
        if proc is not None:
            code = proc.wait()
            if code < 0:  # killed by a signal: -9 → 137, like a container
                code = read_exit_file(record.exit_file, 128 - code)
        else:
            _wait_leader(record)
            code = read_exit_file(record.exit_file, -1)
            code = None if code < 0 else code
        return _after_leader(record, code, self.GROUP_GRACE)

    def is_running(self, record: RunRecord) -> bool:
        """The leader runs, or any process of the run's group is left (``run_members``)."""
        proc = self._procs.get(record.run_id)
        if proc is not None and proc.poll() is None:
            return True
        return bool(run_members(record))

    def stop(self, record: RunRecord, timeout: int = 10) -> StopResult:
        """SIGTERM to the run's whole process group (TAO's entrypoint alone dies silently and leaves its training
        child on the GPU), SIGKILL after ``timeout``; then make sure nothing of the group is left. What is left of a
        run whose leader has gone is stopped the same way (group and start times checked: ``run_members``). The
        result names the pids that had to be killed after the grace period."""
        import signal
        import time

        if not run_members(record):
            raise LaunchError(
                f"run {record.run_id} is not running: its process {record.pid} has ended (the pid may "
                "belong to another program now, which is left alone)"
            )
        pgid = record.pid or 0
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            return StopResult("; nothing of it is left running")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and group_members(pgid):
            time.sleep(0.1)
        left = group_members(pgid)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for _ in range(50):
            if not group_members(pgid):
                break
            time.sleep(0.1)
        proc = self._procs.get(record.run_id)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=1)
        if not left:
            return StopResult("; nothing of it is left running")
        return StopResult(
            f"; {len(left)} process(es) of its group ignored SIGTERM for {timeout} s and were killed "
            f"({', '.join(map(str, left))})",
            killed=left,
        )

    def state(self, record: RunRecord) -> str:
        return "running" if self.is_running(record) else "exited"


def process_start(pid: int) -> int | None:
    """A process's start time in clock ticks since boot (/proc/PID/stat field 22), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def is_ours(record: RunRecord) -> bool:
    """The run's recorded process is still the one we started: same pid, same start time, leading its own group.
    A pid ≤ 1, a record without a start time, or a pid reused by another process is never signalled."""
    pid = record.pid
    if pid is None or pid <= 1 or record.pid_start is None:
        return False
    if process_start(pid) != record.pid_start:
        return False
    try:
        return os.getpgid(pid) == pid
    except OSError:
        return False


def _group(pgid: int) -> dict[int, int]:
    """Live (not zombie) processes of a process group, from /proc, with their start times."""
    out: dict[int, int] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return out
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if len(fields) > 19 and fields[0] != "Z" and int(fields[2]) == pgid:
                out[int(name)] = int(fields[19])
        except (OSError, IndexError, ValueError):
            continue
    return out


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group, from /proc: the orphaned training child included."""
    return sorted(_group(pgid))


def run_members(record: RunRecord) -> list[int]:
    """The live processes of a local run: its process group (the recorded pid leads it: ``start_new_session``),
    leader or not — the training child a SIGKILLed entrypoint leaves behind included.

    Pids are reused, so the group is the run's only while it can be: the leader, if alive, has the recorded start
    time, and no member started before it (a group older than the run is another program's). Linux keeps a pid
    from reuse while a group still carries it as its id, so members found this way are the run's own. Empty: no
    pid ≤ 1 or record without a start time is ever taken for a run."""
    pid, start = record.pid, record.pid_start
    if pid is None or pid <= 1 or start is None:
        return []
    leader = process_start(pid)
    if leader is not None and leader != start:
        return []  # the pid is another program's now
    members = _group(pid)
    if any(t < start for t in members.values()):
        return []
    return sorted(members)


def _after_leader(record: RunRecord, code: int | None, grace: float) -> Ending:
    """The leader has exited with ``code``: wait until the whole group has gone. What outlived the leader by more
    than ``grace`` seconds makes the ending say so (``Ending.ended_by``)."""
    import time

    deadline = time.monotonic() + grace
    left = run_members(record)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = run_members(record)
    if not left:
        return Ending(code)
    outlived = list(left)
    while left:
        time.sleep(0.2)
        left = run_members(record)
    pids = ", ".join(map(str, outlived[:5])) + (" …" if len(outlived) > 5 else "")
    n = f"{len(outlived)} process{'es' if len(outlived) > 1 else ''} of its group (pid {pids})"
    if code is not None and code >= 128:
        how = f"was killed (exit {code}" + (
            ", most likely by the out-of-memory killer)" if code == 137 else ")"
        )
        words = (
            f"TAO's entrypoint {how} while {n} ran on, holding the GPU until they ended: lower the batch size "
            "or the encoder, or enable train.activation_checkpoint"
        )
    else:
        said = "without an exit code" if code is None else f"with code {code}"
        words = (
            f"TAO's entrypoint exited {said} while {n} ran on: the run had not finished when it said so, "
            "and its outputs may be incomplete"
        )
    return Ending(code, ended_by=words, outlived=len(outlived))


def _wait_leader(record: RunRecord) -> None:
    import time

    while is_ours(record) and _pid_alive(record.pid or 0):
        time.sleep(0.2)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child is finished
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


# --------------------------------------------------------------------------- script


class ScriptBackend(Backend):
    """No engine, no depth_net: write run.sh with the exact docker command, for the user to run."""

    name = "script"
    label = "script (run.sh to run by hand)"
    starts = False
    gpus_here = False  # the GPUs are those of the machine the script runs on

    @classmethod
    def observe(cls) -> ScriptBackend:
        return cls()

    def launch(self, req: LaunchRequest, run_dir: Path, *, lock_fd: int | None = None) -> RunRecord:
        """run.sh: the exact ``docker run``, every word quoted. ``--env`` values are never written: the script
        passes each name through (``-e NAME``, Docker takes the value from the environment it runs in) and stops
        with one line when one is not exported."""
        from shlex import join, quote

        from specgen.spec.atomicio import write_text_atomic

        home = home_dir(run_dir)
        argv = docker_argv(
            req.action,
            req.spec_path,
            data_roots=req.data_roots,
            output_dir=req.output_dir,
            image=req.image,
            gpus=req.gpus,
            env={"PYTHONUNBUFFERED": "1", **home_env(run_dir, req.env)},
        )
        argv.insert(3, f"--label={LABEL}={req.run_id}")
        at = len(argv) - 5  # before the image and depth_net's arguments
        argv[at:at] = [*(w for name in req.env for w in ("-e", name)), "-v", f"{home}:{home}"]
        names = ", ".join(req.env) or "none"
        checks = "".join(
            f': "${{{name}:?export {name} first: depthnet writes no --env value to disk}}"\n'
            for name in req.env
        )
        dirs = " ".join(quote(str(home / rel)) for rel in sorted(set(HOME_DIRS.values())) if rel)
        body = (
            "#!/bin/sh\n# Written by depthnet-tui: run this on the GPU machine.\n"
            f"# Environment passed to the container: {names} (export them first; their values are not in this file).\n"
            "# --user keeps outputs owned by you (otherwise they are nobody:nogroup); HOME and the caches are in the\n"
            "# run folder, which you can write.\nset -e\n"
            + checks
            + f"(umask 077 && mkdir -p {dirs})\n"
            + join(argv)
            + "\n"
        )
        script = write_text_atomic(run_dir / "run.sh", body, overwrite=True, mode=0o700)
        return RunRecord(
            run_id=req.run_id,
            backend="script",
            action=req.action,
            spec_path=req.spec_path,
            results_dir=req.results_dir,
            started=now(),
            script=str(script),
        )

    def alive(self, record: RunRecord) -> bool:
        return False

    @classmethod
    def never_started(cls, record: RunRecord) -> bool:
        """Nothing has come of the script yet: no log.txt put in the run folder, no status.json written in the
        results folder since the script was (a replay of those judges a script that was run)."""
        return not _left_traces(record)

    def output(self, record: RunRecord, log_path: Path, ended: Callable[[], bool]) -> Iterator[bytes]:
        return tail(log_path, lambda: True)  # a log.txt put there by hand, if any

    def wait(self, record: RunRecord, on_state: StateSink) -> Ending:
        return Ending(None, failure=f"run {record.run_id} was written as a script and never started here")

    def stop(self, record: RunRecord, timeout: int = 10) -> StopResult:
        raise LaunchError(
            f"run {record.run_id} was written as a script ({record.script}) and never started here: "
            "nothing to stop"
        )

    def state(self, record: RunRecord) -> str:
        return "not started"  # written for the user to run: never "finished"


def _left_traces(record: RunRecord) -> bool:
    """A run made elsewhere left something here to judge: a log in its run folder, or a status.json in its results
    folder written after it was recorded."""
    from datetime import datetime

    from specgen.engine import registry

    if registry.log_path(record).exists():
        return True
    try:
        since = datetime.fromisoformat(record.started).timestamp() - 5
        return (Path(record.results_dir) / "status.json").stat().st_mtime >= since
    except (OSError, ValueError):
        return False


# --------------------------------------------------------------------------- all of them

#: Every backend by the name run.json and ``--backend`` use, in the order the launch dialog offers them.
BACKENDS: dict[str, type[Backend]] = {
    cls.name: cls for cls in (DockerBackend, LocalBackend, ScriptBackend, SlurmBackend)
}


def backend_class(name: str) -> type[Backend]:
    try:
        return BACKENDS[name]
    except KeyError:
        raise LaunchError(f"unknown backend {name!r}: use one of {', '.join(BACKENDS)}") from None


def choose_backend(name: str | None, slurm: SlurmOptions | None = None) -> Backend:
    """The named backend, or docker when an engine answers, else local when depth_net is on PATH, else script.
    The engine is asked once: the backend that answered is the one returned."""
    if name:
        return backend_class(name).for_launch(slurm)
    try:
        return DockerBackend()
    except LaunchError:
        pass
    return LocalBackend() if shutil.which("depth_net") else ScriptBackend()


__all__ = [
    "BACKENDS",
    "Backend",
    "DockerBackend",
    "LaunchError",
    "LaunchRequest",
    "LocalBackend",
    "RunRecord",
    "ScriptBackend",
    "backend_class",
    "choose_backend",
]
