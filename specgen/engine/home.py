"""A writable HOME and caches for a TAO container that runs as you (``--user uid:gid``, pyxis, apptainer).

The TAO image's ``/`` and ``/root`` are not yours, so a container started as your uid has no HOME it may write:
matplotlib (TAO's visualisation), torch inductor and triton (kernels compiled at run time) then fail or warn on
every start. NVIDIA's TAO SDK solves it the same way for its Docker platform
(``tao_sdk/platforms/docker/handler.py``, ``_add_non_root_environment_defaults``: HOME under a job folder it
creates 0700, ``XDG_CACHE_HOME=$HOME/.cache`` and ``MPLCONFIGDIR``, ``TORCHINDUCTOR_CACHE_DIR``,
``TRITON_CACHE_DIR`` under it, each set only when the job's environment has no value of its own). Here the folder
is ``<run folder>/home``: it belongs to the run, lies on the filesystem the run folder does (shared with Slurm's
nodes), and goes away with the run folder.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

#: The variables, relative to HOME (``""``: HOME itself). torch hub and Hugging Face follow XDG_CACHE_HOME.
HOME_DIRS: dict[str, str] = {
    "HOME": "",
    "XDG_CACHE_HOME": ".cache",
    "MPLCONFIGDIR": ".cache/matplotlib",
    "TORCHINDUCTOR_CACHE_DIR": ".cache/torchinductor",
    "TRITON_CACHE_DIR": ".cache/triton",
}


def home_dir(run_dir: Path) -> Path:
    return run_dir / "home"


def home_env(run_dir: Path, given: dict[str, str] | None = None) -> dict[str, str]:
    """The variables for a container whose run folder is ``run_dir``; a name the person set (``--env``,
    ``~/.tao_mounts.json``'s Envs) in ``given`` is left out, so theirs wins."""
    home = home_dir(run_dir)
    return {
        name: str(home / rel) if rel else str(home)
        for name, rel in HOME_DIRS.items()
        if name not in (given or {})
    }


def make_home(run_dir: Path, user: str | None = None) -> Path:
    """Create the folders (0700, the owner's only: caches can hold what a model saw). When this process is root and
    the container runs as someone else (``--user 1000:1000``), they are handed to that user, who must write them."""
    home = home_dir(run_dir)
    old = os.umask(0o077)
    try:
        for rel in HOME_DIRS.values():
            (home / rel).mkdir(parents=True, exist_ok=True)
    finally:
        os.umask(old)
    uid, gid = _ids(user)
    if uid is not None and os.geteuid() == 0 and uid != 0:
        for rel in sorted(set(HOME_DIRS.values())):
            with contextlib.suppress(OSError):
                os.chown(home / rel, uid, gid if gid is not None else -1)
    return home


def _ids(user: str | None) -> tuple[int | None, int | None]:
    """``uid[:gid]`` as numbers (a name is left to the image: None)."""
    if not user:
        return None, None
    uid, _, gid = user.partition(":")
    try:
        return int(uid), int(gid) if gid else None
    except ValueError:
        return None, None


__all__ = ["HOME_DIRS", "home_dir", "home_env", "make_home"]
