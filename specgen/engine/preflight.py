"""Checks before launch, each failure one message with the fix: paths the container cannot see, files that are not
there, relative paths in annotation files, outputs TAO would refuse to overwrite, folders holding another run."""

from __future__ import annotations

import os
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
#: ... and under these, nothing at all.
SYSTEM_TREES = ("/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/boot", "/proc", "/sys", "/dev")


def _homes() -> set[str]:
    import pwd

    homes = {os.path.realpath(os.path.expanduser("~"))}
    try:
        homes.update(os.path.realpath(e.pw_dir) for e in pwd.getpwall() if e.pw_dir not in ("", "/"))
    except OSError:
        pass
    return homes


def system_folder(path: str) -> str | None:
    """Why ``path`` may not be mounted or written (it is /, a system folder, a home folder itself, or inside a
    system tree, after resolving ``..`` and symlinks), or None."""
    real = os.path.realpath(os.path.abspath(path))
    if real in SYSTEM_DIRS:
        return f"{path} is {'the root folder' if real == '/' else 'the system folder ' + real}"
    if real in _homes():
        return f"{path} is a home folder itself ({real})"
    for tree in SYSTEM_TREES:
        if PurePosixPath(real).is_relative_to(tree):
            return f"{path} lies in the system folder {tree}" + (
                f" (it resolves to {real})" if real != path else ""
            )
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


def _annotation_problems(key: str, data_file: str, mounts: list[str]) -> list[Finding]:
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
    if relative:
        return [
            refusal(
                f"{data_file} lists relative paths ({_examples(relative)}): inside the container they "
                "resolve against its working folder, not yours; write the annotation files again "
                "with an absolute data root",
                key=key,
            )
        ]
    out: list[Finding] = []
    missing = [f for f in files if not os.path.exists(f)]
    if missing:
        out.append(
            refusal(
                f"{data_file}: {len(missing)} of {len(files)} listed files do not exist "
                f"({_examples(missing)}); run `depthnet convert` again",
                key=key,
            )
        )
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


def problems(run: RunSpec, *, data_roots: list[str], output_dir: str, force: bool = False) -> list[Finding]:
    """Everything that would make the run fail or damage something, worst first."""
    spec, action = run.spec, run.action
    mounts = [*data_roots, output_dir]
    found: list[Finding] = []
    for folder, role in [
        (output_dir, "the output folder (mounted read-write)"),
        *((r, "a data root (mounted read-only)") for r in data_roots),
    ]:
        why = system_folder(folder)
        if why:
            found.append(
                refusal(
                    f"{why}: refusing it as {role}; choose a folder of your project, e.g. ~/depthnet/results",
                    key="results_dir",
                )
            )
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
        elif not inside(path, mounts):
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
        else:
            found.extend(_annotation_problems(key, path, mounts))
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
