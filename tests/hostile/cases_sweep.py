"""Hostile inputs against ``depthnet sweep`` — issue 25's classes 2 (``--env`` names that become code), 3 (secrets
at rest: sweep.json keeps ``--env`` names only), 9 (a study.db or sweep.json edited or damaged) and 10 (arguments
that crash or crawl: ``--trials 0``, ``--parallel -1``, ``uniform:-inf:inf``), with issue 28's promises for a start
(no half-made sweep folder when it is refused, the direction follows the objective) — as data.

Each ``Case`` builds its files under its own folder and returns the ``Invocation`` to try: the real ``depthnet``,
the exit codes and words that make the answer right, and ``after()``, a check of what was left ("data lost: …"
when a file of the user's changed, "silent wrong: …" when the product did the wrong thing quietly).
``run_case(case, folder)`` names the outcome the way the issue's table counts them. ``test_sweep_cases.py`` runs
every case; ``python tests/hostile/cases_sweep.py [NAME…]`` prints the table. Nothing here needs ``../shared``,
Docker or a GPU: the trials that start use a ``depth_net`` of the case's own on PATH.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fastcli import DEPTHNET

#: Seconds an answer may take before it counts as a hang (the promise is < 2 s for a refusal; a start that runs a
#: trial takes longer, and says so with its own timeout).
LIMIT = 20.0

Outcome = Literal["clear", "handled"]
Found = Literal["clear", "handled", "traceback", "hang", "silent wrong", "data lost", "unclear"]
COLUMNS: tuple[Found, ...] = ("clear", "handled", "traceback", "hang", "silent wrong", "data lost", "unclear")
SECRET = "sekrit-7f3a9c"  # a value no file of the product may ever hold


@dataclass(frozen=True)
class Invocation:
    argv: list[str]
    expect: tuple[int, ...] = (1, 2)
    says: tuple[str, ...] = ()
    after: Callable[[], str | None] | None = None
    timeout: float = LIMIT


@dataclass(frozen=True)
class Case:
    name: str
    klass: int  # issue 25's class (2, 3, 9, 10); 28 for issue 28's start promises
    expect: Outcome
    build: Callable[[Ctx], Invocation]


@dataclass
class Result:
    outcome: Found
    seconds: float
    output: str
    returncode: int | None


class Ctx:
    """One case's folder: its own XDG folders (run registry, crash reports) and ``bin/`` alone on PATH."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.bin = tmp / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "XDG_DATA_HOME": str(tmp / "xdg-data"),
            "XDG_CONFIG_HOME": str(tmp / "xdg-config"),
            "XDG_STATE_HOME": str(tmp / "xdg-state"),
            "PATH": f"{self.bin}{os.pathsep}/usr/bin{os.pathsep}/bin",
        }

    def spec(self) -> Path:
        """Sample RGB-D data, its annotation files and a train spec (the sanity recipe), made in-process."""
        from depthgen import sample_dataset

        from specgen.data.convert import ConvertOptions, build_index, plan, write_annotations
        from specgen.job.builders import BuildRequest, build_spec
        from specgen.spec.render import write_spec

        data = sample_dataset(self.tmp / "data", per_scene=1)
        ann = self.tmp / "out" / "ann"
        opts = ConvertOptions(image_patterns=["/rgb_"], depth_patterns=["/sync_depth_"], split_ratio=0.8)
        write_annotations(plan(build_index(str(data)), opts), ann)
        spec, _ = build_spec(
            BuildRequest(
                action="train",
                dataset_name="NYUDV2",
                data_file=str(ann / "train.txt"),
                results_dir=str(self.tmp / "out" / "results"),
                recipe="sanity",
            )
        )
        return Path(write_spec(self.tmp / "out" / "train.yaml", spec, overwrite=True))

    def failing_depth_net(self) -> None:
        """A ``depth_net`` that ends at once with exit 1: a trial starts and fails, in well under a second."""
        path = self.bin / "depth_net"
        path.write_text("#!/bin/sh\necho 'Error: stand-in refuses' >&2\nexit 1\n")
        path.chmod(0o755)

    def sweep_folder(self, *, trials: int = 2, env_values: dict[str, str] | None = None) -> Path:
        """A sweep folder as ``create_sweep`` leaves it (sweep.json, base.yaml, an empty study), made without
        checks; ``env_values``: an older depthnet's sweep.json that kept the ``--env`` values."""
        import optuna

        from specgen.engine.sweep import Param, SweepConfig, config_text, storage_url

        folder = self.tmp / "sweep"
        folder.mkdir()
        (folder / "base.yaml").write_text("results_dir: /tmp/x\n")
        cfg = SweepConfig(trials=trials, params=[Param.parse("train.optim.lr=loguniform:1e-5:1e-3")])
        text = config_text(cfg)
        if env_values is not None:
            data = json.loads(text)
            data.pop("env_names")
            data["env"] = env_values
            text = json.dumps(data)
        (folder / "sweep.json").write_text(text)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        optuna.create_study(storage=storage_url(folder), study_name=cfg.study).add_trial(
            optuna.trial.create_trial(
                params={"train.optim.lr": 1e-4},
                distributions={
                    "train.optim.lr": optuna.distributions.FloatDistribution(1e-5, 1e-3, log=True)
                },
                value=0.3,
            )
        )
        return folder


