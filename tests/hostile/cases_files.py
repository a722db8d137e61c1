"""Hostile inputs against what the product writes, mounts, calls finished and keeps in its registry — issue 25's
classes 1 (files written through links), 5 (mount sets that hide or expose), 8 (process truth) and 9 (registry files
edited or damaged), with issue 22's item 6 (a local run reads this machine's files) — as data.

Each ``Case`` is an input builder and the outcome it must get: ``build(ctx)`` makes the files (a project, a planted
link, a crafted run record…) under the case's own folder and returns the ``Invocation`` to try — the real
``depthnet`` (or a few lines of Python for an API without a command), what it must say, and a check of what was
left (a file emptied through a link is "data lost"; a PASS that should be a FAIL is "silent wrong").
``run_case(case, folder)`` tries it and names the outcome the way the issue's table counts them: ``clear`` (one
clear line, the exit code wanted), ``handled`` (the right thing done, exit 0), ``traceback``, ``hang``, ``silent
wrong``, ``data lost``; ``unclear`` is an answer of the wrong shape.

The tests in this folder (``test_files.py``, ``test_mounts.py``, ``test_process.py``, ``test_registry.py``) run
every case; a figure script imports ``CASES`` and counts them. Nothing here needs ``../shared``; a case that needs
a Docker engine (``needs={"docker"}``) or another user's home on this machine says so, and ``available(case)``
tells whether it can be tried here.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from fastcli import DEPTHNET

TESTS = Path(__file__).resolve().parents[1]
EMULATOR = TESTS / "emulator" / "depth_net"
CHECKPOINTS = TESTS / "fixtures" / "checkpoints"
#: Seconds an answer may take before it counts as a hang.
LIMIT = 30.0

Outcome = Literal["clear", "handled"]
Found = Literal["clear", "handled", "traceback", "hang", "silent wrong", "data lost", "unclear"]


# --------------------------------------------------------------------------------------------- the machinery


@dataclass(frozen=True)
class Invocation:
    """What to try: ``depthnet ARGV`` (or ``python -c CODE``), the exit codes and words that make the answer
    right, and ``after()``: None when what was left is right, else "data lost: …" / "silent wrong: …"."""

    argv: list[str] = field(default_factory=list)
    code: str | None = None  # python -c CODE instead of depthnet
    expect: tuple[int, ...] = (1, 2)
    says: tuple[str, ...] = ()
    after: Callable[[], str | None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    timeout: float = LIMIT


@dataclass(frozen=True)
class Case:
    name: str
    klass: int  # issue 25's class (1, 5, 8, 9)
    expect: Outcome
    build: Callable[[Ctx], Invocation]
    needs: frozenset[str] = frozenset()  # "docker": a private engine at DOCKER_HOST; "other_home"
    what: str = ""


@dataclass
class Result:
    outcome: Found
    seconds: float
    output: str
    returncode: int | None


@dataclass
class Project:
    data: Path
    ann: Path
    spec: Path
    results: Path
    out: Path


class Ctx:
    """One case's folder and environment: its own XDG folders (run registry, crash reports), ``bin/`` first on PATH
    (the TAO stand-in, or a case's own ``depth_net``)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.bin = tmp / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "XDG_DATA_HOME": str(tmp / "xdg-data"),
            "XDG_CONFIG_HOME": str(tmp / "xdg-config"),
            "XDG_STATE_HOME": str(tmp / "xdg-state"),
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "EMU_SPEED": os.environ.get("EMU_SPEED", "0.001"),
        }
        self.cleanups: list[Callable[[], None]] = []

    @property
    def runs(self) -> Path:
        return Path(self.env["XDG_DATA_HOME"]) / "depthnet-tui" / "runs"

    def cli(
        self, *args: str, timeout: float = 60, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*DEPTHNET, *args],
            capture_output=True,
            text=True,
            cwd=self.tmp,
            timeout=timeout,
            env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
        )

    def stand_in(self, script: str | None = None) -> Path:
        """``depth_net`` on PATH: the replaying emulator, or a shell script of the case's own."""
        path = self.bin / "depth_net"
        if path.exists() or path.is_symlink():
            path.unlink()
        if script is None:
            path.symlink_to(EMULATOR)
        else:
            path.write_text(script)
            path.chmod(0o755)
        return path

    def project(
        self, *, results: Path | None = None, checkpoint: Path | None = None, per_scene: int = 1
    ) -> Project:
        """Sample RGB-D data, its annotation files and a train spec (the sanity recipe), made in-process."""
        from depthgen import sample_dataset

        from specgen.data.convert import ConvertOptions, build_index, plan, write_annotations
        from specgen.job.builders import BuildRequest, build_spec
        from specgen.spec.render import write_spec

        data = sample_dataset(self.tmp / "data", per_scene=per_scene)
        out = self.tmp / "out"
        ann = out / "ann"
        # "/rgb_": TAO matches over the whole path, and a case's folder name may hold "rgb" (rgb_that_is_not_…)
        opts = ConvertOptions(image_patterns=["/rgb_"], depth_patterns=["/sync_depth_"], split_ratio=0.8)
        write_annotations(plan(build_index(str(data)), opts), ann)
        results = results or out / "results"
        spec, _ = build_spec(
            BuildRequest(
                action="train",
                dataset_name="NYUDV2",
                data_file=str(ann / "train.txt"),
                results_dir=str(results),
                recipe="sanity",
                checkpoint=str(checkpoint) if checkpoint else None,
            )
        )
        path = write_spec(out / "train.yaml", spec, overwrite=True)
        return Project(data=data, ann=ann, spec=Path(path), results=results, out=out)

    def victim(
        self, name: str = "precious.txt", text: str = "the user's own words\n"
    ) -> tuple[Path, Callable[[], str | None]]:
        """A file of the user's that nothing may touch, and the check that it is as it was."""
        path = self.tmp / name
        path.write_text(text)

        def intact() -> str | None:
            try:
                now = path.read_text()
            except OSError as exc:
                return f"data lost: {path} {exc.strerror}"
            return None if now == text else f"data lost: {path} now holds {now[:60]!r}"

        return path, intact

    def record(self, run_id: str = "20260101-000000-train-beef", **fields: object) -> Path:
        """A run folder with a crafted run.json (a local run that has ended), as someone might have edited it."""
        folder = self.runs / run_id
        folder.mkdir(parents=True, exist_ok=True)
        record = {
            "run_id": run_id,
            "backend": "local",
            "action": "train",
            "spec_path": str(self.tmp / "x.yaml"),
            "results_dir": str(self.tmp / "r"),
            "started": "2026-01-01T00:00:00+00:00",
            **fields,
        }
        (folder / "run.json").write_text(json.dumps(record))
        return folder


