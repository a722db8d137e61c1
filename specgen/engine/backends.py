"""Where a run executes: a TAO container via the Docker SDK, a local ``depth_net``, or a script to run by hand."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from specgen.spec.docker_cmd import default_image, docker_argv, mounts

LABEL = "depthnet.run_id"
GPU_ERROR = 'could not select device driver "" with capabilities: [[gpu]]'


class LaunchError(RuntimeError):
    """A launch or preflight failure, worded as one message with the fix."""


class LaunchRequest(BaseModel):
    run_id: str
    action: str
    spec_path: str
    results_dir: str
    data_roots: list[str]
    output_dir: str
    image: str | None = None
    gpus: str = "0"
    user: str = Field(default_factory=lambda: f"{os.getuid()}:{os.getgid()}")
    network: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    shm_size: str = "16G"

    @property
    def command(self) -> list[str]:
        return ["depth_net", self.action, "-e", self.spec_path]


class RunRecord(BaseModel):
    """What ``depthnet runs`` / ``attach`` need to find a run again (saved as run.json in its folder)."""

    run_id: str
    backend: Literal["docker", "local", "script", "slurm"]
    action: str
    spec_path: str
    results_dir: str
    started: str
    container_id: str | None = None
    pid: int | None = None
    pid_start: int | None = (
        None  # the process's start time (/proc/PID/stat field 22): a reused pid is not ours
    )
    image: str | None = None
    script: str | None = None
    exit_file: str | None = None  # local/slurm: where the wrapper leaves the exit code for a later attach
    job_id: str | None = None  # slurm: the job id sbatch gave
    log_file: str | None = None  # where the console goes when not the run folder's log.txt
    gpus: str | None = None  # what the run was given (--gpus), for the Run screen's telemetry
    notes: list[str] = Field(default_factory=list)  # what was decided at launch (device keys, strategy)
    verdict: dict[str, Any] | None = None


# --------------------------------------------------------------------------- ~/.tao_mounts.json


def tao_mounts(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The `tao` launcher's Mounts / Envs / DockerOptions, when the user has them."""
    p = Path(path) if path else Path.home() / ".tao_mounts.json"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise LaunchError(f"{p}: not valid JSON ({exc}); fix or move it") from None
    return data if isinstance(data, dict) else {}


# --------------------------------------------------------------------------- docker