def run_case(case: Case, tmp: Path) -> Result:
    """Build and try one case in ``tmp``; the outcome as the issue's table counts it."""
    ctx = Ctx(tmp)
    inv = case.build(ctx)
    t0 = time.monotonic()
    try:
        done = subprocess.run(
            [*DEPTHNET, *inv.argv],
            capture_output=True,
            text=True,
            cwd=tmp,
            timeout=inv.timeout,
            env=ctx.env,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return Result("hang", time.monotonic() - t0, "", None)
    took = time.monotonic() - t0
    out = done.stdout + done.stderr
    if "Traceback" in out or "unexpected error" in out:
        return Result("traceback", took, out, done.returncode)
    left = inv.after() if inv.after is not None else None
    if left is not None:
        found: Found = "data lost" if left.startswith("data lost") else "silent wrong"
        return Result(found, took, f"{out}\n{left}", done.returncode)
    if done.returncode not in inv.expect or not all(w in out for w in inv.says):
        wrong = done.returncode == 0 and case.expect == "clear"
        return Result("silent wrong" if wrong else "unclear", took, out, done.returncode)
    return Result(case.expect, took, out, done.returncode)


def record_outcome(name: str, result: Result) -> None:
    """Append the outcome to HOSTILE_RECORD (tests/hostile/figures.py reads it), as ``hostile_cli`` does."""
    path = os.environ.get("HOSTILE_RECORD")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(
                json.dumps({"case": name, "outcome": result.outcome, "seconds": round(result.seconds, 3)})
                + "\n"
            )


# --------------------------------------------------------------------------------------------- checks of what was left


def _absent(path: Path) -> Callable[[], str | None]:
    def check() -> str | None:
        return f"silent wrong: {path} was made by a refused start" if os.path.lexists(path) else None

    return check


def _unchanged(path: Path) -> Callable[[], str | None]:
    """``path`` (a file, or a folder's listing and files) as it was when the check was made."""

    def digest() -> str:
        if path.is_dir() and not path.is_symlink():
            h = hashlib.sha256()
            for p in sorted(path.rglob("*")):
                h.update(str(p.relative_to(path)).encode())
                if p.is_file() and not p.is_symlink():
                    h.update(p.read_bytes())
            return h.hexdigest()
        try:
            st = path.lstat()
            if not stat.S_ISREG(st.st_mode):  # a FIFO, link or device: never read (a FIFO would block)
                return f"{stat.S_IFMT(st.st_mode)}:{os.readlink(path) if path.is_symlink() else ''}"
            return hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as exc:
            return f"unreadable: {exc.strerror}"

    before = digest()
    return lambda: None if digest() == before else f"data lost: {path} was changed"


def _nothing_holds(secret: str, *folders: Path) -> Callable[[], str | None]:
    def check() -> str | None:
        for folder in folders:
            for p in folder.rglob("*") if folder.is_dir() else ():
                if p.is_file() and not p.is_symlink() and secret.encode() in p.read_bytes():
                    return f"silent wrong: {p} holds the --env value"
        return None

    return check


def _all(*checks: Callable[[], str | None]) -> Callable[[], str | None]:
    def check() -> str | None:
        return next((found for c in checks if (found := c()) is not None), None)

    return check


# --------------------------------------------------------------------------------------------- the cases


def _start(*extra: str, spec: bool = False, expect: tuple[int, ...] = (2,), says: str = "") -> Callable:
    """``depthnet sweep`` with ``extra`` flags; its --out must not appear."""

    def build(ctx: Ctx) -> Invocation:
        path = ctx.spec() if spec else ctx.tmp / "nospec.yaml"
        out = ctx.tmp / "sweep"
        argv = ["sweep", "-e", str(path), "--trials", "2", "--out", str(out), "--backend", "local", *extra]
        return Invocation(argv, expect=expect, says=(says,) if says else (), after=_absent(out))

    return build


def _env_name_as_code(ctx: Ctx) -> Invocation:
    marker = ctx.tmp / "pwned"
    argv = ["sweep", "-e", str(ctx.tmp / "x.yaml"), "--trials", "1", "--out", str(ctx.tmp / "sweep")]
    argv += ["--env", f"$(touch {marker})=1"]
    return Invocation(
        argv, says=("a variable name is letters",), after=_all(_absent(marker), _absent(ctx.tmp / "sweep"))
    )


def _out_is(kind: str) -> Callable[[Ctx], Invocation]:
    def build(ctx: Ctx) -> Invocation:
        spec = ctx.spec()
        ctx.failing_depth_net()
        out = ctx.tmp / "target"
        says = "give a new (or empty) folder"
        if kind == "file":
            out.write_text("the user's own words\n")
        elif kind == "full":
            out.mkdir()
            (out / "notes.txt").write_text("mine\n")
        elif kind == "link":
            (ctx.tmp / "elsewhere").mkdir()
            out.symlink_to(ctx.tmp / "elsewhere")
        elif kind == "sweep":
            out = ctx.sweep_folder()
            says = "already holds a sweep"
        argv = ["sweep", "-e", str(spec), "--trials", "1", "--out", str(out), "--backend", "local"]
        keep = ctx.tmp / "elsewhere" if kind == "link" else out
        return Invocation(argv, expect=(1,), says=(says,), after=_unchanged(keep))

    return build


def _no_engine_leaves_nothing(ctx: Ctx) -> Invocation:
    """The local backend asked and no depth_net on PATH: refused before any folder is made."""
    spec = ctx.spec()
    out = ctx.tmp / "new" / "sweep"
    argv = ["sweep", "-e", str(spec), "--trials", "2", "--out", str(out), "--backend", "local"]
    return Invocation(argv, expect=(1,), says=("depth_net",), after=_absent(out))


def _direction_and_secret(ctx: Ctx) -> Invocation:
    """A start that runs (one trial, which fails at once): val/d1 is maximised without --direction, and the
    --env value is in no file of the sweep or of the run registry."""
    spec = ctx.spec()
    ctx.failing_depth_net()
    out = ctx.tmp / "sweep"
    argv = ["sweep", "-e", str(spec), "--trials", "1", "--out", str(out), "--backend", "local"]
    argv += ["--objective", "val/d1", "--param", "train.optim.lr=loguniform:1e-5:1e-3"]
    argv += ["--env", f"NGC_API_KEY={SECRET}", "--gpus", "none"]

    def maximised() -> str | None:
        try:
            cfg = json.loads((out / "sweep.json").read_text())
        except (OSError, ValueError) as exc:
            return f"silent wrong: no sweep.json after a start that ran ({exc})"
        if cfg.get("direction") != "maximize":
            return f"silent wrong: val/d1 was {cfg.get('direction')}d"
        if cfg.get("env_names") != ["NGC_API_KEY"]:
            return f"silent wrong: sweep.json keeps {cfg.get('env_names')!r} as --env names"
        return None

    check = _all(maximised, _nothing_holds(SECRET, out, ctx.tmp / "xdg-data", ctx.tmp / "xdg-state"))
    return Invocation(
        argv, expect=(1,), says=("direction: maximize", "no trial completed"), after=check, timeout=90
    )


def _study(damage: str, verb: str = "status") -> Callable[[Ctx], Invocation]:
    """A sweep folder whose study.db was damaged as ``damage`` says; ``verb`` must refuse in one line and leave the
    file as it found it (resume must never start a new study over it)."""

    def build(ctx: Ctx) -> Invocation:
        folder = ctx.sweep_folder()
        db = folder / "study.db"
        says = {"missing": "is missing", "empty": "is empty", "garbage": "not an SQLite database"}.get(
            damage, ""
        )
        if damage == "missing":
            db.unlink()
        elif damage == "empty":
            db.write_bytes(b"")
        elif damage == "garbage":
            db.write_bytes(b"\x00not a database at all\n" * 200)
        elif damage == "truncated":
            data = db.read_bytes()
            db.write_bytes(data[: len(data) // 3])
            says = "damaged"
        elif damage == "fifo":
            db.unlink()
            os.mkfifo(db)
            says = "not a regular file"
        elif damage == "link":
            other = ctx.tmp / "other.db"
            db.rename(other)
            db.symlink_to(other)
            says = "not a regular file"
        argv = ["sweep", verb, str(folder)]
        if verb == "best":
            argv += ["-o", str(ctx.tmp / "best.yaml")]
        after = (
            _absent(db)
            if damage == "missing"
            else _unchanged(ctx.tmp / "other.db" if damage == "link" else db)
        )
        return Invocation(argv, expect=(1,), says=(says, "study.db"), after=after)

    return build


def _config(damage: str) -> Callable[[Ctx], Invocation]:
    def build(ctx: Ctx) -> Invocation:
        folder = ctx.sweep_folder()
        path = folder / "sweep.json"
        if damage == "garbage":
            path.write_text("{not json")
        elif damage == "fifo":
            path.unlink()
            os.mkfifo(path)
        elif damage == "huge":
            path.write_text('{"trials": 2, "params": [], "pad": "' + "x" * 30_000_000 + '"}')
        elif damage == "trials_zero":
            data = json.loads(path.read_text())
            data["trials"] = 0
            path.write_text(json.dumps(data))
        return Invocation(["sweep", "status", str(folder)], expect=(1,), says=("sweep.json",))

    return build


def _old_config_with_values(ctx: Ctx) -> Invocation:
    """An older sweep.json that kept an --env value: resume rewrites it with the name only, and — the value not
    given again — refuses in one line naming it."""
    folder = ctx.sweep_folder(trials=3, env_values={"NGC_API_KEY": SECRET})
    return Invocation(
        ["sweep", "resume", str(folder)],
        expect=(1,),
        says=("need NGC_API_KEY", "names only"),
        after=_nothing_holds(SECRET, folder),
    )


def _resume_bad_env(ctx: Ctx) -> Invocation:
    folder = ctx.sweep_folder()
    return Invocation(
        ["sweep", "resume", str(folder), "--env", "BAD NAME=1"], says=("a variable name is letters",)
    )


def _best_over(kind: str) -> Callable[[Ctx], Invocation]:
    """``sweep best`` onto a file of the user's (refused without --force) or through a link (refused even with
    --force, as every write of the product is: atomicio never follows or replaces a link; both stay as they were)."""

    def build(ctx: Ctx) -> Invocation:
        folder = ctx.sweep_folder()
        (folder / "trials" / "0000").mkdir(parents=True)
        (folder / "trials" / "0000" / "spec.yaml").write_text("results_dir: /tmp/x\n")
        victim = ctx.tmp / "mine.yaml"
        victim.write_text("the user's own words\n")
        if kind == "file":
            return Invocation(
                ["sweep", "best", str(folder), "-o", str(victim)],
                expect=(1,),
                says=("exists; pass --force",),
                after=_unchanged(victim),
            )
        link = ctx.tmp / "best.yaml"
        link.symlink_to(victim)
        return Invocation(
            ["sweep", "best", str(folder), "-o", str(link), "--force"],
            expect=(1,),
            says=("is a symbolic link",),
            after=_all(_unchanged(victim), _unchanged(link)),
        )

    return build


def _best_default_place(ctx: Ctx) -> Invocation:
    folder = ctx.sweep_folder()
    (folder / "trials" / "0000").mkdir(parents=True)
    (folder / "trials" / "0000" / "spec.yaml").write_text("results_dir: /tmp/x\n")

    def written() -> str | None:
        from specgen.spec.render import read_yaml

        best = folder / "best.yaml"
        if not best.is_file():
            return "silent wrong: no SWEEP_DIR/best.yaml"
        results = str(read_yaml(best).get("results_dir"))
        if "trials" in results:
            return f"silent wrong: best.yaml's results_dir {results} is inside the trial's own folder"
        return None

    return Invocation(
        ["sweep", "best", str(folder)], expect=(0,), says=("best.yaml", "depthnet run"), after=written
    )


def _best_none_complete(ctx: Ctx) -> Invocation:
    import optuna

    from specgen.engine.sweep import storage_url

    folder = ctx.sweep_folder()
    optuna.delete_study(study_name="depthnet", storage=storage_url(folder))
    optuna.create_study(storage=storage_url(folder), study_name="depthnet")
    return Invocation(
        ["sweep", "best", str(folder)], expect=(1,), says=("no trial",), after=_absent(folder / "best.yaml")
    )


CASES: list[Case] = [
    # class 10: arguments that crash or crawl — refused before the spec is read, the folder never made
    Case("trials_zero", 10, "clear", _start("--trials", "0", says="--trials 0")),
    Case("trials_negative", 10, "clear", _start("--trials", "-5", says="at least 1")),
    Case("parallel_negative", 10, "clear", _start("--parallel", "-1", says="--parallel -1")),
    Case("parallel_huge", 10, "clear", _start("--parallel", "100000", says="1 to 64")),
    Case(
        "param_infinite_range",
        10,
        "clear",
        _start("--param", "train.optim.lr=uniform:-inf:inf", says="finite"),
    ),
    Case("param_nan", 10, "clear", _start("--param", "train.optim.lr=uniform:nan:1", says="finite")),
    Case(
        "param_loguniform_from_zero",
        10,
        "clear",
        _start("--param", "train.optim.lr=loguniform:0:1", says="LOW > 0"),
    ),
    Case("param_reversed", 10, "clear", _start("--param", "train.optim.lr=uniform:1:0", says="LOW < HIGH")),
    Case(
        "param_int_not_whole",
        10,
        "clear",
        _start("--param", "train.optim.lr_step_size=int:1.5:3", says="whole"),
    ),
    Case(
        "param_one_choice",
        10,
        "clear",
        _start("--param", "model.encoder=categorical:vitl", says="two choices"),
    ),
    Case("param_no_syntax", 10, "clear", _start("--param", "lr", says="KEY=loguniform")),
    Case(
        "param_twice",
        10,
        "clear",
        _start(
            "--param", "train.optim.lr=uniform:0:1", "--param", "train.optim.lr=uniform:0:2", says="twice"
        ),
    ),
    Case(
        "param_unknown_key",
        10,
        "clear",
        _start("--param", "train.optim.lrr=uniform:0.1:1", spec=True, expect=(1,), says="not a key"),
    ),
    Case(
        "param_a_section",
        10,
        "clear",
        _start("--param", "train.optim=uniform:0.1:1", spec=True, expect=(1,), says="a section"),
    ),
    Case(
        "param_value_the_schema_refuses",
        10,
        "clear",
        _start("--param", "train.optim.lr=uniform:-1:1", spec=True, expect=(1,), says="narrow the range"),
    ),
    Case(
        "objective_unknown_without_direction",
        10,
        "clear",
        _start("--objective", "val/foo", spec=True, says="--direction"),
    ),
    Case("gpus_garbage", 10, "clear", _start("--gpus", "0,,x", spec=True)),
    # class 2: --env names that would become code; values with control characters
    Case("env_name_is_a_command", 2, "clear", _env_name_as_code),
    Case("env_value_with_newline", 2, "clear", _start("--env", "A=1\nrm -rf x", says="control character")),
    Case("env_without_value", 2, "clear", _start("--env", "NOVALUE", says="NAME=VALUE")),
    Case("resume_env_bad_name", 2, "clear", _resume_bad_env),
    # issue 28: a refused start leaves nothing; --out is never taken over
    Case("no_depth_net_leaves_no_folder", 28, "clear", _no_engine_leaves_nothing),
    Case("out_is_a_file", 28, "clear", _out_is("file")),
    Case("out_holds_other_files", 28, "clear", _out_is("full")),
    Case("out_is_a_link", 28, "clear", _out_is("link")),
    Case("out_holds_a_sweep", 28, "clear", _out_is("sweep")),
    # class 3 and issue 28: the direction follows the objective; no --env value at rest
    Case("d1_maximised_and_env_value_never_saved", 3, "handled", _direction_and_secret),
    Case("old_sweep_json_with_env_values", 3, "clear", _old_config_with_values),
    # class 9: study.db and sweep.json damaged or replaced, for every verb
    *(
        Case(f"study_db_{damage}_{verb}", 9, "clear", _study(damage, verb))
        for damage in ("missing", "empty", "garbage", "truncated", "fifo", "link")
        for verb in ("status", "best", "resume")
    ),
    Case("sweep_json_garbage", 9, "clear", _config("garbage")),
    Case("sweep_json_fifo", 9, "clear", _config("fifo")),
    Case("sweep_json_30_mb", 9, "clear", _config("huge")),
    Case("sweep_json_trials_zero", 9, "clear", _config("trials_zero")),
    # sweep best: where it writes
    Case("best_onto_a_user_file", 1, "clear", _best_over("file")),
    Case("best_through_a_link_with_force", 1, "clear", _best_over("link")),
    Case("best_goes_to_sweep_dir_with_a_fresh_results_dir", 28, "handled", _best_default_place),
    Case("best_with_no_complete_trial", 9, "clear", _best_none_complete),
]


def table(results: dict[str, Result]) -> str:
    """Issue 25's table: tried | clear error | handled | traceback | hang | silent wrong | data lost (| unclear), the
    slowest answer, and each case that went otherwise than wanted."""
    counts = [sum(r.outcome == c for r in results.values()) for c in COLUMNS]
    lines = [
        "tried | clear error | handled | traceback | hang | silent wrong | data lost | unclear",
        " | ".join(str(n) for n in (len(results), *counts)),
    ]
    if results:
        name, slowest = max(results.items(), key=lambda item: item[1].seconds)
        lines.append(f"slowest answer: {name} ({slowest.seconds:.2f} s)")
    wanted = {c.name: c.expect for c in CASES}
    lines += [
        f"  {n}: {r.outcome} (wanted {wanted[n]})" for n, r in results.items() if r.outcome != wanted[n]
    ]
    return "\n".join(lines)


def main() -> int:
    """``python tests/hostile/cases_sweep.py [NAME…]``: try every case (or those named) and print the table."""
    import tempfile

    results: dict[str, Result] = {}
    with tempfile.TemporaryDirectory(prefix="hostile-sweep-") as tmp:
        for i, case in enumerate(CASES):
            if sys.argv[1:] and case.name not in sys.argv[1:]:
                continue
            folder = Path(tmp) / f"case{i:02d}"  # not the name: TAO's patterns match over the whole path
            folder.mkdir()
            results[case.name] = run_case(case, folder)
            print(
                f"{case.name}: {results[case.name].outcome} ({results[case.name].seconds:.2f} s)",
                file=sys.stderr,
            )
    print(table(results))
    wanted = {c.name: c.expect for c in CASES}
    return 0 if all(r.outcome == wanted[n] for n, r in results.items()) else 1


if __name__ == "__main__":
    sys.exit(main())