def available(case: Case) -> str | None:
    """Why ``case`` cannot be tried here (None: it can)."""
    if "docker" in case.needs:
        try:
            import docker

            docker.from_env(timeout=10).ping()
        except Exception as exc:  # noqa: BLE001 - the SDK raises several types for "no engine"
            return f"no Docker engine ({exc.__class__.__name__})"
    if "other_home" in case.needs and other_home() is None:
        return "no other user with a home folder on this machine"
    return None


def other_home() -> Path | None:
    """The home folder of another person on this machine (uid ≥ 1000 or root), if one exists."""
    for e in pwd.getpwall():
        if (
            e.pw_uid != os.geteuid()
            and (e.pw_uid == 0 or 1000 <= e.pw_uid < 65534)
            and Path(e.pw_dir).is_dir()
        ):
            if e.pw_dir not in ("/", os.path.expanduser("~")):
                return Path(e.pw_dir)
    return None


def run_case(case: Case, tmp: Path, *, emu_image: str | None = None) -> Result:
    """Build and try one case in ``tmp``; the outcome as the issue's table counts it."""
    ctx = Ctx(tmp)
    if emu_image:
        ctx.env["DEPTHNET_TEST_EMU_IMAGE"] = emu_image
    try:
        inv = case.build(ctx)
        argv = [sys.executable, "-c", inv.code] if inv.code is not None else [*DEPTHNET, *inv.argv]
        t0 = time.monotonic()
        try:
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                cwd=tmp,
                timeout=inv.timeout,
                env={**ctx.env, **inv.env},
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            out = (
                (exc.stdout or b"").decode(errors="replace")
                if isinstance(exc.stdout, bytes)
                else (exc.stdout or "")
            )
            return Result("hang", time.monotonic() - t0, out, None)
        took = time.monotonic() - t0
        out = done.stdout + done.stderr
        if "Traceback" in out:
            return Result("traceback", took, out, done.returncode)
        left = inv.after() if inv.after is not None else None
        if left is not None:
            return Result(
                "data lost" if left.startswith("data lost") else "silent wrong",
                took,
                out + "\n" + left,
                done.returncode,
            )
        ok = done.returncode in inv.expect and all(w in out for w in inv.says)
        if not ok:
            wrong = done.returncode == 0 and case.expect == "clear"
            return Result("silent wrong" if wrong else "unclear", took, out, done.returncode)
        return Result(case.expect, took, out, done.returncode)
    finally:
        for clean in reversed(ctx.cleanups):
            try:
                clean()
            except Exception:  # noqa: BLE001 - tidying up after a case must not hide its outcome
                pass


def record_outcome(name: str, result: Result) -> None:
    """Append the outcome to HOSTILE_RECORD (tests/hostile/figures.py reads it), as ``hostile_cli`` does."""
    path = os.environ.get("HOSTILE_RECORD")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(
                json.dumps({"case": name, "outcome": result.outcome, "seconds": round(result.seconds, 3)})
                + "\n"
            )


def of_class(klass: int) -> list[Case]:
    return [c for c in CASES if c.klass == klass]


# --------------------------------------------------------------------------------------------- helpers of the cases


def _run_args(p: Project, *extra: str, backend: str = "local") -> list[str]:
    return ["run", "train", "-e", str(p.spec), "--backend", backend, *extra]


def _no_process_left(ctx: Ctx, run_id_of: Callable[[], str | None]) -> Callable[[], str | None]:
    """After a run: nothing of its process group still lives."""

    def check() -> str | None:
        from specgen.engine.backends import group_members

        run_id = run_id_of()
        if run_id is None:
            return "silent wrong: no run was recorded"
        pid = json.loads((ctx.runs / run_id / "run.json").read_text()).get("pid")
        left = group_members(pid) if pid else []
        if left:
            for p in left:
                try:
                    os.kill(p, 9)
                except ProcessLookupError:
                    pass
            return f"silent wrong: processes {left} of run {run_id} still run after it was called finished"
        return None

    return check


def _only_run(ctx: Ctx) -> str | None:
    found = sorted(p.name for p in ctx.runs.iterdir()) if ctx.runs.is_dir() else []
    return found[-1] if found else None


def _stop_all(ctx: Ctx) -> None:
    """Leave no run of the case behind."""
    for folder in ctx.runs.iterdir() if ctx.runs.is_dir() else []:
        ctx.cli("stop", folder.name, "--timeout", "2", timeout=60)


def _all_of(*checks: Callable[[], str | None]) -> Callable[[], str | None]:
    def check() -> str | None:
        for c in checks:
            if (why := c()) is not None:
                return why
        return None

    return check


