"""Checks before launch, each failure one message with the fix: paths the container cannot see, files that are not
there, relative paths in annotation files, outputs TAO would refuse to overwrite, folders holding another run.

What a container is given is decided here too (``container_extras``, then ``docker_cmd.mounts``): the folders the
user named or the annotation files imply, the output folder, the checkpoint's folder (and its real file's: a Hugging
Face cache file is a link into ``blobs/``), and the folder of every annotation file's link target that the mounts
would leave dangling. Visibility is decided by resolving each path the way the container will
(``container_path``: each link hop must land in a mount), not by comparing names. Every mount source, whatever its
origin (--data-root, the annotation files, results_dir, the spec's folder, a checkpoint, a link target,
``~/.tao_mounts.json``), passes ``system_folder`` — refused in one line naming it and where it came from.

A local run (``container=False``: ``depth_net`` on this machine, no mounts) is checked for what it needs there: the
files exist and are readable by you (``os.access``), the output folder writable."""

from __future__ import annotations

import os
import random
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath

from specgen.engine.runspec import RunSpec
from specgen.spec.paths import free_path
from specgen.spec.problems import Finding
from specgen.spec.schema import ExperimentSpec

#: Model files each action loads (must exist before launch).
CHECKPOINTS: dict[str, tuple[str, ...]] = {
    "train": ("train.pretrained_model_path", "model.mono_backbone.pretrained_path"),
    "evaluate": ("evaluate.checkpoint", "evaluate.trt_engine"),
    "inference": ("inference.checkpoint", "inference.trt_engine"),
    "export": ("export.checkpoint",),
    "quantize": ("quantize.model_path",),
    "gen_trt_engine": ("gen_trt_engine.onnx_file",),
}
EXAMPLES = 3


def refusal(message: str, *, confirmable: bool = False, key: str | None = None) -> Finding:
    """A preflight finding. Its message names the key or file itself (``key`` says which, at the call)."""
    return Finding(what=message, confirmable=confirmable)


def _get(spec: ExperimentSpec, dotted: str) -> str | None:
    obj: object = spec
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj if isinstance(obj, str) and obj else None


def spec_paths(run: RunSpec) -> dict[str, str]:
    """Every filesystem path the action will touch, by key."""
    spec, action = run.spec, run.action
    out = dict(run.data_files)
    for key in CHECKPOINTS.get(action, ()):
        if (value := _get(spec, key)) is not None:
            out[key] = value
    if action == "export" and spec.export.onnx_file:
        out["export.onnx_file"] = spec.export.onnx_file
    if action == "gen_trt_engine":
        for key in ("gen_trt_engine.trt_engine", "gen_trt_engine.timing_cache"):
            if (value := _get(spec, key)) is not None:
                out[key] = value
    if action == "quantize" and (d := _get(spec, "dataset.quant_calibration_dataset.images_dir")):
        out["dataset.quant_calibration_dataset.images_dir"] = d
    if spec.results_dir:
        out["results_dir"] = spec.results_dir
    return out


def annotation_rows(path: str) -> list[str]:
    """The files one annotation file names (image and depth columns), in order. Read once per version of the
    file: the default mounts and the checks both need them."""
    st = os.stat(path)
    return list(_annotation_rows(path, st.st_mtime_ns, st.st_size))


@lru_cache(maxsize=16)
def _annotation_rows(path: str, _mtime_ns: int, _size: int) -> tuple[str, ...]:
    from specgen.data.doctor.report import read_annotation

    return tuple(p for row in read_annotation(path) for p in row if p)


def default_data_roots(run: RunSpec) -> list[str]:
    """What to mount read-only when the user names nothing: the annotation folders and the folder holding the
    files they list (their common parent, or each file's folder when they share only ``/``)."""
    roots: set[str] = set()
    for path in run.data_files.values():
        roots.add(os.path.dirname(os.path.abspath(path)))
        try:
            files = [os.path.abspath(p) for p in annotation_rows(path)]
        except OSError:
            continue
        if not files:
            continue
        common = os.path.commonpath(files)
        if common in ("/", "") or common == os.path.dirname(common):
            roots.update(os.path.dirname(f) for f in files)
        else:
            roots.add(common if not os.path.isfile(common) else os.path.dirname(common))
    return sorted(roots)


