"""Hyper-parameter sweeps on Optuna: the study in ``SWEEP_DIR/study.db`` (SQLite), TPE sampling, median pruning fed
from each trial's status.json epoch lines as they arrive, one trial per GPU slot, every trial an ordinary run
(launched, followed and judged like ``depthnet run``), and a resume that re-attaches to trials still running.

Layout of a sweep folder: ``sweep.json`` (what was asked; ``--env`` *names* only, never their values), ``base.yaml``
(the spec it starts from), ``study.db``, ``trials/NNNN/spec.yaml`` and ``trials/NNNN/results/`` per trial,
``best.yaml`` once asked for, ``sweep.log`` when the app started it.

A sweep folder appears whole or not at all: ``create_sweep`` checks everything it can first (Optuna, the spec, the
space, the backend, the GPUs), builds the folder beside its name and renames it into place; a sweep whose first
launch is refused (no engine, no GPU runtime, an image missing) before any trial started gives it back
(``NewSweep.discard``). Optuna is imported only here, and only when a sweep is created, run or read.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import math
import os
import stat
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from specgen.engine.events import Event, StatusLine, Verdict
from specgen.engine.records import ENV_NAME, LaunchError, RunRecord
from specgen.engine.slurm import SlurmOptions
from specgen.spec.atomicio import open_owned, write_text_atomic

if TYPE_CHECKING:
    from specgen.engine.backend import Backend

Direction = Literal["minimize", "maximize"]
DIRECTIONS: tuple[Direction, ...] = ("minimize", "maximize")
TRIAL_STATES = ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")
DISTRIBUTIONS = ("loguniform", "uniform", "int", "categorical")
#: The kpi keys a train run reports in status.json (facts §4): what a sweep can optimise.
OBJECTIVES = ("val/abs_rel", "val/d1", "val/d2", "val/d3", "val/loss", "train_loss")
#: More trials at once than this is a typo, not a plan (each one is a run with its own threads and files).
MAX_PARALLEL = 64
SQLITE_MAGIC = b"SQLite format 3\x00"
LOCK_NAME = ".sweep.lock"

#: TAO's automl ranges (valid_min / valid_max of nvidia-tao-core 7.3.0 ``config/depth_net/train.py``) for the keys
#: that mono depth reads (facts §10): always lr and weight_decay; the others where the spec's scheduler uses them.
AUTOML_RANGES: dict[str, tuple[str, float, float]] = {
    "train.optim.lr": ("loguniform", 1e-6, 1e-2),
    "train.optim.weight_decay": ("loguniform", 1e-6, 1e-2),
    "train.optim.lr_step_size": ("int", 1, 10000),
    "train.optim.lr_decay": ("uniform", 0.0, 1.0),
    "train.optim.min_lr": ("loguniform", 1e-8, 1e-3),
}
SCHEDULER_KEYS = {
    "StepLR": ("train.optim.lr_step_size", "train.optim.lr_decay"),
    "MultiStepLR": ("train.optim.lr_decay",),
    "MultiStep": ("train.optim.lr_decay",),
    "CustomMultiStepLRScheduler": ("train.optim.lr_decay",),
    "CosineAnnealingLR": ("train.optim.min_lr",),
}
PARAM_SYNTAX = (
    "use KEY=loguniform:LOW:HIGH, uniform:LOW:HIGH, int:LOW:HIGH or categorical:A,B,C "
    "(e.g. train.optim.lr=loguniform:1e-5:1e-3)"
)


class Param(BaseModel):
    key: str
    dist: Literal["loguniform", "uniform", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    choices: list[Any] = Field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> Param:
        """``KEY=DIST:LOW:HIGH`` or ``KEY=categorical:A,B,C`` (values read as YAML scalars: 4 → int, vitl → str).
        Raises ValueError with one line that names the flag's text and the fix."""
        from specgen.spec.safeyaml import load_text

        key, sep, rest = text.partition("=")
        key = key.strip()
        dist, _, args = rest.strip().partition(":")
        if not sep or not key or dist not in DISTRIBUTIONS:
            raise ValueError(f"--param {text!r}: {PARAM_SYNTAX}")
        if dist == "categorical":
            try:
                choices = [load_text(c.strip()) for c in args.split(",") if c.strip()]
            except ValueError:
                raise ValueError(
                    f"--param {text!r}: a choice is not a plain value; e.g. categorical:4,8"
                ) from None
            if len(choices) < 2:
                raise ValueError(f"--param {text!r}: give at least two choices, comma-separated")
            if len({json.dumps(c, sort_keys=True, default=str) for c in choices}) != len(choices):
                raise ValueError(f"--param {text!r}: a choice is given twice; give each once")
            return cls(key=key, dist="categorical", choices=choices)
        try:
            low_s, high_s = args.split(":")
            low, high = float(low_s), float(high_s)
        except ValueError:
            raise ValueError(
                f"--param {text!r}: {dist} needs LOW:HIGH numbers, e.g. {dist}:1e-5:1e-3"
            ) from None
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError(f"--param {text!r}: LOW and HIGH must be finite numbers")
        if dist == "int" and not (low.is_integer() and high.is_integer()):
            raise ValueError(f"--param {text!r}: int needs whole numbers, e.g. int:1:10")
        if not low < high or (dist == "loguniform" and low <= 0):
            raise ValueError(
                f"--param {text!r}: need LOW < HIGH"
                + (" and LOW > 0 for loguniform" if dist == "loguniform" else "")
            )
        return cls.model_validate({"key": key, "dist": dist, "low": low, "high": high})

    def text(self) -> str:
        """The ``--param`` form (what the app's space editor shows and reads back through ``parse``)."""
        if self.dist == "categorical":
            return f"{self.key}=categorical:{','.join(str(c) for c in self.choices)}"
        low, high = self.low or 0.0, self.high or 0.0
        if self.dist == "int":
            return f"{self.key}=int:{int(low)}:{int(high)}"
        return f"{self.key}={self.dist}:{low:g}:{high:g}"

    def extremes(self) -> list[Any]:
        """The values a trial can be given at the edges of the space: each is checked against the schema before
        the sweep starts."""
        if self.dist == "categorical":
            return list(self.choices)
        if self.dist == "int":
            return [int(self.low or 0), int(self.high or 0)]
        return [self.low, self.high]

    def suggest(self, trial: Any) -> Any:
        if self.dist == "categorical":
            return trial.suggest_categorical(self.key, self.choices)
        if self.dist == "int":
            return trial.suggest_int(self.key, int(self.low or 0), int(self.high or 0))
        return trial.suggest_float(self.key, self.low, self.high, log=self.dist == "loguniform")