def _script_text(ctx: Ctx) -> str:
    run_id = _only_run(ctx)
    return (ctx.runs / run_id / "run.sh").read_text() if run_id else ""


def _mounted(ctx: Ctx, folder: Path, ro: bool) -> Callable[[], str | None]:
    """run.sh (the script backend's exact docker line) mounts ``folder`` as wanted."""

    def check() -> str | None:
        want = f"{folder}:{folder}:ro" if ro else f"{folder}:{folder}"
        words = _script_text(ctx).split()
        if want not in words:
            return f"silent wrong: run.sh does not mount {want} ({' '.join(w for w in words if ':' in w)})"
        return None

    return check


# --------------------------------------------------------------------------------------------- class 1: links


def _lock_link(ctx: Ctx) -> Invocation:
    ctx.stand_in()
    p = ctx.project()
    victim, intact = ctx.victim()
    p.results.joinpath("train").mkdir(parents=True)
    (p.results / "train" / ".depthnet.lock").symlink_to(victim)
    return Invocation(_run_args(p), says=(".depthnet.lock", "symbolic link"), after=intact)


def _lock_hardlink(ctx: Ctx) -> Invocation:
    ctx.stand_in()
    p = ctx.project()
    victim, intact = ctx.victim()
    p.results.joinpath("train").mkdir(parents=True)
    os.link(victim, p.results / "train" / ".depthnet.lock")
    return Invocation(_run_args(p), says=(".depthnet.lock", "2 names"), after=intact)


def _lock_fifo(ctx: Ctx) -> Invocation:
    ctx.stand_in()
    p = ctx.project()
    p.results.joinpath("train").mkdir(parents=True)
    os.mkfifo(p.results / "train" / ".depthnet.lock")
    return Invocation(_run_args(p), says=(".depthnet.lock", "FIFO"))


def _lock_dangling(ctx: Ctx) -> Invocation:
    ctx.stand_in()
    p = ctx.project()
    p.results.joinpath("train").mkdir(parents=True)
    planted = ctx.tmp / "planted-by-link"
    (p.results / "train" / ".depthnet.lock").symlink_to(planted)

    def nothing_made() -> str | None:
        return f"silent wrong: {planted} was created through the link" if os.path.lexists(planted) else None

    return Invocation(_run_args(p), says=(".depthnet.lock", "symbolic link"), after=nothing_made)


def _convert_args(ctx: Ctx, out: Path, *extra: str) -> list[str]:
    from depthgen import sample_dataset

    data = sample_dataset(ctx.tmp / "data", per_scene=1)
    return [
        "convert",
        "--data-root",
        str(data),
        "--image-pattern",
        "/rgb_",
        "--depth-pattern",
        "/sync_depth_",
        "--out",
        str(out),
        *extra,
    ]


def _convert_out_link(ctx: Ctx) -> Invocation:
    elsewhere = ctx.tmp / "elsewhere"
    elsewhere.mkdir()
    victim, intact = ctx.victim("elsewhere/train.txt")
    (ctx.tmp / "ann").symlink_to(elsewhere)

    def untouched() -> str | None:
        extra = sorted(p.name for p in elsewhere.iterdir() if p.name != "train.txt")
        return intact() or (f"silent wrong: written through the link: {extra}" if extra else None)

    return Invocation(
        _convert_args(ctx, ctx.tmp / "ann", "--force"), says=("symbolic link",), after=untouched
    )


def _convert_out_dangling(ctx: Ctx) -> Invocation:
    (ctx.tmp / "ann").symlink_to(ctx.tmp / "nowhere")

    def nothing_made() -> str | None:
        return "silent wrong: the link's target was created" if os.path.lexists(ctx.tmp / "nowhere") else None

    return Invocation(_convert_args(ctx, ctx.tmp / "ann"), says=("symbolic link",), after=nothing_made)


def _convert_out_file(ctx: Ctx) -> Invocation:
    victim, intact = ctx.victim("ann")
    return Invocation(_convert_args(ctx, victim, "--force"), says=("not a folder",), after=intact)


def _convert_split_file_link(ctx: Ctx) -> Invocation:
    """An old train.txt that is a link to a user's file: --force replaces the name, never the file."""
    out = ctx.tmp / "ann"
    out.mkdir()
    victim, intact = ctx.victim()
    (out / "train.txt").symlink_to(victim)

    def replaced() -> str | None:
        if (out / "train.txt").is_symlink():
            return "silent wrong: train.txt is still the link"
        return intact()

    return Invocation(_convert_args(ctx, out, "--force"), expect=(0,), after=replaced)


def _spec_out(ctx: Ctx, target: Path) -> list[str]:
    return [
        "spec",
        "export",
        "--results-dir",
        str(ctx.tmp / "r"),
        "--checkpoint",
        str(ctx.tmp / "m.pth"),
        "-o",
        str(target),
        "--force",
    ]


def _spec_out_link(ctx: Ctx) -> Invocation:
    victim, intact = ctx.victim()
    (ctx.tmp / "export.yaml").symlink_to(victim)

    def kept() -> str | None:
        return intact() or (
            None if (ctx.tmp / "export.yaml").is_symlink() else "silent wrong: the user's link was replaced"
        )

    return Invocation(_spec_out(ctx, ctx.tmp / "export.yaml"), says=("symbolic link",), after=kept)


def _spec_out_fifo(ctx: Ctx) -> Invocation:
    os.mkfifo(ctx.tmp / "export.yaml")

    def kept() -> str | None:
        return (
            None
            if stat.S_ISFIFO(os.lstat(ctx.tmp / "export.yaml").st_mode)
            else "silent wrong: the FIFO was replaced"
        )

    return Invocation(_spec_out(ctx, ctx.tmp / "export.yaml"), says=("FIFO",), after=kept)