#: Folders a run must never mount or write into (nor anything that resolves to them through ``..`` or links).
SYSTEM_DIRS = (
    "/",
    "/etc",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/boot",
    "/proc",
    "/sys",
    "/dev",
    "/var",
    "/root",
    "/run",
    "/home",
    "/opt",
    "/srv",
    "/tmp",
)
#: ... and under these, nothing at all (/run and /var/run hold the Docker socket).
SYSTEM_TREES = (
    "/etc",
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/boot",
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/var/run",
    "/var/lib/docker",
)
#: Folders that hold keys and tokens, in anyone's home: never mounted, whoever asks.
SECRET_DIRS = (".ssh", ".gnupg", ".aws", ".docker", ".kube", ".password-store", ".netrc")
#: Accounts of people (not services): root, and regular users from 1000 up to ``nobody``.
_PEOPLE_UIDS = range(1000, 65534)


def _homes() -> set[str]:
    import pwd

    homes = {os.path.realpath(os.path.expanduser("~"))}
    try:
        homes.update(os.path.realpath(e.pw_dir) for e in pwd.getpwall() if e.pw_dir not in ("", "/"))
    except OSError:
        pass
    return homes


def _other_homes() -> dict[str, str]:
    """Home folder → account, for the other people on this machine (root included, when we are not root)."""
    import pwd

    mine = os.path.realpath(os.path.expanduser("~"))
    out: dict[str, str] = {}
    try:
        entries = pwd.getpwall()
    except OSError:
        return out
    for e in entries:
        if e.pw_uid == os.geteuid() or not (e.pw_uid == 0 or e.pw_uid in _PEOPLE_UIDS):
            continue
        home = os.path.realpath(e.pw_dir) if e.pw_dir else ""
        if home not in ("", "/", mine) and os.path.isdir(home):
            out[home] = e.pw_name
    return out


def system_folder(path: str, *, writing: bool = True) -> str | None:
    """Why ``path`` may not be mounted or written (it is /, a system folder, a home folder itself, inside a
    system tree, a folder of keys such as ~/.ssh, or — ``writing`` it, a read-write mount — inside another user's
    home, after resolving ``..`` and symlinks), or None. Another user's data shared read-only (a dataset under
    /home/lab) stays mountable: the container reads no more than you can."""
    real = os.path.realpath(os.path.abspath(path))
    resolved = f" (it resolves to {real})" if real != os.path.normpath(path) else ""
    if real in SYSTEM_DIRS:
        return f"{path} is {'the root folder' if real == '/' else 'the system folder ' + real}"
    if real in _homes():
        return f"{path} is a home folder itself ({real})"
    for tree in SYSTEM_TREES:
        if PurePosixPath(real).is_relative_to(tree):
            return f"{path} lies in the system folder {tree}" + resolved
    secret = next((part for part in PurePosixPath(real).parts if part in SECRET_DIRS), None)
    if secret is not None:
        return f"{path} lies in a folder of keys and tokens ({secret}){resolved}"
    for home, user in _other_homes().items() if writing else ():
        if PurePosixPath(real).is_relative_to(home):
            return f"{path} lies in another user's home folder ({home}, {user}){resolved}"
    return None


def _line_of(data_file: str, target: str) -> int | None:
    try:
        with open(data_file, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, start=1):
                if target in line.split():
                    return n
    except OSError:
        return None
    return None


def inside(path: str, roots: list[str]) -> bool:
    p = PurePosixPath(os.path.normpath(os.path.abspath(path)))
    return any(p.is_relative_to(os.path.normpath(os.path.abspath(r))) for r in roots)


def _examples(items: list[str]) -> str:
    shown = ", ".join(items[:EXAMPLES])
    return shown + (f" (and {len(items) - EXAMPLES} more)" if len(items) > EXAMPLES else "")


