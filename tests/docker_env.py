"""A real Docker engine for tests: the client at DOCKER_HOST and a tiny image whose ``depth_net`` is the emulator.

The image is a busybox root filesystem imported with the engine's import API (what ``docker import`` does), so
tests need no registry and no network. Its tag carries the emulator's hash, so an edited emulator is rebuilt.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
from pathlib import Path

EMULATOR = Path(__file__).parent / "emulator" / "depth_net"
PLANS = EMULATOR.parent / "plans"
FIXTURES = Path(__file__).parent / "fixtures" / "tao-7.3.0"
#: What the replay reads of each capture.
REPLAYED = ("console.log", "status.json", "events.out.tfevents.")
APPLETS = (
    "sh",
    "echo",
    "cat",
    "sleep",
    "printf",
    "ls",
    "mkdir",
    "date",
    "sed",
    "head",
    "dirname",
    "kill",
    "ln",
    "grep",
    "true",
    "false",
    "rm",
    "env",
    "cp",
    "tail",
    "awk",
    "readlink",
    "basename",
)


def _payload() -> list[tuple[Path, str]]:
    """(file, path in the image): the emulator, its plans and the captured files it replays."""
    files = [(EMULATOR, "emu/emulator/depth_net")]
    files += [(p, f"emu/emulator/plans/{p.name}") for p in sorted(PLANS.glob("*.plan"))]
    files += [
        (p, f"emu/fixtures/tao-7.3.0/{p.relative_to(FIXTURES).as_posix()}")
        for p in sorted(FIXTURES.rglob("*"))
        if p.is_file() and any(p.name.startswith(r) for r in REPLAYED)
    ]
    return files


def emulator_tag() -> str:
    digest = hashlib.sha256()
    for path, arcname in _payload():
        digest.update(arcname.encode() + path.read_bytes())
    return "depthnet-emu:" + digest.hexdigest()[:12]


def busybox_path() -> str | None:
    """A statically linked busybox (the busybox-static package); a dynamic one would not run in an empty root."""
    for candidate in (shutil.which("busybox"), "/bin/busybox", "/usr/bin/busybox"):
        if candidate and Path(candidate).is_file() and b"ld-linux" not in Path(candidate).read_bytes()[:4096]:
            return candidate
    return None


def rootfs_tar(busybox: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "usr", "usr/local", "usr/local/bin", "tmp", "etc", "emu"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        tar.add(busybox, arcname="bin/busybox")
        for name in APPLETS:
            link = tarfile.TarInfo(f"bin/{name}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        for path, arcname in _payload():
            tar.add(str(path), arcname=arcname)
        link = tarfile.TarInfo("usr/local/bin/depth_net")
        link.type, link.linkname = tarfile.SYMTYPE, "/emu/emulator/depth_net"
        tar.addfile(link)
        passwd = b"root:x:0:0:root:/:/bin/sh\n"
        info = tarfile.TarInfo("etc/passwd")
        info.size = len(passwd)
        tar.addfile(info, io.BytesIO(passwd))
    return buf.getvalue()


def ensure_emulator_image(client) -> str:
    """Import the emulator image once per emulator version; returns its tag."""
    import docker

    tag = emulator_tag()
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    busybox = busybox_path()
    if busybox is None:
        raise RuntimeError(
            "a static busybox is needed to build the test image: apt-get install busybox-static"
        )
    repo, version = tag.split(":")
    client.api.import_image_from_data(
        rootfs_tar(busybox), repository=repo, tag=version, changes=["ENV PATH=/usr/local/bin:/bin"]
    )
    return tag