def _finished_local_run(ctx: Ctx) -> tuple[Project, str]:
    ctx.stand_in()
    p = ctx.project()
    done = ctx.cli(*_run_args(p))
    run_id = _only_run(ctx)
    assert done.returncode == 0 and run_id, done.stderr
    return p, run_id


def _run_json_link(ctx: Ctx) -> Invocation:
    """run.json replaced by a link to a copy the user keeps: attach reads it, but saves its verdict never through
    the link."""
    _, run_id = _finished_local_run(ctx)
    record = ctx.runs / run_id / "run.json"
    kept = ctx.tmp / "my-copy.json"
    shutil.copy(record, kept)
    text = kept.read_text()
    record.unlink()
    record.symlink_to(kept)

    def intact() -> str | None:
        return None if kept.read_text() == text else f"data lost: {kept} was rewritten through the link"

    return Invocation(
        ["attach", run_id], expect=(0,), says=("verdict not saved", "symbolic link"), after=intact
    )


def _session_link(ctx: Ctx) -> Invocation:
    victim, intact = ctx.victim()
    session = ctx.tmp / "proj" / ".depthnet" / "session.json"
    session.parent.mkdir(parents=True)
    session.symlink_to(victim)
    code = (
        "from tui.state import WizardState\n"
        f"try:\n    WizardState(output_dir={str(ctx.tmp / 'proj')!r}).save()\n"
        "except OSError as exc:\n    print(exc); raise SystemExit(2)\n"
    )
    return Invocation(code=code, says=("session.json", "symbolic link"), after=intact)


def _crash_report_link(ctx: Ctx) -> Invocation:
    """A link planted where the next crash report goes (its name: the second and the pid): the report is not
    written through it."""
    victim, intact = ctx.victim()
    code = (
        "import os, time\nfrom pathlib import Path\nfrom specgen.engine.crash import save_report\n"
        "from specgen.spec.locations import crash_dir\n"
        "crash_dir().mkdir(parents=True, exist_ok=True)\n"
        "now = time.time()\n"
        "for s in range(4):\n"
        "    name = time.strftime('%Y%m%d-%H%M%S', time.localtime(now + s)) + f'-{os.getpid()}.txt'\n"
        f"    (crash_dir() / name).symlink_to({str(victim)!r})\n"
        "print('report:', save_report(RuntimeError('boom'), 'test'))\n"
    )
    return Invocation(code=code, expect=(0,), says=("report: None",), after=intact)


# --------------------------------------------------------------------------------------------- class 5: mounts


def _results_inside_data(ctx: Ctx) -> Invocation:
    """results_dir inside the data root: the data root is still mounted (read-only), the results on top of it."""
    data = ctx.tmp / "data"
    p = ctx.project(results=data / "results")
    return Invocation(
        _run_args(p, backend="script"),  # the data roots the annotation files imply: data/ and ann/
        expect=(0,),
        after=_all_of(_mounted(ctx, data, True), _mounted(ctx, data / "results", False)),
    )


def _depth_link_outside(ctx: Ctx) -> Invocation:
    """A depth file that is a link to a folder outside the data root: that folder is mounted too (read-only)."""
    p = ctx.project()
    elsewhere = ctx.tmp / "elsewhere"
    elsewhere.mkdir()
    first = (p.ann / "train.txt").read_text().split()[1]
    shutil.move(first, elsewhere / "d.png")
    os.symlink(elsewhere / "d.png", first)
    return Invocation(
        _run_args(p, backend="script"),
        expect=(0,),
        after=_mounted(ctx, elsewhere, True),
    )


def _depth_link_climbing(ctx: Ctx) -> Invocation:
    """A relative link that climbs out of a linked data root: no mount can make it resolve in the container."""
    p = ctx.project()
    real = (
        ctx.tmp / "deep" / "er" / "real-data"
    )  # deeper than the link: '..' climbs elsewhere in the container
    real.parent.mkdir(parents=True)
    shutil.move(str(p.data), real)
    os.symlink(real, p.data)  # the data root, as named, is a link
    other = ctx.tmp / "other"
    other.mkdir()
    first = (p.ann / "train.txt").read_text().split()[1]  # a path through the linked root
    real_first = Path(os.path.realpath(first))
    shutil.move(real_first, other / "d.png")
    os.symlink(os.path.relpath(other / "d.png", real_first.parent), real_first)
    return Invocation(_run_args(p, "--data-root", str(p.data), backend="script"), says=("cannot follow",))


def _tao_mounts(source: str) -> Callable[[Ctx], Invocation]:
    def build(ctx: Ctx) -> Invocation:
        p = ctx.project()
        home = ctx.tmp / "home"
        home.mkdir()
        (home / ".tao_mounts.json").write_text(
            json.dumps({"Mounts": [{"source": source, "destination": "/x"}]})
        )
        return Invocation(
            _run_args(p, backend="docker"),
            says=(".tao_mounts.json", "refusing it as a mount"),
            env={"HOME": str(home)},
        )

    return build


def _annotation_in_ssh(ctx: Ctx) -> Invocation:
    """Annotation lines naming files in a folder of keys: that folder is never a mount."""
    from depthgen import sample_dataset

    p = ctx.project()
    keys = ctx.tmp / "someone" / ".ssh"
    sample_dataset(keys, scenes=("x",), per_scene=1)
    pair = f"{keys / 'x' / 'rgb_00000.jpg'} {keys / 'x' / 'sync_depth_00000.png'}\n"
    for name in ("train.txt", "val.txt"):
        (p.ann / name).write_text(pair)
    return Invocation(
        _run_args(p, backend="script"), says=(".ssh", "refusing it as a mount", "annotation files")
    )