# --------------------------------------------------------------------------------------------- what a container sees

#: Link hops followed before a path counts as a loop.
MAX_HOPS = 40
#: Files of an annotation list whose links are followed: all of them up to this many, else a seeded sample.
LINK_SAMPLE = 4000
#: Folders added for link targets before the preflight asks for a --data-root instead.
MAX_LINK_FOLDERS = 8


def container_path(path: str, mounts: Iterable[str], _hops: int = 0) -> str | None:
    """The host file a container reaches when it opens ``path``, given folders mounted at their own paths (what
    ``docker_cmd.mounts`` gives); None when it reaches nothing: outside every mount, a link hop that lands
    outside them (an absolute link into an unmounted folder, a relative one climbing out), dangling, or a loop.

    Resolved as the container's kernel will: the longest mount holding the path maps it to that mount's real
    folder, then component by component; a link restarts the walk from its target in the container's view."""
    p = os.path.normpath(os.path.abspath(path))
    roots = sorted({os.path.normpath(m) for m in mounts}, key=len, reverse=True)
    mount = next((m for m in roots if PurePosixPath(p).is_relative_to(m)), None)
    if mount is None or _hops > MAX_HOPS:
        return None
    host = os.path.realpath(mount)  # Docker resolves a mount source's own links
    here = mount
    parts = PurePosixPath(p).relative_to(mount).parts
    for i, part in enumerate(parts):
        candidate = os.path.join(host, part)
        try:
            st = os.lstat(candidate)
        except OSError:
            return None
        if stat.S_ISLNK(st.st_mode):
            try:
                target = os.readlink(candidate)
            except OSError:
                return None
            rest = os.path.join(
                target if os.path.isabs(target) else os.path.join(here, target), *parts[i + 1 :]
            )
            return container_path(os.path.normpath(rest), roots, _hops + 1)
        host, here = candidate, os.path.join(here, part)
    return host


@dataclass
class Extras:
    """What ``container_extras`` decided: folders to mount read-only (each with where it came from) and the
    refusals for what no mount can make visible."""

    roots: dict[str, str] = field(default_factory=dict)  # folder → origin
    findings: list[Finding] = field(default_factory=list)


def _sample(files: list[str], n: int) -> list[str]:
    return files if len(files) <= n else random.Random(0).sample(files, n)


def container_extras(run: RunSpec, *, data_roots: list[str], output_dir: str) -> Extras:
    """The read-only folders a container needs beyond the data roots and the output folder: each checkpoint's
    folder (TAO reads it wherever it lies), and the real folder of any checkpoint or listed file that is a link
    the mounts would leave dangling (a sample of big lists). A link no mount can repair (a relative link that
    climbs out of a linked folder, more link folders than ``MAX_LINK_FOLDERS``) is refused with the fix."""
    out = Extras()
    for key in CHECKPOINTS.get(run.action, ()):
        value = _get(run.spec, key)
        if value and os.path.isabs(value) and not inside(value, [output_dir]):
            out.roots.setdefault(os.path.dirname(os.path.normpath(value)), key)
    mounts = [*data_roots, output_dir, *out.roots]
    wanted: list[tuple[str, str]] = []  # (path, origin)
    for key in CHECKPOINTS.get(run.action, ()):
        value = _get(run.spec, key)
        if value and os.path.isabs(value) and os.path.exists(value):
            wanted.append((value, key))
    for data_file in run.data_files.values():
        try:
            files = [f for f in annotation_rows(data_file) if os.path.isabs(f)]
        except OSError:
            continue
        wanted += [
            (f, f"a link listed in {data_file}") for f in _sample(files, LINK_SAMPLE) if inside(f, mounts)
        ]
    dangling: list[tuple[str, str]] = []
    for path, origin in wanted:
        if os.path.exists(path) and container_path(path, mounts) is None:
            dangling.append((path, origin))  # it exists here: a link on its way leaves the mounts
    folders: dict[str, str] = {}
    for path, origin in dangling:
        folders.setdefault(os.path.dirname(os.path.realpath(path)), origin)
    if len(folders) > MAX_LINK_FOLDERS:
        first = dangling[0][0]
        out.findings.append(
            refusal(
                f"{len(dangling)} listed files are links into {len(folders)} folders outside the mounts (e.g. "
                f"{first} → {os.path.realpath(first)}): name their common folder with --data-root, or copy the "
                "files under the data root"
            )
        )
        return out
    for folder, origin in folders.items():
        out.roots.setdefault(folder, f"the target of {origin}")
    mounts += list(folders)
    still = [(p, o) for p, o in dangling if container_path(p, mounts) is None]
    if still:
        path, origin = still[0]
        out.findings.append(
            refusal(
                f"{path} ({origin}) is a link to {os.path.realpath(path)} that the container cannot follow even "
                f"with its folder mounted (a relative link climbing out of a linked folder?): replace it with the "
                "file itself or an absolute link"
                + (f" ({len(still) - 1} more like it)" if len(still) > 1 else "")
            )
        )
    return out