def format_params(params: dict[str, Any], digits: int = 4, short: bool = False) -> str:
    """``key=value, …`` for a trial's sampled values (floats to ``digits`` significant digits; ``short``: the last part
    of each key only)."""

    def one(key: str, value: Any) -> str:
        name = key.rsplit(".", 1)[-1] if short else key
        return f"{name}={value:.{digits}g}" if isinstance(value, float) else f"{name}={value}"

    return ", ".join(one(k, v) for k, v in params.items())


def default_space(data: dict[str, Any]) -> list[Param]:
    """TAO AutoML's search space for mono: lr and weight_decay, plus what the spec's scheduler reads."""
    from specgen.spec.keypaths import get_path_or_none

    scheduler = get_path_or_none(data, "train.optim.lr_scheduler") or "MultiStepLR"
    keys = ["train.optim.lr", "train.optim.weight_decay", *SCHEDULER_KEYS.get(scheduler, ())]
    return [
        Param(key=k, dist=AUTOML_RANGES[k][0], low=AUTOML_RANGES[k][1], high=AUTOML_RANGES[k][2])
        for k in keys
    ]


def parse_space(lines: list[str]) -> list[Param]:
    """``--param`` texts (or the app's editor, one per line; blank lines and ``#`` comments skipped) → the space;
    a key given twice is refused. Raises ValueError with one line."""
    params = [
        Param.parse(line.strip()) for line in lines if line.strip() and not line.lstrip().startswith("#")
    ]
    seen: set[str] = set()
    for p in params:
        if p.key in seen:
            raise ValueError(f"--param {p.key} is given twice; give each key once")
        seen.add(p.key)
    return params


def check_space(params: list[Param], data: dict[str, Any]) -> None:
    """Every searched key is a key of the train spec (a leaf, not a section), given once, and each value at the
    edges of its range makes a spec TAO's schema takes. Raises ValueError naming the key and the fix — before any
    trial is run, instead of N trials failing alike."""
    check_keys(params)
    check_values(params, data)


def check_keys(params: list[Param]) -> None:
    """The space's keys against the schema alone (no data, no files: answers at once)."""
    from specgen.spec.keypaths import all_paths, iter_fields, where_it_belongs
    from specgen.spec.schema import ExperimentSpec

    if not params:
        raise ValueError("the search space is empty: give at least one --param KEY=DIST:LOW:HIGH")
    sections = {path for path, _field, is_section in iter_fields(ExperimentSpec) if is_section}
    seen: set[str] = set()
    for p in params:
        if p.key in seen:
            raise ValueError(f"--param {p.key} is given twice; give each key once")
        seen.add(p.key)
        if p.key not in all_paths(ExperimentSpec):
            raise ValueError(
                f"--param {p.key}: not a key of the train spec; {where_it_belongs(ExperimentSpec, p.key)}"
            )
        if p.key in sections:
            raise ValueError(f"--param {p.key}: a section, not a value; search one of its keys")


def check_values(params: list[Param], data: dict[str, Any]) -> None:
    """Each value at the edges of the space, set into the spec, validates (the trial's file checks aside)."""
    from specgen.job.validate import errors, validate_data
    from specgen.spec.keypaths import set_path

    for p in params:
        for value in p.extremes():
            trial = copy.deepcopy(data)
            set_path(trial, p.key, value)
            spec, found = validate_data(trial, "train", check_files=False, allow_known_failure=True)
            bad = [f for f in errors(found) if f.path == p.key] or errors(found)
            if spec is None or bad:
                what = bad[0].message if bad else "the spec does not validate"
                fix = "give choices it takes" if p.dist == "categorical" else "narrow the range"
                raise ValueError(f"--param {p.key}: {value!r} is not a value it takes ({what}); {fix}")


def direction_for(objective: str) -> Direction | None:
    """Which way the objective is better (``specgen.data.metrics``, the one table of it): δ1–δ3 are maximised,
    abs_rel, rmse and the losses minimised; None for a kpi it does not know."""
    from specgen.data.metrics import higher_is_better

    better = higher_is_better(objective)
    return None if better is None else ("maximize" if better else "minimize")