def _results_in_ssh(ctx: Ctx) -> Invocation:
    p = ctx.project(results=ctx.tmp / "someone" / ".ssh" / "results")
    return Invocation(_run_args(p, backend="script"), says=(".ssh", "refusing it"))


def _results_in_other_home(ctx: Ctx) -> Invocation:
    home = other_home()
    assert home is not None
    p = ctx.project()
    return Invocation(
        _run_args(p, "--output-dir", str(home / "depthnet-results"), backend="script"),
        says=("another user's home",),
    )


def _data_root_etc(ctx: Ctx) -> Invocation:
    p = ctx.project()
    return Invocation(_run_args(p, "--data-root", "/etc", backend="script"), says=("/etc", "--data-root"))


def _checkpoint_outside_local(ctx: Ctx) -> Invocation:
    """#22.6: a checkpoint outside the data roots is read by a local run where it lies (no container)."""
    ctx.stand_in()
    weights = ctx.tmp / "weights"
    weights.mkdir()
    shutil.copy(CHECKPOINTS / "public_layout_vits.pth", weights)
    p = ctx.project(checkpoint=weights / "public_layout_vits.pth")
    return Invocation(_run_args(p, "--data-root", str(p.data)), expect=(0,), says=("verdict: PASS",))


def _checkpoint_outside_script(ctx: Ctx) -> Invocation:
    """A container gets the checkpoint's folder, read-only."""
    weights = ctx.tmp / "weights"
    weights.mkdir()
    shutil.copy(CHECKPOINTS / "public_layout_vits.pth", weights)
    p = ctx.project(checkpoint=weights / "public_layout_vits.pth")
    return Invocation(_run_args(p, backend="script"), expect=(0,), after=_mounted(ctx, weights, True))


def _checkpoint_hf_cache(ctx: Ctx) -> Invocation:
    """A Hugging Face cache file: snapshots/<rev>/file is a relative link into blobs/ — both folders mounted."""
    repo = ctx.tmp / "hub" / "models--x--y"
    (repo / "blobs").mkdir(parents=True)
    (repo / "snapshots" / "abc").mkdir(parents=True)
    shutil.copy(CHECKPOINTS / "public_layout_vits.pth", repo / "blobs" / "0123abcd")
    (repo / "snapshots" / "abc" / "model.pth").symlink_to("../../blobs/0123abcd")
    p = ctx.project(checkpoint=repo / "snapshots" / "abc" / "model.pth")
    return Invocation(
        _run_args(p, backend="script"),
        expect=(0,),
        after=_all_of(_mounted(ctx, repo / "snapshots" / "abc", True), _mounted(ctx, repo / "blobs", True)),
    )


def _export_public_release(ctx: Ctx) -> Invocation:
    """export of a public release (TAO's export loads Lightning checkpoints only), with a spec written by hand."""
    ctx.stand_in()
    p = ctx.project()
    weights = ctx.tmp / "public_layout_vits.pth"
    shutil.copy(CHECKPOINTS / "public_layout_vits.pth", weights)
    spec = p.out / "export.yaml"
    spec.write_text(
        "results_dir: " + str(p.results) + "\nmodel:\n  model_type: MetricDepthAnything\n  encoder: vits\n"
        f"export:\n  checkpoint: {weights}\n  onnx_file: {p.results / 'export' / 'model.onnx'}\n"
    )
    return Invocation(
        ["run", "export", "-e", str(spec), "--backend", "local"], says=("public Depth Anything V2 release",)
    )


def _missing_image(ctx: Ctx) -> Invocation:
    ctx.stand_in()
    p = ctx.project()
    first = (p.ann / "train.txt").read_text().split()[0]
    os.unlink(first)
    return Invocation(_run_args(p), says=("not found", first), timeout=10)


def _rgb_not_an_image(ctx: Ctx) -> Invocation:
    ctx.stand_in()
    p = ctx.project()
    first = (p.ann / "train.txt").read_text().split()[0]
    Path(first).write_bytes(b"not a jpeg at all" * 10)
    return Invocation(_run_args(p), says=("not an image", first), timeout=10)


# --------------------------------------------------------------------------------------------- class 8: processes

#: TAO's entrypoint SIGKILLed (the OOM killer) while its training child, in the same group, lives on.
OOM_STAND_IN = """#!/bin/sh
( trap '' TERM; sleep "${CHILD_SECONDS:-4}" ) &
echo "training child $!"
kill -9 $$
"""
#: A clean run (the real replay) that leaves a child of its group running past its exit.
OUTLIVED_STAND_IN = """#!/bin/sh
( sleep "${CHILD_SECONDS:-6}" ) &
exec "$EMULATOR" "$@"
"""


def _oom_child_lives(ctx: Ctx) -> Invocation:
    ctx.stand_in(OOM_STAND_IN)
    p = ctx.project()
    return Invocation(
        _run_args(p, "--json-events"),
        expect=(1,),
        says=("ran on", "out-of-memory"),
        after=_no_process_left(ctx, lambda: _only_run(ctx)),
        env={"CHILD_SECONDS": "5"},
    )


def _clean_exit_child_lives(ctx: Ctx) -> Invocation:
    ctx.stand_in(OUTLIVED_STAND_IN)
    p = ctx.project()
    return Invocation(
        _run_args(p),
        expect=(1,),
        says=("verdict: FAIL", "exited with code 0 while 1 process"),
        after=_no_process_left(ctx, lambda: _only_run(ctx)),
        env={"EMULATOR": str(EMULATOR), "CHILD_SECONDS": "6"},
    )