# --------------------------------------------------------------------------------------------- the checks

Progress = Callable[[str, int, float], None]


def _annotation_problems(
    key: str, data_file: str, mounts: list[str] | None, progress: Progress | None
) -> list[Finding]:
    """What is wrong with one annotation file: lists nothing, relative paths (container), lines whose files are
    missing or whose RGB does not open (``annotation_check``: TAO finds those ~95 s in), files no mount shows."""
    from specgen.data.annotation_check import check_annotation_files

    try:
        files = annotation_rows(data_file)
    except OSError as exc:
        return [refusal(f"{key}: {exc}", key=key)]
    if not files:
        return [
            refusal(
                f"{key} = {data_file} lists no files; run `depthnet convert` again and check its report",
                key=key,
            )
        ]
    relative = [f for f in files if not os.path.isabs(f)]
    if (
        relative
    ):  # in a container they resolve against its folder; here, against whatever folder TAO starts in
        return [
            refusal(
                f"{data_file} lists relative paths ({_examples(relative)}): inside the container they "
                "resolve against its working folder, not yours; write the annotation files again "
                "with an absolute data root",
                key=key,
            )
        ]
    out: list[Finding] = []
    report = check_annotation_files({key: data_file}, progress=progress)[key]
    if not report.ok:
        out.append(refusal(f"{report.summary()}; fix those lines or run `depthnet convert` again", key=key))
    if mounts is None:
        return out
    outside = [f for f in files if not inside(f, mounts)]
    if outside:
        line = _line_of(data_file, outside[0])
        where = f"{data_file}" + (f", line {line}," if line else "")
        out.append(
            refusal(
                f"{where} lists files outside the data roots ({_examples(outside)}): the "
                "container cannot see them and nothing else is mounted for them; move the files "
                "under the data root or name their folder with --data-root",
                key=key,
            )
        )
    return out


def mount_refusals(sources: Iterable[tuple[str, bool, str]]) -> list[Finding]:
    """The system-folder rule on every mount source: (folder, read_only, where it came from) → one refusal each
    that names the source and its origin."""
    found: list[Finding] = []
    for folder, read_only, origin in sources:
        why = system_folder(folder, writing=not read_only)
        if why:
            role = "mounted read-only" if read_only else "mounted read-write"
            found.append(
                refusal(
                    f"{why}: refusing it as a mount ({role}, from {origin}); choose a folder of your project, "
                    "e.g. ~/depthnet/results, or move the files into one",
                    key="results_dir",
                )
            )
    return found