def default_objective(data: dict[str, Any]) -> tuple[str, str]:
    """The kpi a sweep optimises when none is named, and why. A spec that validates reports TAO's evaluation metrics
    after each epoch (``val/abs_rel`` beside ``val/loss`` in status.json): the last abs_rel is the trained model's
    evaluation on held-out data. Without validation data only the training loss exists."""
    from specgen.spec.keypaths import get_path_or_none

    if get_path_or_none(data, "dataset.val_dataset.data_sources"):
        return "val/abs_rel", "the spec validates: TAO's evaluation metric abs_rel after the last epoch"
    return "train_loss", "the spec has no validation data, so the training loss is all a trial reports"


def choose_objective(
    objective: str | None, direction: str | None, data: dict[str, Any]
) -> tuple[str, Direction, str]:
    """The objective and its direction, and what was decided for the person (one line, "" when both were asked):
    the direction follows the objective unless given; an objective no table knows needs a direction."""
    said = []
    if not objective:
        objective, why = default_objective(data)
        said.append(f"objective: {objective} ({why}; --objective names another)")
    if direction:
        if direction not in DIRECTIONS:
            raise ValueError(f"--direction {direction!r}: use minimize or maximize")
        return objective, direction, "; ".join(said)  # narrowed to a Direction by the test above
    found = direction_for(objective)
    if found is None:
        raise ValueError(
            f"--objective {objective}: not a kpi depthnet knows the better side of (a train run reports "
            f"{', '.join(OBJECTIVES)}); give --direction minimize or maximize to use it anyway"
        )
    said.append(f"direction: {found} ({objective} is better {'higher' if found == 'maximize' else 'lower'})")
    return objective, found, "; ".join(said)