class DockerBackend:
    name = "docker"

    def __init__(self, client: Any | None = None) -> None:
        import docker

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

    def preflight(self, req: LaunchRequest) -> None:
        image = req.image or default_image(req.action)
        try:
            self.client.images.get(image)
        except self._docker.errors.ImageNotFound:
            raise LaunchError(
                f"image {image} is not on this machine; pull it first (docker pull {image}) or pass "
                "--image with one you have"
            ) from None

    def launch(self, req: LaunchRequest) -> RunRecord:
        from docker.types import DeviceRequest

        image = req.image or default_image(req.action)
        volumes = {
            folder: {"bind": folder, "mode": "ro" if read_only else "rw"}
            for folder, read_only in mounts(
                req.spec_path, data_roots=req.data_roots, output_dir=req.output_dir
            )
        }
        user_tao = tao_mounts()
        for m in user_tao.get("Mounts", []) or []:
            if isinstance(m, dict) and m.get("source") and m.get("destination"):
                volumes.setdefault(m["source"], {"bind": m["destination"], "mode": "rw"})
        env = {
            "PYTHONUNBUFFERED": "1"
        }  # TAO's child prints through a pipe: unbuffered, or output comes in bursts
        env.update(
            {
                e["variable"]: e["value"]
                for e in user_tao.get("Envs", []) or []
                if isinstance(e, dict) and "variable" in e
            }
        )
        env.update(req.env)
        device_requests = None
        if req.gpus != "none":
            ids = None if req.gpus == "all" else req.gpus.split(",")
            device_requests = [
                DeviceRequest(device_ids=ids, count=-1 if ids is None else None, capabilities=[["gpu"]])
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
            started=_now(),
            container_id=container.id,
            image=image,
        )

    def _remove_leftover(self, run_id: str) -> None:
        for c in self.client.containers.list(all=True, filters={"label": f"{LABEL}={run_id}"}):
            try:
                c.remove(force=True)
            except self._docker.errors.APIError:
                pass

    def container(self, record: RunRecord) -> Any:
        return self.client.containers.get(record.container_id)

    def stream(self, record: RunRecord) -> Iterator[bytes]:
        yield from self.container(record).logs(stream=True, follow=True, stdout=True, stderr=True)

    def live(self, record: RunRecord) -> Iterator[bytes]:
        """The container's output as it is written. Docker's log driver holds a line until its newline, and TAO's
        progress updates have none until the epoch ends, so per-step losses come from an attach stream."""
        c = self.container(record)
        c.reload()
        if c.status != "running":
            return
        yield from c.attach(stdout=True, stderr=True, stream=True, logs=False)

    def full_log(self, record: RunRecord) -> bytes:
        """Everything the log driver holds (its follow stream can end before the last partial line is flushed)."""
        return self.container(record).logs(stdout=True, stderr=True)

    def wait(self, record: RunRecord) -> int:
        return int(self.container(record).wait().get("StatusCode", -1))

    def exists(self, record: RunRecord) -> bool:
        try:
            self.container(record)
        except self._docker.errors.NotFound:
            return False
        return True

    def stop(self, record: RunRecord, timeout: int = 10) -> None:
        """Graceful first (SIGTERM, then SIGKILL after ``timeout`` seconds), as ``docker stop`` does."""
        self.container(record).stop(timeout=timeout)

    def listed(self) -> list[dict[str, Any]]:
        return [
            {
                "run_id": c.labels.get(LABEL),
                "status": c.status,
                "action": c.labels.get("depthnet.action"),
                "container": c.short_id,
            }
            for c in self.client.containers.list(all=True, filters={"label": LABEL})
        ]


# --------------------------------------------------------------------------- local


class LocalBackend:
    """``depth_net`` found on PATH (inside the TAO container or a TAO venv), run as a detached subprocess."""

    name = "local"

    def __init__(self) -> None:
        self.exe = shutil.which("depth_net")
        if self.exe is None:
            raise LaunchError(
                "depth_net is not on PATH: run inside the TAO container or its venv, or use --backend docker"
            )
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    @classmethod
    def attached(cls) -> LocalBackend:
        """For runs started by another process (re-attach, stop): no launching, only pid/exit-file bookkeeping."""
        backend = cls.__new__(cls)
        backend.exe, backend._procs = None, {}
        return backend

    #: A tiny wrapper (paths travel as arguments, never inside the script text) that leaves the exit code in a
    #: file, so a monitor started later — after an SSH drop — still learns how the run ended.
    WRAPPER = '"$@"; code=$?; echo "$code" > "$0.tmp" && mv "$0.tmp" "$0"; exit "$code"'

    def launch(self, req: LaunchRequest, log_path: Path, keep_fds: tuple[int, ...] = ()) -> RunRecord:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        exit_file = log_path.parent / "exit_code"
        exit_file.unlink(missing_ok=True)
        log = open(log_path, "wb")  # noqa: SIM115 - handed to the child, which outlives us
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **req.env}
        argv = ["/bin/sh", "-c", self.WRAPPER, str(exit_file), str(self.exe), *req.command[1:]]
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            pass_fds=keep_fds,
        )
        log.close()
        self._procs[req.run_id] = proc
        return RunRecord(
            run_id=req.run_id,
            backend="local",
            action=req.action,
            spec_path=req.spec_path,
            results_dir=req.results_dir,
            started=_now(),
            pid=proc.pid,
            pid_start=process_start(proc.pid),
            exit_file=str(exit_file),
        )

    def wait(self, record: RunRecord) -> int:
        proc = self._procs.get(record.run_id)
        if proc is not None:
            code = proc.wait()
            if code >= 0:
                return code
            return read_exit_file(
                record.exit_file, 128 - code
            )  # killed by a signal: -9 → 137, like a container
        _wait_pid(record)
        return read_exit_file(record.exit_file, -1)

    def is_running(self, record: RunRecord) -> bool:
        proc = self._procs.get(record.run_id)
        if proc is not None:
            return proc.poll() is None
        return is_ours(record) and _pid_alive(record.pid)  # type: ignore[arg-type]

    def stop(self, record: RunRecord, timeout: int = 10) -> list[int]:
        """SIGTERM to the run's whole process group (TAO's entrypoint alone dies silently and leaves its training
        child on the GPU), SIGKILL after ``timeout``; then make sure nothing of the group is left. Returns the pids
        that had to be killed after the grace period."""
        import signal
        import time

        if not is_ours(record):
            return []
        try:
            os.killpg(record.pid, signal.SIGTERM)
        except ProcessLookupError:
            return []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and group_members(record.pid):
            time.sleep(0.1)
        left = group_members(record.pid)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for _ in range(50):
            if not group_members(record.pid):
                break
            time.sleep(0.1)
        proc = self._procs.get(record.run_id)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=1)
        return left


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


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group, from /proc: the orphaned training child included."""
    out = []
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
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            out.append(int(name))
    return out


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


def _wait_pid(record: RunRecord) -> None:
    import time

    while is_ours(record) and _pid_alive(record.pid):  # type: ignore[arg-type]
        time.sleep(0.2)


def read_exit_file(exit_file: str | None, default: int) -> int:
    """The wrapper's record of the exit code; ``default`` when the wrapper itself was killed (-1: unknown)."""
    try:
        return int(Path(exit_file).read_text().strip()) if exit_file else default
    except (OSError, ValueError):
        return default