def problems(
    run: RunSpec,
    *,
    data_roots: list[str],
    output_dir: str,
    force: bool = False,
    container: bool = True,
    origins: dict[str, str] | None = None,
    extra_mounts: Iterable[tuple[str, bool, str]] = (),
    progress: Progress | None = None,
) -> list[Finding]:
    """Everything that would make the run fail or damage something, worst first.

    ``container``: the run sees only its mounts (Docker, a script, Slurm) — ``data_roots`` (``origins`` says where
    each came from), ``output_dir`` and the spec's folder are mounted, ``extra_mounts`` are more (folder,
    read_only, origin), e.g. ``~/.tao_mounts.json``'s; False: it runs here and reads what you can read."""
    spec, action = run.spec, run.action
    origins = origins or {}
    mounts = [*data_roots, output_dir]
    sources = [(output_dir, False, "the output folder (results_dir / --output-dir)")]
    if container:
        sources += [(r, True, origins.get(r, "--data-root")) for r in data_roots]
        sources.append((os.path.dirname(run.path), True, f"the spec's folder ({run.path})"))
        sources += list(extra_mounts)
    found = mount_refusals(sources)
    if found:
        return found
    paths = spec_paths(run)
    for key, path in paths.items():
        if not os.path.isabs(path):
            found.append(
                refusal(
                    f"{key} = {path} is relative: inside the container it resolves against "
                    "another folder; use an absolute path",
                    key=key,
                )
            )
        elif container and not inside(path, mounts):
            found.append(
                refusal(
                    f"{key} = {path} lies outside every mount ({', '.join(mounts)}): the "
                    "container cannot see it; put it under the data root or the output folder, "
                    "or add its folder with --data-root",
                    key=key,
                )
            )
    for key, path in run.data_files.items():
        if not Path(path).is_file():
            found.append(
                refusal(
                    f"{key} = {path} does not exist; write the annotation files first (depthnet convert)",
                    key=key,
                )
            )
        elif not container and not os.access(path, os.R_OK):
            found.append(refusal(f"{key} = {path} is not readable by you; fix its permissions", key=key))
        else:
            found.extend(_annotation_problems(key, path, mounts if container else None, progress))
    for key in CHECKPOINTS.get(action, ()):
        value = _get(spec, key)
        if value and os.path.isabs(value) and not Path(value).exists():
            found.append(
                refusal(
                    f"{key} = {value} does not exist; point it at the file "
                    "(a train run's .pth is under <results_dir>/train/)",
                    key=key,
                )
            )
        elif value and os.path.isabs(value) and not os.access(value, os.R_OK):
            found.append(refusal(f"{key} = {value} is not readable by you; fix its permissions", key=key))
    results = run.results_dir
    if not inside(results, [output_dir]):
        found.append(
            refusal(
                f"{action} writes to {results}, outside the output folder {output_dir} (mounted "
                "read-write); set results_dir inside it",
                key="results_dir",
            )
        )
        return found
    try:
        Path(output_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        found.append(
            refusal(
                f"cannot create the output folder {output_dir} ({exc.strerror}); choose another",
                key="results_dir",
            )
        )
        return found
    if not os.access(output_dir, os.W_OK):
        found.append(
            refusal(
                f"{output_dir} is not writable by you (uid {os.getuid()}); the container runs as "
                "you so outputs stay yours, not nobody:nogroup — fix the folder's permissions",
                key="results_dir",
            )
        )
    if action == "export" and spec.export.onnx_file and Path(spec.export.onnx_file).exists():
        found.append(
            refusal(
                f"export.onnx_file {spec.export.onnx_file} already exists and TAO refuses to "
                "overwrite it ('Default onnx file … already exists'); set export.onnx_file: "
                f"{free_path(spec.export.onnx_file)} (free) or remove the old file",
                key="export.onnx_file",
            )
        )
    engine = spec.gen_trt_engine.trt_engine if action == "gen_trt_engine" else None
    if not force and engine and Path(engine).exists():
        found.append(
            refusal(
                f"gen_trt_engine.trt_engine {engine} already exists and the build replaces it; "
                "confirm with --force or choose a new name",
                confirmable=True,
                key="gen_trt_engine.trt_engine",
            )
        )
    if not force and (Path(results) / "status.json").exists():
        found.append(
            refusal(
                f"{results} already holds another {action} run (status.json is appended across "
                "runs, checkpoints may be resumed); confirm with --force or choose a new "
                "results_dir",
                confirmable=True,
                key="results_dir",
            )
        )
    return found