def _detached_oom(ctx: Ctx, child_seconds: int) -> tuple[str, Path]:
    """A detached run whose entrypoint was SIGKILLed: its leader is gone, its training child lives on."""
    ctx.stand_in(OOM_STAND_IN)
    p = ctx.project()
    done = ctx.cli(*_run_args(p, "--detach"), env={"CHILD_SECONDS": str(child_seconds)})
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip()
    folder = ctx.runs / run_id
    deadline = time.monotonic() + 20
    while not (folder / "exit_code").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    ctx.cleanups.append(lambda: _stop_all(ctx))
    return run_id, folder


def _stop_finished_with_leftovers(ctx: Ctx) -> Invocation:
    """A run recorded finished (an older depthnet saved its verdict when the entrypoint died) whose training child
    still holds the GPU: `stop` ends it."""
    run_id, folder = _detached_oom(ctx, 60)
    record = json.loads((folder / "run.json").read_text())
    record["verdict"] = {"passed": False, "reason": "train failed with exit code 137", "exit_code": 137}
    (folder / "run.json").write_text(json.dumps(record))
    return Invocation(
        ["stop", run_id, "--timeout", "2"],
        expect=(0,),
        says=("left running",),
        after=_no_process_left(ctx, lambda: run_id),
    )


def _runs_says_running(ctx: Ctx) -> Invocation:
    """Its leader gone, its child alive: the run is still running, not "exited"."""
    run_id, _ = _detached_oom(ctx, 60)
    return Invocation(["runs", "--json"], expect=(0,), says=(run_id, '"state": "running"'))


def _script_attach(ctx: Ctx) -> Invocation:
    """A --backend script run nobody has run: attach says so, and the run stays "not started"."""
    p = ctx.project()
    done = ctx.cli(*_run_args(p, backend="script"))
    assert done.returncode == 0, done.stderr
    run_id = _only_run(ctx)
    assert run_id

    def still_not_started() -> str | None:
        if json.loads((ctx.runs / run_id / "run.json").read_text()).get("verdict") is not None:
            return "silent wrong: a verdict was saved for a run that never started"
        rows = json.loads(ctx.cli("runs", "--json").stdout)
        state = next((r["state"] for r in rows if r["run_id"] == run_id), None)
        return None if state == "not started" else f"silent wrong: the run is listed {state!r}"

    return Invocation(["attach", run_id], says=("has not run yet",), after=still_not_started)


# --------------------------------------------------------------------------------------------- class 9: registry


def _finished_record(ctx: Ctx, **fields: object) -> str:
    """A finished local run's folder (log, exit code, status.json of a real capture) with run.json's fields."""
    run_id = "20260101-000000-train-beef"
    results = ctx.tmp / "r"
    results.mkdir(exist_ok=True)
    fields.setdefault("exit_file", str(ctx.runs / run_id / "exit_code"))
    folder = ctx.record(run_id, results_dir=str(results), pid=999_999, pid_start=1, **fields)
    (folder / "log.txt").write_text("Execution status: PASS\n")
    (folder / "exit_code").write_text("0\n")
    return run_id


def _log_file(target: Callable[[Ctx], str]) -> Callable[[Ctx], Invocation]:
    def build(ctx: Ctx) -> Invocation:
        run_id = _finished_record(ctx, log_file=target(ctx))
        return Invocation(["attach", run_id], says=("log_file", "outside the run's folder"), timeout=10)

    return build


def _exit_file(target: Callable[[Ctx], str]) -> Callable[[Ctx], Invocation]:
    def build(ctx: Ctx) -> Invocation:
        run_id = _finished_record(ctx, exit_file=target(ctx))
        return Invocation(["attach", run_id], says=("exit_file", "outside the run's folder"), timeout=10)

    return build


def _user_file(ctx: Ctx) -> str:
    path, _ = ctx.victim()
    return str(path)


def _fifo(ctx: Ctx) -> str:
    os.mkfifo(ctx.tmp / "pipe")
    return str(ctx.tmp / "pipe")


def _log_file_victim_docker(ctx: Ctx) -> Invocation:
    """A docker record whose log_file names a user's file: attach would empty it (it rewrites the log)."""
    victim, intact = ctx.victim()
    run_id = _finished_record(ctx, log_file=str(victim))
    record = json.loads((ctx.runs / run_id / "run.json").read_text())
    record.update(backend="docker", container_id="0" * 64, pid=None, pid_start=None)
    (ctx.runs / run_id / "run.json").write_text(json.dumps(record))
    return Invocation(
        ["attach", run_id], says=("log_file", "outside the run's folder"), after=intact, timeout=10
    )


def _log_fifo_inside(ctx: Ctx) -> Invocation:
    run_id = _finished_record(ctx)
    (ctx.runs / run_id / "log.txt").unlink()
    os.mkfifo(ctx.runs / run_id / "log.txt")
    return Invocation(["attach", run_id], says=("log.txt", "FIFO"), timeout=10)


def _exit_code_is_zero_device(ctx: Ctx) -> Invocation:
    """The run folder's exit_code is a link to /dev/zero: read bounded, refused, the verdict still comes."""
    run_id = _finished_record(ctx)
    (ctx.runs / run_id / "exit_code").unlink()
    (ctx.runs / run_id / "exit_code").symlink_to("/dev/zero")
    return Invocation(["attach", run_id], expect=(0, 1), says=("verdict:",), timeout=10)


def _run_id_mismatch(ctx: Ctx) -> Invocation:
    folder = ctx.record("20260101-000000-train-beef")
    record = json.loads((folder / "run.json").read_text())
    record["run_id"] = "../../elsewhere"
    (folder / "run.json").write_text(json.dumps(record))
    return Invocation(["attach", "20260101-000000-train-beef"], says=("run.json", "lies in the folder"))


