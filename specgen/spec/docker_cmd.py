"""The exact ``docker run`` line for a depth_net action: what the wizard shows and the script backend writes."""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable
from pathlib import PurePosixPath

TRAIN_IMAGE = "nvcr.io/nvidia/tao/tao-toolkit:6.26.3-pyt"
DEPLOY_IMAGE = "nvcr.io/nvidia/tao/tao-toolkit:6.26.3-deploy"
DEPLOY_ACTIONS = frozenset({"gen_trt_engine"})


def default_image(action: str, *, trt_engine: bool = False) -> str:
    """The launcher's mapping: gen_trt_engine, and evaluate/inference of a TensorRT engine, run in TAO Deploy."""
    return DEPLOY_IMAGE if action in DEPLOY_ACTIONS or trt_engine else TRAIN_IMAGE


def image_for_spec(action: str, spec: object) -> str:
    """The image for this spec: a TensorRT evaluate/inference (``trt_engine`` set, no checkpoint) needs Deploy."""
    section = getattr(spec, action, None)
    engine = bool(getattr(section, "trt_engine", None)) and not getattr(section, "checkpoint", None)
    return default_image(action, trt_engine=engine and action in ("evaluate", "inference"))


def _mount_roots(paths: Iterable[str]) -> list[str]:
    """Drop paths that lie inside another one, so each folder is mounted once."""
    roots: list[str] = []
    for p in sorted({os.path.normpath(x) for x in paths if x}):
        if not any(PurePosixPath(p).is_relative_to(r) for r in roots):
            roots.append(p)
    return roots


def mounts(spec_path: str, *, data_roots: Iterable[str], output_dir: str) -> list[tuple[str, bool]]:
    """(folder, read_only) pairs, each mounted at the same path inside: data read-only, output read-write, the
    spec's folder read-only unless a mount covers it. Shared by the printed line, the Docker SDK launch and Slurm.

    A parent covers its children once: a data root inside another, or inside the output folder, is not mounted
    again. The one exception is the output folder inside a data root: the data root is still mounted (read-only,
    so TAO sees every image) and the output folder on top of it, read-write — a nested mount. Parents come first
    (Docker sorts by depth itself; enroot and Apptainer mount in the order given)."""
    out = os.path.normpath(output_dir)
    spec_dir = os.path.dirname(os.path.abspath(spec_path))
    found = [(root, True) for root in _mount_roots(data_roots) if not PurePosixPath(root).is_relative_to(out)]
    found.append((out, False))
    if not any(PurePosixPath(spec_dir).is_relative_to(f) for f, _ in found):
        found.append((spec_dir, True))
    return sorted(found, key=lambda m: (len(PurePosixPath(m[0]).parts), m[0]))


def docker_argv(
    action: str,
    spec_path: str,
    *,
    data_roots: Iterable[str],
    output_dir: str,
    image: str | None = None,
    gpus: str = "0",
    uid: int | None = None,
    gid: int | None = None,
    shm_size: str = "16G",
    env: dict[str, str] | None = None,
) -> list[str]:
    """Argument list (never a shell string built from paths): read-only data, read-write output, same paths inside."""
    uid = os.getuid() if uid is None else uid
    gid = os.getgid() if gid is None else gid
    argv = ["docker", "run", "--rm"]
    if gpus != "none":
        argv += ["--gpus", "all" if gpus == "all" else f"device={gpus}"]
    argv += ["--shm-size", shm_size, "--ipc", "host", "--user", f"{uid}:{gid}"]
    for name, value in (env or {}).items():
        argv += ["-e", f"{name}={value}"]
    for folder, read_only in mounts(spec_path, data_roots=data_roots, output_dir=output_dir):
        argv += ["-v", f"{folder}:{folder}:ro" if read_only else f"{folder}:{folder}"]
    argv += [image or default_image(action), "depth_net", action, "-e", os.path.abspath(spec_path)]
    return argv


def docker_command(*args, **kwargs) -> str:
    """The same, quoted for a shell, ready to copy."""
    return shlex.join(docker_argv(*args, **kwargs))
