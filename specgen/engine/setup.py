"""The environment check a first-time user needs before anything else: can this machine run TAO depth_net, and if
not, the one fix that applies here. Shared by ``depthnet setup`` and the Setup screen.

Each check answers ok / warn / fail with what it found and the fix (a command to copy). Nothing here changes the
machine; secrets (registry credentials) are never read beyond knowing that they exist.

The checks are independent but for the engine's (runtime, images and the disk's image estimate wait for the
engine's answer), so ``run_checks`` runs them in threads and reports each as it finishes: the Docker SDK and NVML
take the longest, to import and to answer. ``Check`` and ``Report`` are checked dataclasses, not pydantic models: the
Setup screen is the first thing a first start draws, and its rows (``CHECK_NAMES``, "checking…") are drawn before any
check has run or pydantic has been imported.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from specgen.spec.docker_cmd import DEPLOY_IMAGE, TRAIN_IMAGE

Status = Literal["ok", "warn", "fail"]
NGC = "nvcr.io"
#: Disk a first run needs besides the images: a ViT-L checkpoint is ~1.3 GB and train keeps the last and the best.
RUN_SPACE = 10 * 2**30
#: What a TAO pyt image takes once pulled when the engine cannot tell yet (6.x: ~20 GB unpacked).
IMAGE_GUESS = 25 * 2**30
LOGIN_FIX = (
    "docker login nvcr.io   # Username: $oauthtoken   Password: your NGC API key "
    "(ngc.nvidia.com → Setup → Generate API Key)"
)
TOOLKIT_FIX = (
    "install the NVIDIA Container Toolkit, then: sudo nvidia-ctk runtime configure --runtime=docker && "
    "sudo systemctl restart docker"
)


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""
    key: str | None = None  # a key in the Setup screen that does the fix (p: pull)

    def __post_init__(self) -> None:
        if self.status not in get_args(Status):
            raise ValueError(f"check {self.name!r}: status {self.status!r} is not one of {get_args(Status)}")

    def as_dict(self) -> dict[str, Any]:
        """``depthnet setup --json``'s object for this check (the screen's key left out)."""
        out = asdict(self)
        del out["key"]
        return out


@dataclass(frozen=True)
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(c.status == "fail" for c in self.checks)


def _image_check_name(image: str) -> str:
    return f"image {image.rsplit(':', 1)[-1]}"


#: Every check's name, in the order ``run_checks`` reports them. Without an engine, its runtime and images are not
#: asked (they are left out of the report).
CHECK_NAMES: tuple[str, ...] = (
    "docker",
    "nvidia runtime",
    _image_check_name(TRAIN_IMAGE),
    _image_check_name(DEPLOY_IMAGE),
    "gpus",
    "ngc login",
    "disk",
    "shm",
    "tao_mounts",
    "depth_net",
    "slurm",
)


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


# --------------------------------------------------------------------------- docker


def _engine_where() -> str:
    host = os.environ.get("DOCKER_HOST")
    if host:
        return f"DOCKER_HOST={host}"
    ctx = os.environ.get("DOCKER_CONTEXT")
    return f"context {ctx}" if ctx else "unix:///var/run/docker.sock"


def docker_client() -> tuple[Any | None, Check]:
    """The engine, or why not: unreachable, not allowed (docker group), not installed."""
    where = _engine_where()
    try:
        import docker
    except ImportError:
        return None, Check(
            name="docker",
            status="fail",
            detail="the Docker SDK for Python is not installed here",
            fix="pip install docker   # depthnet-tui depends on it; a stripped environment lacks it",
        )
    try:
        client = docker.from_env(timeout=10)
        version = client.version()
    except Exception as exc:  # docker raises many types for "no engine"
        text = str(exc)
        socket = where.split("unix://", 1)[-1] if "unix://" in where else "/var/run/docker.sock"
        if "Permission denied" in text or "PermissionError" in text:
            return None, Check(
                name="docker",
                status="fail",
                detail=f"the engine at {where} refuses you (permission denied)",
                fix="sudo usermod -aG docker $USER && newgrp docker   # or use rootless Docker",
            )
        if shutil.which("docker") is None and shutil.which("dockerd") is None:
            fix = "install Docker Engine (docs.docker.com/engine/install), or use --backend local / slurm / script"
        elif os.environ.get("DOCKER_HOST") and not Path(socket).exists():
            fix = f"no socket at {socket}: start that engine, or unset DOCKER_HOST to use the default one"
        else:
            fix = "sudo systemctl start docker   # or: dockerd-rootless.sh for rootless Docker"
        return None, Check(
            name="docker", status="fail", detail=f"no Docker engine answers at {where}", fix=fix
        )
    return client, Check(
        name="docker",
        status="ok",
        detail=f"Docker {version.get('Version', '?')} at {where} (API {version.get('ApiVersion', '?')})",
    )


def nvidia_runtime(client: Any) -> Check:
    """The engine can give a container GPUs: the nvidia runtime, or CDI devices (Docker ≥ 25)."""
    try:
        info = client.info()
    except Exception as exc:  # noqa: BLE001
        return Check(
            name="nvidia runtime", status="warn", detail=f"docker info failed ({exc.__class__.__name__})"
        )
    runtimes = sorted((info.get("Runtimes") or {}).keys())
    cdi = [d.get("ID") for d in info.get("DiscoveredDevices") or [] if "nvidia" in str(d.get("ID", ""))]
    if "nvidia" in runtimes or cdi:
        how = "nvidia runtime" if "nvidia" in runtimes else f"CDI devices {', '.join(cdi[:3])}"
        return Check(
            name="nvidia runtime", status="ok", detail=f"the engine can give containers GPUs ({how})"
        )
    return Check(
        name="nvidia runtime",
        status="fail",
        detail=f"the engine has no NVIDIA runtime or CDI GPU devices (runtimes: {', '.join(runtimes) or 'none'})",
        fix=TOOLKIT_FIX,
    )


def images(client: Any) -> list[Check]:
    out = []
    for image, what in ((TRAIN_IMAGE, "train/evaluate/inference/export"), (DEPLOY_IMAGE, "TensorRT engine")):
        try:
            found = client.images.get(image)
        except Exception:  # noqa: BLE001 - ImageNotFound and friends
            out.append(
                Check(
                    name=_image_check_name(image),
                    status="warn",
                    detail=f"{image} ({what}) is not on this machine",
                    fix=f"depthnet setup --pull   # or: docker pull {image}",
                    key="p",
                )
            )
            continue
        size = found.attrs.get("Size") or 0
        out.append(
            Check(
                name=_image_check_name(image),
                status="ok",
                detail=f"{image} present ({_gib(size)})",
            )
        )
    return out


def ngc_login(config_dir: str | None = None) -> Check:
    """Whether `docker login nvcr.io` was done: an entry in the docker config or a credential helper for it. The
    entry's content (the secret) is never read into a message."""
    folder = Path(config_dir or os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    path = folder / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        config = {}
    except (OSError, ValueError):
        return Check(
            name="ngc login",
            status="warn",
            detail=f"{path} is not valid JSON",
            fix=f"fix or move {path}, then " + LOGIN_FIX,
        )
    auths = config.get("auths") if isinstance(config, dict) else None
    helpers = config.get("credHelpers") if isinstance(config, dict) else None
    if isinstance(helpers, dict) and NGC in helpers:
        return Check(
            name="ngc login",
            status="ok",
            detail=f"nvcr.io credentials through docker-credential-{helpers[NGC]}",
        )
    if isinstance(auths, dict) and any(k.rstrip("/").split("://")[-1] == NGC for k in auths):
        store = config.get("credsStore")
        return Check(
            name="ngc login",
            status="ok",
            detail="logged in to nvcr.io" + (f" (credentials in docker-credential-{store})" if store else ""),
        )
    return Check(
        name="ngc login",
        status="warn",
        detail=f"no nvcr.io login in {path}: the TAO images cannot be pulled",
        fix=LOGIN_FIX,
    )


# --------------------------------------------------------------------------- GPUs, disk, files


def gpus() -> Check:
    from specgen.engine import nvml

    found = nvml.facts()
    if not found.gpus:
        return Check(
            name="gpus",
            status="warn",
            detail=found.absent or "no GPU found",
            fix="on a GPU machine: install the NVIDIA driver (nvidia-smi must work); elsewhere use Slurm",
        )
    lines = [
        f"{g.index}: {g.name}, {_gib(g.memory_free)} free of {_gib(g.memory_total)}, compute "
        f"{'.'.join(map(str, g.compute_capability or ()))}" + ("" if g.bf16 else " (no bf16: use fp32/fp16)")
        for g in found.gpus
    ]
    head = f"driver {found.driver}, CUDA {found.cuda}: "
    return Check(name="gpus", status="ok", detail=head + "; ".join(lines))


def disk(output_dir: str, image_missing: bool) -> Check:
    path = Path(output_dir).expanduser()
    probe = next((p for p in [path, *path.parents] if p.exists()), Path("/"))
    free = shutil.disk_usage(probe).free
    need = RUN_SPACE + (IMAGE_GUESS if image_missing else 0)
    detail = f"{_gib(free)} free at {probe}" + (
        f"; a run needs ~{_gib(RUN_SPACE)}"
        if not image_missing
        else f"; the image (~{_gib(IMAGE_GUESS)}) and a run (~{_gib(RUN_SPACE)}) need ~{_gib(need)}"
    )
    if free < need:
        return Check(
            name="disk", status="warn", detail=detail, fix="free space there, or choose another output folder"
        )
    return Check(name="disk", status="ok", detail=detail)


def shm() -> Check:
    try:
        size = shutil.disk_usage("/dev/shm").total
    except OSError:
        return Check(
            name="shm",
            status="warn",
            detail="no /dev/shm: the local backend's data loaders may fail",
            fix="mount a tmpfs at /dev/shm, or set dataset.*.workers: 0",
        )
    if size < 2**30:
        return Check(
            name="shm",
            status="warn",
            detail=f"/dev/shm is {_gib(size)}: data loader workers may crash (Docker runs get their own 16G)",
            fix="sudo mount -o remount,size=16G /dev/shm (local backend)",
        )
    return Check(name="shm", status="ok", detail=f"/dev/shm {_gib(size)} (Docker runs get their own 16G)")


def tao_mounts(path: str | None = None) -> Check:
    """``~/.tao_mounts.json`` by the launcher's rules (facts §10): absent is fine; present must be right."""
    from specgen.engine.tao_mounts import TaoMountsError, read_tao_mounts

    try:
        found = read_tao_mounts(path, strict=True)
    except TaoMountsError as exc:
        return Check(name="tao_mounts", status="fail", detail=exc.detail, fix=exc.fix)
    if not found.present:
        return Check(
            name="tao_mounts",
            status="ok",
            detail=f"{found.path} absent (not needed: depthnet mounts what a run uses)",
        )
    return Check(name="tao_mounts", status="ok", detail=f"{found.path}: {len(found.mounts)} mount(s), valid")


def local_depth_net() -> Check:
    exe = shutil.which("depth_net")
    if exe:
        return Check(name="depth_net", status="ok", detail=f"{exe} (the local backend can run)")
    return Check(
        name="depth_net",
        status="ok",
        detail="not on PATH (only the local backend needs it: inside the TAO container or a TAO venv)",
    )


def slurm() -> Check:
    exe = shutil.which("sbatch")
    if exe:
        return Check(name="slurm", status="ok", detail=f"{exe} (the Slurm backend is offered)")
    return Check(name="slurm", status="ok", detail="no sbatch here (only the Slurm backend needs it)")


def run_checks(
    output_dir: str = ".",
    *,
    on_check: Callable[[Check], None] | None = None,
    engine: tuple[Any | None, Check] | None = None,
) -> Report:
    """Every check, reported in ``CHECK_NAMES``' order; ``on_check`` hears each as it is done (from the thread that
    ran it). ``engine``: what ``docker_client()`` already answered (the engine is asked once). The engine's chain
    and NVML run in their own threads, the quick file checks meanwhile in this one."""
    found: dict[str, Check] = {}
    lock = threading.Lock()
    failures: list[BaseException] = []

    def add(check: Check) -> None:
        with lock:
            found[check.name] = check
        if on_check is not None:
            on_check(check)

    def engine_chain() -> None:
        client, engine_check = engine or docker_client()
        add(engine_check)
        image_missing = True
        if client is not None:
            add(nvidia_runtime(client))
            images_found = images(client)
            image_missing = any(c.status != "ok" for c in images_found[:1])
            for c in images_found:
                add(c)
        add(disk(output_dir, image_missing))

    def guarded(fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except BaseException as exc:  # handed to the caller below, as if it had run in its thread
                failures.append(exc)

        return run

    threads = [
        threading.Thread(target=guarded(engine_chain), name="setup-engine", daemon=True),
        threading.Thread(target=guarded(lambda: add(gpus())), name="setup-nvml", daemon=True),
    ]
    for t in threads:
        t.start()
    for quick in (ngc_login, shm, tao_mounts, local_depth_net, slurm):
        add(quick())
    for t in threads:
        t.join()
    if failures:
        raise failures[0]
    return Report(checks=[found[name] for name in CHECK_NAMES if name in found])


__all__ = ["CHECK_NAMES", "Check", "Report", "run_checks"]