def _run_json_huge(ctx: Ctx) -> Invocation:
    folder = ctx.record()
    with open(folder / "run.json", "ab") as f:
        f.write(b" " * (3 << 20))
    return Invocation(["attach", "20260101-000000-train-beef"], says=("run.json", "larger than"))


def _run_json_dev_zero(ctx: Ctx) -> Invocation:
    folder = ctx.record()
    (folder / "run.json").unlink()
    (folder / "run.json").symlink_to("/dev/zero")
    return Invocation(["attach", "20260101-000000-train-beef"], says=("run.json", "device"), timeout=10)


def _huge_kpi(ctx: Ctx) -> Invocation:
    """status.json whose kpi holds 100 000 keys: the verdict is saved bounded, and the run's record still loads."""
    run_id = _finished_record(ctx)
    lines = []
    for part in range(5):  # kpi are merged by key across status lines: 5 × 20 000 keys
        kpi = {f"k{part}_{i}": i * 0.5 for i in range(20_000)}
        kpi.update({"train_loss": 0.5, "val/loss": 0.4, "long": "x" * 100_000})
        lines.append(json.dumps({"epoch": part, "max_epoch": 4, "step": part + 1, "max_step": 5, "kpi": kpi}))
    (ctx.tmp / "r" / "status.json").write_text("\n".join(lines) + "\n")

    def loads() -> str | None:
        size = (ctx.runs / run_id / "run.json").stat().st_size
        listed = ctx.cli("runs", "--json").stdout
        if run_id not in listed:
            return f"silent wrong: the run vanished from `depthnet runs` (run.json {size} bytes)"
        shown = ctx.cli("attach", run_id)
        if "not a readable run record" in shown.stderr or size > 1 << 20:
            return f"silent wrong: the product refuses its own record ({size} bytes)"
        return None

    return Invocation(["attach", run_id], expect=(0, 1), says=("verdict:",), after=loads, timeout=60)


def _lock_names_glob(ctx: Ctx) -> Invocation:
    """A lock file that names '*' as its holder: not looked up as a pattern, the folder is free."""
    ctx.stand_in()
    p = ctx.project()
    p.results.joinpath("train").mkdir(parents=True)
    (p.results / "train" / ".depthnet.lock").write_text("*\n")
    return Invocation(_run_args(p), expect=(0,), says=("verdict: PASS",))


def _detached_docker_holds_folder(ctx: Ctx) -> Invocation:
    """A detached container run still marks its results folder: a second run into it is refused while it lives."""
    image = ctx.env.get("DEPTHNET_TEST_EMU_IMAGE", "depthnet-emu")
    p = ctx.project()
    docker_args = ("--image", image, "--gpus", "none", "--network", "none")
    # EMU_SPEED reaches the container only through --env: 0.1 keeps it running for ~15 s
    first = ctx.cli(*_run_args(p, "--detach", "--env", "EMU_SPEED=0.1", *docker_args, backend="docker"))
    assert first.returncode == 0, first.stderr
    run_id = first.stdout.strip()
    ctx.cleanups.append(lambda: _stop_all(ctx))
    return Invocation(
        _run_args(p, "--force", *docker_args, backend="docker"), says=("in use by run", run_id), timeout=60
    )


# --------------------------------------------------------------------------------------------- the cases