# --------------------------------------------------------------------------- script


class ScriptBackend:
    """No engine, no depth_net: write run.sh with the exact docker command, for the user to run."""

    name = "script"

    def launch(self, req: LaunchRequest, folder: Path) -> RunRecord:
        from shlex import join

        from specgen.spec.atomicio import write_text_atomic

        argv = docker_argv(
            req.action,
            req.spec_path,
            data_roots=req.data_roots,
            output_dir=req.output_dir,
            image=req.image,
            gpus=req.gpus,
            env={"PYTHONUNBUFFERED": "1", **req.env},
        )
        argv.insert(3, f"--label={LABEL}={req.run_id}")
        names = ", ".join(req.env) or "none"
        body = (
            "#!/bin/sh\n# Written by depthnet-tui: run this on the GPU machine.\n"
            f"# Environment passed to the container: {names} (values below; this file is readable by you only).\n"
            "# --user keeps outputs owned by you (otherwise they are nobody:nogroup).\nset -e\n"
            + join(argv)
            + "\n"
        )
        # it may hold --env values (tokens): the owner's only, from the moment it exists
        script = write_text_atomic(folder / "run.sh", body, overwrite=True, mode=0o700)
        return RunRecord(
            run_id=req.run_id,
            backend="script",
            action=req.action,
            spec_path=req.spec_path,
            results_dir=req.results_dir,
            started=_now(),
            script=str(script),
        )


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def choose_backend(name: str | None) -> DockerBackend | LocalBackend | ScriptBackend:
    """The named backend, or docker when an engine answers, else local when depth_net is on PATH, else script.
    The engine is asked once: the backend that answered is the one returned."""
    if name == "docker":
        return DockerBackend()
    if name == "local":
        return LocalBackend()
    if name == "script":
        return ScriptBackend()
    try:
        return DockerBackend()
    except LaunchError:
        pass
    return LocalBackend() if shutil.which("depth_net") else ScriptBackend()


__all__ = [
    "DockerBackend",
    "LaunchError",
    "LaunchRequest",
    "LocalBackend",
    "RunRecord",
    "ScriptBackend",
    "choose_backend",
]