class SweepConfig(BaseModel):
    """What was asked (``sweep.json``): resume reads it back. ``env_names`` are the names of ``--env``: their values
    are secrets as often as not, so they stay in memory and in the trials' environment, never in this file."""

    study: str = "depthnet"
    trials: int = Field(ge=1)
    params: list[Param]
    objective: str = "val/loss"
    direction: Direction = "minimize"
    parallel: int = Field(1, ge=1, le=MAX_PARALLEL)
    backend: str | None = None
    gpus: str = "0"
    image: str | None = None
    network: str | None = None
    env_names: list[str] = Field(default_factory=list)
    slurm: SlurmOptions | None = None  # --backend slurm: each trial is one job with these options
    seed: int | None = None
    #: read from an older sweep.json that kept ``env`` values: resume rewrites the file with the names only
    had_env_values: bool = Field(default=False, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _names_only(cls, data: Any) -> Any:
        """An older sweep.json kept ``env`` as a dict with the values: its names are read, its values dropped."""
        if isinstance(data, dict) and isinstance(data.get("env"), dict):
            data = dict(data)
            old = data.pop("env")
            data.setdefault("env_names", list(old))
            data["had_env_values"] = bool(old)
        return data

    @field_validator("env_names")
    @classmethod
    def _valid_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not ENV_NAME.fullmatch(name):
                raise ValueError(
                    f"--env {name!r}: a name is letters, digits and _ (not starting with a digit)"
                )
        return names


def parse_env(items: list[str]) -> dict[str, str]:
    """``--env KEY=VALUE`` items → a dict, by the one parser and checker (``records.env_pairs``); a bad name, a
    control character in a value or a missing ``=`` is one ValueError line that never shows the value."""
    from specgen.engine.records import env_pairs

    try:
        return env_pairs(items)
    except LaunchError as exc:
        raise ValueError(str(exc)) from None


# --------------------------------------------------------------------------- the study


class StudyUnreadable(LaunchError):
    """study.db missing, empty, damaged or not a database: one line naming the file and the fix."""


def _restart_fix(folder: Path) -> str:
    return (
        f"restore it from a copy, or start a new sweep from its spec: depthnet sweep -e {folder / 'base.yaml'} "
        "--trials N --out NEW_FOLDER"
    )


def check_study_file(folder: Path) -> Path:
    """study.db as a regular SQLite file, checked without SQLite (which would create tables in an empty or missing
    file, and hang on a FIFO). Raises StudyUnreadable."""
    db = folder / "study.db"
    try:
        st = os.lstat(db)
    except FileNotFoundError:
        raise StudyUnreadable(
            f"{db} is missing: the record of this sweep's trials is gone; {_restart_fix(folder)}"
        ) from None
    except OSError as exc:
        raise StudyUnreadable(f"{db}: cannot be read ({exc.strerror}); check its permissions") from None
    if not stat.S_ISREG(st.st_mode):
        raise StudyUnreadable(
            f"{db} is not a regular file (a link, folder or device); {_restart_fix(folder)}"
        )
    if st.st_size == 0:
        raise StudyUnreadable(f"{db} is empty (0 bytes): the sweep's trials are lost; {_restart_fix(folder)}")
    try:
        fd = os.open(db, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            head = os.read(fd, len(SQLITE_MAGIC))
        finally:
            os.close(fd)
    except OSError as exc:
        raise StudyUnreadable(f"{db}: cannot be read ({exc.strerror}); check its permissions") from None
    if head != SQLITE_MAGIC:
        raise StudyUnreadable(f"{db} is not an SQLite database (damaged or replaced); {_restart_fix(folder)}")
    return db


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise LaunchError(
            "optuna is not installed, and depthnet sweep needs it: pip install 'optuna>=4.0' (a dependency of "
            "depthnet-tui: reinstall it with pip install depthnet-tui)"
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _sampler(optuna: Any, cfg: SweepConfig) -> Any:
    return optuna.samplers.TPESampler(seed=cfg.seed, n_startup_trials=min(4, max(1, cfg.trials // 3)))


def _pruner(optuna: Any) -> Any:
    return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)


def storage_url(folder: Path, *, read_only: bool = False) -> str:
    """SQLAlchemy's URL for study.db; read-only through SQLite's URI form (a reader never writes a table)."""
    from urllib.parse import quote

    path = (folder / "study.db").resolve()
    if read_only:
        return f"sqlite:///file:{quote(str(path))}?mode=ro&uri=true"
    return f"sqlite:///{path}"


def recover_journal(db: Path) -> bool:
    """Roll back the transaction a killed sweep left in ``study.db-journal`` (a *hot* journal), as any SQLite
    writer would on its next open; True when there was one. A read-only reader cannot do it — SQLite refuses it
    with "attempt to write a readonly database" — so ``sweep status`` after a ``kill -9`` asks for this first."""
    import sqlite3

    journal = db.with_name(db.name + "-journal")
    if not journal.is_file() or journal.is_symlink():
        return False
    with contextlib.closing(sqlite3.connect(db, timeout=10)) as con:
        con.execute(
            "SELECT count(*) FROM sqlite_master"
        ).fetchone()  # the first read rolls a hot journal back
    return True


def open_study(folder: Path, cfg: SweepConfig, *, read_only: bool = False) -> Any:
    """The study of an existing sweep folder — never a new one over a damaged or missing file (StudyUnreadable)."""
    db = check_study_file(folder)
    if read_only:
        with contextlib.suppress(Exception):  # the open below says what is wrong, if anything
            recover_journal(db)
    optuna = _optuna()
    try:
        return optuna.load_study(
            storage=storage_url(folder, read_only=read_only),
            study_name=cfg.study,
            sampler=_sampler(optuna, cfg),
            pruner=_pruner(optuna),
        )
    except KeyError:
        raise StudyUnreadable(
            f"{db} holds no study named {cfg.study!r} (sweep.json's); {_restart_fix(folder)}"
        ) from None
    except Exception as exc:  # noqa: BLE001 - sqlalchemy's DatabaseError, Optuna's schema-version RuntimeError …
        first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0][:160]
        if "version" in first and "optuna" in first.lower():
            raise StudyUnreadable(
                f"{db} was made by another Optuna version ({first}); upgrade it: optuna storage upgrade "
                f"--storage {storage_url(folder)}"
            ) from None
        raise StudyUnreadable(f"{db} is damaged ({first}); {_restart_fix(folder)}") from None


def load_config(folder: Path) -> SweepConfig:
    path = folder / "sweep.json"
    from specgen.spec.safeyaml import read_text_bounded

    try:
        return SweepConfig.model_validate_json(read_text_bounded(path))
    except FileNotFoundError:
        raise LaunchError(
            f"{folder} is not a sweep folder (no sweep.json); start one with `depthnet sweep -e SPEC "
            f"--trials N --out {folder}`"
        ) from None
    except (OSError, ValueError) as exc:
        raise LaunchError(
            f"{path}: not a readable sweep description ({exc.__class__.__name__}); {_restart_fix(folder)}"
        ) from None


def config_text(cfg: SweepConfig) -> str:
    return json.dumps(cfg.model_dump(), indent=2) + "\n"


def forget_env_values(folder: Path, cfg: SweepConfig) -> bool:
    """Rewrite an older sweep.json that held ``--env`` values with their names only. True when it did."""
    from specgen.spec.atomicio import write_text_atomic

    if not cfg.had_env_values:
        return False
    write_text_atomic(folder / "sweep.json", config_text(cfg), overwrite=True)
    cfg.had_env_values = False
    return True


class TrialRow(BaseModel):
    """One trial as Optuna records it (a row of ``sweep status`` and of the Sweep screen)."""

    number: int
    state: str  # one of TRIAL_STATES
    value: float | None
    params: dict[str, Any]
    results_dir: str | None
    run_id: str | None
    reason: str | None
    epochs: int
    intermediate: dict[str, float]


class BestTrial(BaseModel):
    number: int
    value: float
    params: dict[str, Any]


class SweepInfo(BaseModel):
    """A sweep folder read back: what was asked, every trial, the best so far."""

    study: str
    objective: str
    direction: Direction
    trials_asked: int
    trials: list[TrialRow]
    best: BestTrial | None

    def report(self) -> dict[str, Any]:
        """``depthnet sweep status --json``."""
        return self.model_dump(include={"study", "objective", "direction", "trials", "best"})

    def count(self, state: str) -> int:
        return sum(t.state == state for t in self.trials)


def trial_rows(folder: Path) -> SweepInfo:
    """The study and each trial as Optuna records it (read-only: study.db is never written by a reader)."""
    cfg = load_config(folder)
    study = open_study(folder, cfg, read_only=True)
    try:
        trials = study.get_trials(deepcopy=False)
    except Exception as exc:  # noqa: BLE001 - a page damaged past the header: sqlalchemy's DatabaseError
        raise StudyUnreadable(
            f"{folder / 'study.db'} is damaged ({exc.__class__.__name__}); {_restart_fix(folder)}"
        ) from None
    rows = [
        TrialRow(
            number=t.number,
            state=t.state.name,
            value=t.value,
            params=t.params,
            results_dir=t.user_attrs.get("results_dir"),
            run_id=t.user_attrs.get("run_id"),
            reason=t.user_attrs.get("reason"),
            epochs=len(t.intermediate_values),
            intermediate={str(k): v for k, v in sorted(t.intermediate_values.items())},
        )
        for t in trials
    ]
    complete = [t for t in rows if t.state == "COMPLETE" and isinstance(t.value, float)]
    best = None
    if complete:
        pick = max if cfg.direction == "maximize" else min
        b = pick(complete, key=lambda t: float(t.value or 0.0))
        best = BestTrial(number=b.number, value=float(b.value or 0.0), params=b.params)
    asked = cfg.model_dump(include={"study", "objective", "direction"})
    return SweepInfo(**asked, trials_asked=cfg.trials, trials=rows, best=best)


def best_results_dir(folder: Path) -> Path:
    """A results folder of its own for training the best trial's spec again: ``SWEEP_DIR/best``, or the first free
    ``best_2``, ``best_3`` … — never a trial's folder (that one is locked by, and holds, the trial's run)."""
    from specgen.spec.paths import free_path

    return Path(free_path(str(folder.resolve() / "best")))


def best_spec_text(folder: Path, results_dir: Path | None = None) -> str:
    """The best trial's spec as the trial ran it, with ``results_dir`` moved to a fresh folder
    (``best_results_dir``) so it can be run as it is, and a header that says where it came from."""
    from specgen.spec.render import SpecFileError, dump_yaml, read_yaml

    info = trial_rows(folder)
    if info.best is None:
        raise LaunchError(f"no trial of {folder} has completed yet: nothing to choose from")
    number = info.best.number
    spec = folder / "trials" / f"{number:04d}" / "spec.yaml"
    try:
        data = read_yaml(spec)
    except SpecFileError as exc:
        raise LaunchError(f"{spec}: the best trial's spec cannot be read ({exc})") from None
    results = results_dir or best_results_dir(folder)
    data["results_dir"] = str(results)
    params = format_params(info.best.params)
    header = (
        f"Best trial {number} of sweep {folder.resolve()} ({info.objective} {info.best.value:.6g}, "
        f"{info.direction}): {params}\n"
        f"Its results go to {results} (the trial's own stay in {spec.resolve().parent / 'results'})."
    )
    return dump_yaml(data, header)


def write_best(folder: Path, output: Path | None = None, *, force: bool = False) -> Path:
    """``sweep best``: the best trial's spec to ``output`` (default ``SWEEP_DIR/best.yaml``); an existing file is
    replaced only with ``force`` (RefusedOverwrite otherwise)."""
    from specgen.spec.atomicio import RefusedOverwrite, write_text_atomic

    path = output or folder / "best.yaml"
    if os.path.lexists(path) and not force:
        raise RefusedOverwrite(path)  # before the study is read: a refusal answers at once
    return write_text_atomic(path, best_spec_text(folder), overwrite=force)


# --------------------------------------------------------------------------- starting a sweep


@dataclass
class NewSweep:
    """A sweep folder this process created: ``discard`` removes exactly that (the folder, or what it put in an
    empty folder the person gave) when the sweep could not start."""

    folder: Path
    made_folder: bool

    def discard(self) -> None:
        import shutil

        if not self.folder.is_dir():
            return
        if self.made_folder:
            shutil.rmtree(self.folder, ignore_errors=True)
            return
        for entry in os.scandir(self.folder):  # an empty folder when we came: everything in it is ours
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def check_backend(cfg: SweepConfig) -> str:
    """The backend the trials will use, asked now: a refusal (no engine, no depth_net, no sbatch, nothing that
    starts here) is one LaunchError before anything is created. Returns its name."""
    from specgen.engine.backends import backend_class, choose_backend

    if cfg.backend and not backend_class(cfg.backend).offered():
        raise LaunchError(f"--backend {cfg.backend}: not available here (is sbatch on PATH?)")
    backend = choose_backend(cfg.backend, cfg.slurm)
    if not backend.starts:
        raise LaunchError(
            "no Docker engine answers and depth_net is not on PATH: a sweep's trials must start from here; "
            "start Docker, or use --backend local (inside TAO's container or venv) or --backend slurm"
        )
    return backend.name


def check_gpus(cfg: SweepConfig, backend: str) -> None:
    """GPUs asked by index must be this machine's, when NVML can tell (a scheduler's GPUs are the nodes')."""
    from specgen.engine import nvml
    from specgen.engine.backends import backend_class
    from specgen.job.gpus import parse_gpus

    try:
        ids = parse_gpus(cfg.gpus)
    except ValueError as exc:
        raise LaunchError(str(exc)) from None
    if not isinstance(ids, list) or not backend_class(backend).gpus_here:
        return
    found = [g.index for g in nvml.facts().gpus]
    missing = [i for i in ids if found and i not in found]
    if missing:
        raise LaunchError(
            f"--gpus {cfg.gpus}: no GPU {', '.join(map(str, missing))} here; this machine has "
            f"{', '.join(map(str, found))} (NVML)"
        )


def _check_out(folder: Path) -> bool:
    """Whether ``folder`` exists (as an empty folder); refuses one that holds a sweep or anything else."""
    if (folder / "sweep.json").exists():
        raise LaunchError(
            f"{folder} already holds a sweep: continue it with `depthnet sweep resume {folder}`, or choose another --out"
        )
    if not os.path.lexists(folder):
        return False
    if folder.is_symlink() or not folder.is_dir():
        raise LaunchError(f"--out {folder}: not a folder; give a new (or empty) folder for the sweep")
    if any(os.scandir(folder)):
        raise LaunchError(f"--out {folder}: holds other files; give a new (or empty) folder for the sweep")
    return True


def _check_spec(spec: Path, params: list[Param]) -> None:
    """The space's keys, then the spec (it runs as a train spec) and the space's values in it: LaunchError else.
    Its own frame, gone before Optuna's first import: Optuna keeps the tracebacks of its optional imports, and
    with them every frame up the stack, so a parsed spec held in the caller's frame would outlive the sweep."""
    from specgen.engine.runspec import SpecUnusable, load_run_spec

    try:
        check_keys(params)
    except ValueError as exc:
        raise LaunchError(str(exc)) from None
    try:
        run_spec = load_run_spec(str(spec), "train")
    except SpecUnusable as exc:
        lines = str(exc).splitlines() or ["it does not validate"]
        more = (
            f" (and {len(lines) - 1} more: depthnet validate {spec} --action train)" if len(lines) > 1 else ""
        )
        raise LaunchError(f"{spec}: not a train spec that can run: {lines[0]}{more}") from None
    try:
        check_values(params, run_spec.data)
    except ValueError as exc:
        raise LaunchError(str(exc)) from None


def create_sweep(folder: Path, spec: Path, cfg: SweepConfig) -> NewSweep:
    """Check everything a sweep needs, then create its folder whole: sweep.json, base.yaml and an empty study in
    study.db, built beside ``folder`` and renamed into place. Raises LaunchError (nothing created) when Optuna is
    missing, the spec cannot run, the space does not fit the spec, the backend refuses or the GPUs are not here.
    ``cfg.backend`` becomes the backend that answered, so every trial (and a resume) uses the same."""
    import shutil
    import tempfile

    from specgen.spec.safeyaml import read_text_bounded

    folder = Path(os.path.abspath(folder))
    existed = _check_out(folder)
    _check_spec(spec, cfg.params)
    cfg.backend = check_backend(cfg)
    check_gpus(cfg, cfg.backend)
    optuna = _optuna()  # last of the checks: the others answer without paying for its import
    text = read_text_bounded(spec)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.depthnet-new-", dir=folder.parent))
    try:
        os.chmod(staging, 0o755)
        for name, body in (("base.yaml", text), ("sweep.json", config_text(cfg))):
            write_text_atomic(staging / name, body)
        storage = optuna.storages.RDBStorage(storage_url(staging))
        optuna.create_study(storage=storage, study_name=cfg.study, direction=cfg.direction)
        storage.engine.dispose()  # no connection left open on the staging name
        try:
            os.rename(
                staging, folder
            )  # replaces an empty folder in one step; refuses one that filled meanwhile
        except OSError:
            raise LaunchError(
                f"--out {folder}: something appeared there meanwhile; give another folder"
            ) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return NewSweep(folder=folder, made_folder=not existed)


# --------------------------------------------------------------------------- running trials


class NotStarted(LaunchError):
    """The sweep's first launch was refused before any trial ran (the same would happen to every trial)."""


class SweepBusy(LaunchError):
    """Another process runs this sweep (its lock is held)."""


class Sweep:
    """Runs trials until the study holds ``cfg.trials`` finished ones; one trial per GPU slot at a time. ``env``:
    the values of ``cfg.env_names`` (from the command line or the environment), kept in memory only."""

    def __init__(
        self,
        folder: Path,
        cfg: SweepConfig,
        on_event: Callable[[str], None] | None = None,
        *,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.folder = folder
        self.cfg = cfg
        self.env = dict(env or {})
        self.say = on_event or (lambda _text: None)
        self.base = (folder / "base.yaml").resolve()
        self.study = open_study(folder, cfg)
        self._ask = threading.Lock()
        self._slots: list[str] = self._gpu_slots()
        self._started = threading.Event()  # a trial's run was started by this process, or an earlier one
        self._refused: str | None = None  # the first launch's refusal, when nothing had started

    def _gpu_slots(self) -> list[str]:
        """One slot per GPU chosen (never two trials on one GPU); all/none give ``parallel`` slots alike; never more
        slots than trials."""
        from specgen.engine.backends import backend_class
        from specgen.job.gpus import parse_gpus

        parallel = min(self.cfg.parallel, self.cfg.trials)
        if self.cfg.backend and not backend_class(self.cfg.backend).gpus_here:
            return ["0"] * parallel  # a scheduler (Slurm) places each job on its own GPU
        ids = parse_gpus(self.cfg.gpus)
        if ids == "all":  # every GPU NVML sees, one trial each; without NVML one trial on them all at a time
            from specgen.engine import nvml

            found = [g.index for g in nvml.facts().gpus]
            ids = found if found else ids
            if not found:
                return ["all"]
        if isinstance(ids, list):
            return [str(i) for i in ids][:parallel]
        return [ids] * parallel

    # ------------------------------------------------------------------ public

    def run(self) -> int:
        """Re-attach to trials left running, then fill up to ``cfg.trials``. Returns the number finished. Raises
        SweepBusy when another process runs it, NotStarted when the first launch was refused."""
        with self._lock():
            if any(t.user_attrs.get("run_id") for t in self.study.get_trials(deepcopy=False)):
                self._started.set()
            self.reattach()
            with ThreadPoolExecutor(
                max_workers=len(self._slots), thread_name_prefix="depthnet-trial"
            ) as pool:
                list(pool.map(self._worker, self._slots))
        if self._refused is not None and not self._started.is_set():
            raise NotStarted(f"the sweep did not start: {self._refused}")
        return self._finished()

    @contextlib.contextmanager
    def _lock(self) -> Any:
        """One process runs a sweep at a time (two would re-attach to the same trials and ask past N)."""
        import fcntl

        path = self.folder / LOCK_NAME
        fd = open_owned(path, mode=0o600)  # a regular file of ours, never through a link
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise SweepBusy(
                    f"{self.folder} is being run by another depthnet sweep; watch it with `depthnet sweep status "
                    f"{self.folder}` (or F3 in depthnet-tui)"
                ) from None
            yield
        finally:
            os.close(fd)

    def reattach(self) -> None:
        """Trials the database says are RUNNING (the sweep process died): follow those whose run goes on, judge those
        that ended meanwhile, mark as FAIL those whose run is lost."""
        optuna = _optuna()
        running = [
            t for t in self.study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.RUNNING
        ]
        threads = []
        for t in running:
            run_id = t.user_attrs.get("run_id")
            if not run_id:
                self._fail(t.number, "the sweep stopped before this trial's run was started")
                continue
            trial = optuna.trial.Trial(self.study, t._trial_id)
            th = threading.Thread(target=self._follow_existing, args=(trial, run_id), daemon=True)
            th.start()
            threads.append(th)
        for th in threads:
            th.join()

    # ------------------------------------------------------------------ internals

    def _finished(self) -> int:
        optuna = _optuna()
        states = (
            optuna.trial.TrialState.COMPLETE,
            optuna.trial.TrialState.PRUNED,
            optuna.trial.TrialState.FAIL,
        )
        return len(self.study.get_trials(deepcopy=False, states=states))

    def _worker(self, gpus: str) -> None:
        optuna = _optuna()
        while True:
            with self._ask:  # ask and count under one lock: never more than N trials
                if self._refused is not None and not self._started.is_set():
                    return  # the first launch was refused: every other would be too
                active = self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
                if self._finished() + len(active) >= self.cfg.trials:
                    return
                trial = self.study.ask()
            self._run_trial(trial, gpus)

    def _refuse(self, number: int, reason: str) -> None:
        """A launch refused (by preflight or the backend): the trial fails; when no trial has started yet, the sweep
        stops asking — the next trial would be refused the same way."""
        if not self._started.is_set() and self._refused is None:
            self._refused = reason
        self._fail(number, reason)

    def _run_trial(self, trial: Any, gpus: str) -> None:
        from specgen.engine.launch import RunOptions, prepare, start

        try:
            spec_path, results = self._write_trial_spec(trial)
        except (LaunchError, ValueError, OSError) as exc:
            self._fail(trial.number, f"its spec is not valid: {exc}")
            return
        opts = RunOptions(
            action="train",
            spec=str(spec_path),
            backend=self.cfg.backend,
            image=self.cfg.image,
            gpus=gpus,
            network=self.cfg.network,
            env=self.env,
            slurm=self.cfg.slurm,
        )
        try:
            prepared = prepare(opts)
            if prepared.problems:
                prepared.discard()
                self._refuse(trial.number, "; ".join(prepared.problems))
                return
            # known before the run starts: a sweep killed from here on leaves a trial that resume can find
            trial.set_user_attr("run_id", prepared.request.run_id)
            trial.set_user_attr("results_dir", str(results))
            record, backend = start(prepared, self.cfg.backend, slurm=self.cfg.slurm)
        except LaunchError as exc:
            self._refuse(trial.number, str(exc).splitlines()[0])
            return
        self._started.set()
        self.say(
            f"trial {trial.number} started: run {record.run_id} on GPU {gpus}, " + format_params(trial.params)
        )
        self._follow(trial, record, backend)

    def _write_trial_spec(self, trial: Any) -> tuple[Path, Path]:
        """The base spec with the sampled values and the trial's own results folder; validated before launch."""
        from specgen.engine.runspec import SpecUnusable, load_run_spec
        from specgen.spec.atomicio import write_text_atomic
        from specgen.spec.keypaths import set_path
        from specgen.spec.render import dump_yaml, read_yaml

        data = copy.deepcopy(read_yaml(self.base))
        for p in self.cfg.params:
            set_path(data, p.key, p.suggest(trial))
        folder = (self.folder / "trials" / f"{trial.number:04d}").resolve()
        results = folder / "results"
        data["results_dir"] = str(results)
        if isinstance(data.get("train"), dict):
            data["train"].pop("results_dir", None)  # the trial's folder, not the base spec's
        path = write_text_atomic(
            folder / "spec.yaml",
            dump_yaml(data, f"Trial {trial.number} of sweep {self.folder}"),
            overwrite=True,
        )
        try:
            load_run_spec(str(path), "train")
        except SpecUnusable as exc:
            raise ValueError(str(exc).splitlines()[0]) from None
        return path, results / "train"

    def _follow_existing(self, trial: Any, run_id: str) -> None:
        from specgen.engine import registry
        from specgen.engine.launch import backend_for

        try:
            record = registry.load(run_id)
            backend = backend_for(record)
        except (FileNotFoundError, LaunchError) as exc:
            self._fail(trial.number, f"lost: {exc}")
            return
        self.say(f"trial {trial.number}: re-attached to run {run_id}")
        self._follow(trial, record, backend)

    def _follow(self, trial: Any, record: RunRecord, backend: Backend | None) -> None:
        """The trial's run to its verdict, through the engine's one ``follow`` (lock, polling, run.json), reporting
        each epoch's objective to Optuna and stopping the run when the pruner says so."""
        from specgen.engine.monitor import follow

        pruned = threading.Event()
        reported: set[int] = set()

        def sink(event: Event) -> None:
            if isinstance(event, StatusLine) and isinstance(event.data.get("epoch"), int):
                value = event.kpi.get(self.cfg.objective)
                epoch = event.data["epoch"]
                if isinstance(value, (int, float)) and math.isfinite(value) and epoch not in reported:
                    reported.add(epoch)
                    trial.report(float(value), epoch)
                    if not pruned.is_set() and trial.should_prune() and backend is not None:
                        pruned.set()
                        self.say(
                            f"trial {trial.number} pruned at epoch {epoch} ({self.cfg.objective} {value:.4g})"
                        )
                        threading.Thread(target=_stop, args=(backend, record), daemon=True).start()

        verdict = asyncio.run(follow(record, backend, sink))
        self._tell(trial.number, verdict, pruned.is_set())

    def _tell(self, number: int, verdict: Verdict, pruned: bool) -> None:
        optuna = _optuna()
        if pruned:
            self.study._storage.set_trial_user_attr(self._trial_id(number), "reason", verdict.reason)
            self.study.tell(number, state=optuna.trial.TrialState.PRUNED)
            return
        value = verdict.kpi.get(self.cfg.objective)
        if not verdict.passed or not isinstance(value, (int, float)) or not math.isfinite(value):
            why = verdict.reason if not verdict.passed else f"it reported no finite {self.cfg.objective}"
            self._fail(number, why)
            return
        self.study.tell(number, float(value))
        self.say(f"trial {number} complete: {self.cfg.objective} {value:.4g}")

    def _fail(self, number: int, reason: str) -> None:
        optuna = _optuna()
        self.study._storage.set_trial_user_attr(self._trial_id(number), "reason", reason)
        self.study.tell(number, state=optuna.trial.TrialState.FAIL)
        self.say(f"trial {number} failed: {reason}")

    def _trial_id(self, number: int) -> int:
        return next(t._trial_id for t in self.study.get_trials(deepcopy=False) if t.number == number)


def _stop(backend: Backend, record: RunRecord) -> None:
    from specgen.engine.launch import stop
    from specgen.engine.records import BY_SWEEP

    try:
        stop(
            record, 5, by=BY_SWEEP, backend=backend
        )  # run.json says who: the verdict is "stopped by the sweep"
    except Exception:  # noqa: BLE001 - already ended: the verdict says so
        pass


def env_values(
    names: list[str], given: Mapping[str, str], environ: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """The values for a sweep's ``--env`` names: given now (``--env`` on resume) or from the environment. Returns
    (values, the names found nowhere)."""
    values = {n: given[n] if n in given else environ[n] for n in names if n in given or n in environ}
    return values, [n for n in names if n not in values]


def spawn_runner(folder: Path) -> Any:
    """Run ``depthnet sweep resume FOLDER`` in its own session (it outlives the app that started it, as a run
    does), its messages in ``FOLDER/sweep.log``. Returns the Popen."""
    import subprocess
    import sys

    log = open_owned(folder / "sweep.log")  # a regular file of ours, written on at its end
    os.lseek(log, 0, os.SEEK_END)
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "specgen.cli", "sweep", "resume", str(folder)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    finally:
        os.close(log)


def started_trials(folder: Path) -> int:
    """How many trials of a sweep have a run (read-only; 0 while study.db cannot be read)."""
    try:
        return sum(t.run_id is not None for t in trial_rows(folder).trials)
    except LaunchError:
        return 0


__all__ = [
    "AUTOML_RANGES",
    "DIRECTIONS",
    "OBJECTIVES",
    "TRIAL_STATES",
    "BestTrial",
    "NewSweep",
    "NotStarted",
    "Param",
    "StudyUnreadable",
    "Sweep",
    "SweepBusy",
    "SweepConfig",
    "SweepInfo",
    "TrialRow",
    "best_results_dir",
    "best_spec_text",
    "check_space",
    "choose_objective",
    "create_sweep",
    "default_space",
    "direction_for",
    "env_values",
    "format_params",
    "load_config",
    "open_study",
    "parse_env",
    "parse_space",
    "spawn_runner",
    "trial_rows",
    "write_best",
]