CASES: list[Case] = [
    # class 1: nothing is written through a link, a FIFO or a second name
    Case(
        "lock_is_a_link_to_a_user_file", 1, "clear", _lock_link, what="results/.depthnet.lock → a user's file"
    ),
    Case(
        "lock_is_a_hard_link",
        1,
        "clear",
        _lock_hardlink,
        what=".depthnet.lock is a second name of a user's file",
    ),
    Case("lock_is_a_fifo", 1, "clear", _lock_fifo),
    Case("lock_is_a_dangling_link", 1, "clear", _lock_dangling),
    Case("convert_out_is_a_link", 1, "clear", _convert_out_link, what="convert --out LINK --force"),
    Case("convert_out_is_a_dangling_link", 1, "clear", _convert_out_dangling),
    Case("convert_out_is_a_file", 1, "clear", _convert_out_file),
    Case("convert_old_train_txt_is_a_link", 1, "handled", _convert_split_file_link),
    Case("spec_output_is_a_link", 1, "clear", _spec_out_link, what="spec -o LINK --force"),
    Case("spec_output_is_a_fifo", 1, "clear", _spec_out_fifo),
    Case(
        "run_json_is_a_link", 1, "handled", _run_json_link, what="attach saves its verdict, never through it"
    ),
    Case("session_json_is_a_link", 1, "clear", _session_link),
    Case("crash_report_name_is_a_link", 1, "handled", _crash_report_link),
    # class 5: a container gets what it needs, and never a system folder or someone's keys
    Case("results_dir_inside_the_data_root", 5, "handled", _results_inside_data),
    Case("depth_file_links_outside_the_root", 5, "handled", _depth_link_outside),
    Case("relative_link_climbing_out_of_a_linked_root", 5, "clear", _depth_link_climbing),
    Case("tao_mounts_mounts_etc", 5, "clear", _tao_mounts("/etc")),
    Case("tao_mounts_mounts_root", 5, "clear", _tao_mounts("/")),
    Case("tao_mounts_mounts_docker_socket_folder", 5, "clear", _tao_mounts("/run")),
    Case("annotation_lines_in_a_ssh_folder", 5, "clear", _annotation_in_ssh),
    Case("results_dir_in_a_ssh_folder", 5, "clear", _results_in_ssh),
    Case("output_in_another_users_home", 5, "clear", _results_in_other_home, needs=frozenset({"other_home"})),
    Case("data_root_is_etc", 5, "clear", _data_root_etc),
    Case("local_checkpoint_outside_the_data_roots", 5, "handled", _checkpoint_outside_local),
    Case("container_checkpoint_outside_the_data_roots", 5, "handled", _checkpoint_outside_script),
    Case("container_checkpoint_in_a_hf_cache", 5, "handled", _checkpoint_hf_cache),
    Case("export_of_a_public_release", 5, "clear", _export_public_release),
    Case("missing_image_before_launch", 5, "clear", _missing_image, what="< 2 s instead of TAO's 95 s"),
    Case("rgb_that_is_not_an_image", 5, "clear", _rgb_not_an_image),
    # class 8: finished means the whole process group has gone
    Case("entrypoint_sigkilled_child_lives_on", 8, "clear", _oom_child_lives),
    Case("child_outlives_a_clean_exit", 8, "clear", _clean_exit_child_lives),
    Case("stop_a_finished_run_with_leftovers", 8, "handled", _stop_finished_with_leftovers),
    Case("runs_lists_a_leaderless_group_as_running", 8, "handled", _runs_says_running),
    Case("attach_a_script_run_that_never_started", 8, "clear", _script_attach),
    # class 9: run.json read as data someone edited
    Case("log_file_is_a_user_file", 9, "clear", _log_file(_user_file)),
    Case("log_file_is_dev_zero", 9, "clear", _log_file(lambda ctx: "/dev/zero")),
    Case("log_file_is_a_fifo", 9, "clear", _log_file(_fifo)),
    Case("log_file_is_relative", 9, "clear", _log_file(lambda ctx: "log.txt")),
    Case(
        "log_file_climbs_out_with_dotdot",
        9,
        "clear",
        _log_file(lambda ctx: str(ctx.runs / "x" / ".." / ".." / "log")),
    ),
    Case("docker_log_file_is_a_user_file", 9, "clear", _log_file_victim_docker),
    Case("exit_file_is_dev_zero", 9, "clear", _exit_file(lambda ctx: "/dev/zero")),
    Case("exit_file_is_a_fifo", 9, "clear", _exit_file(_fifo)),
    Case("exit_file_is_a_user_file", 9, "clear", _exit_file(_user_file)),
    Case("log_txt_in_the_run_folder_is_a_fifo", 9, "clear", _log_fifo_inside),
    Case("exit_code_in_the_run_folder_links_to_dev_zero", 9, "handled", _exit_code_is_zero_device),
    Case("run_id_is_not_the_folder", 9, "clear", _run_id_mismatch),
    Case("run_json_is_3_mb", 9, "clear", _run_json_huge),
    Case("run_json_links_to_dev_zero", 9, "clear", _run_json_dev_zero),
    Case("kpi_with_100k_keys", 9, "handled", _huge_kpi, what="run.json stays small and loads"),
    Case("lock_names_a_glob_as_holder", 9, "handled", _lock_names_glob),
    Case(
        "detached_docker_run_holds_its_folder",
        9,
        "clear",
        _detached_docker_holds_folder,
        needs=frozenset({"docker"}),
    ),
]

#: The columns of issue 25's table, in its order.
COLUMNS: tuple[Found, ...] = ("clear", "handled", "traceback", "hang", "silent wrong", "data lost", "unclear")


def table(results: dict[str, Result]) -> str:
    """Issue 25's table over ``results`` (case name → outcome): tried | clear error | handled | traceback | hang |
    silent wrong | data lost (| unclear), then the slowest clear answer and every case that went wrong."""
    counts = {c: sum(r.outcome == c for r in results.values()) for c in COLUMNS}
    head = "tried | clear error | handled | traceback | hang | silent wrong | data lost | unclear"
    row = " | ".join(str(n) for n in (len(results), *counts.values()))
    clear = [(r.seconds, n) for n, r in results.items() if r.outcome == "clear"]
    lines = [head, row]
    if clear:
        secs, name = max(clear)
        lines.append(f"slowest clear answer: {name} ({secs:.2f} s)")
    by_name = {c.name: c for c in CASES}
    lines += [
        f"  {n}: {r.outcome} (wanted {by_name[n].expect})"
        for n, r in results.items()
        if r.outcome != by_name[n].expect
    ]
    return "\n".join(lines)


def main() -> int:
    """``python tests/hostile/cases_files.py [NAME…]``: try every case (or those named) and print the table. Docker
    cases need an engine at DOCKER_HOST (``. .ci/dockerd``); the others need nothing."""
    import tempfile

    sys.path.insert(0, str(TESTS))
    image = None
    results: dict[str, Result] = {}
    with tempfile.TemporaryDirectory(prefix="hostile-files-") as tmp:
        for i, case in enumerate(CASES):
            if sys.argv[1:] and case.name not in sys.argv[1:]:
                continue
            if (why := available(case)) is not None:
                print(f"skipped {case.name}: {why}", file=sys.stderr)
                continue
            if "docker" in case.needs and image is None:
                import docker
                from docker_env import ensure_emulator_image

                image = ensure_emulator_image(docker.from_env(timeout=60))
            folder = Path(tmp) / f"case{i:02d}"  # not the name: TAO's patterns match over the whole path
            folder.mkdir()
            results[case.name] = run_case(case, folder, emu_image=image)
            print(
                f"{case.name}: {results[case.name].outcome} ({results[case.name].seconds:.2f} s)",
                file=sys.stderr,
            )
    print(table(results))
    return 0 if all(r.outcome == c.expect for c in CASES for n, r in results.items() if n == c.name) else 1


if __name__ == "__main__":
    sys.exit(main())
