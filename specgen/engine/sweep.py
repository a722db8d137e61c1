"""Hyper-parameter sweeps on Optuna: the study in ``SWEEP_DIR/study.db`` (SQLite), TPE sampling, median pruning fed
from each trial's status.json epoch lines as they arrive, one trial per GPU slot, every trial an ordinary run
(launched, followed and judged like ``depthnet run``), and a resume that re-attaches to trials still running.

Layout of a sweep folder: ``sweep.json`` (what was asked), ``base.yaml`` (the spec it starts from), ``study.db``,
``trials/NNNN/spec.yaml`` and ``trials/NNNN/results/`` per trial.
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from specgen.engine.events import Event, StatusLine, Verdict
from specgen.engine.records import LaunchError, RunRecord
from specgen.engine.slurm import SlurmOptions

if TYPE_CHECKING:
    from specgen.engine.backend import Backend

Direction = Literal["minimize", "maximize"]
TRIAL_STATES = ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")

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


class Param(BaseModel):
    key: str
    dist: Literal["loguniform", "uniform", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    choices: list[Any] = Field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> Param:
        """``KEY=DIST:LOW:HIGH`` or ``KEY=categorical:A,B,C`` (values read as YAML scalars: 4 → int, vitl → str)."""
        from specgen.spec.safeyaml import load_text

        key, sep, rest = text.partition("=")
        dist, _, args = rest.partition(":")
        if not sep or not key.strip() or dist not in ("loguniform", "uniform", "int", "categorical"):
            raise ValueError(
                f"--param {text!r}: use KEY=loguniform:LOW:HIGH, uniform:LOW:HIGH, int:LOW:HIGH or "
                "categorical:A,B,C (e.g. train.optim.lr=loguniform:1e-5:1e-3)"
            )
        if dist == "categorical":
            choices = [load_text(c.strip()) for c in args.split(",") if c.strip()]
            if len(choices) < 2:
                raise ValueError(f"--param {text!r}: give at least two choices, comma-separated")
            return cls(key=key.strip(), dist="categorical", choices=choices)
        try:
            low_s, high_s = args.split(":")
            low, high = float(low_s), float(high_s)
        except ValueError:
            raise ValueError(
                f"--param {text!r}: {dist} needs LOW:HIGH numbers, e.g. {dist}:1e-5:1e-3"
            ) from None
        if not (
            math.isfinite(low) and math.isfinite(high)
        ):  # Optuna's sampler overflows on ±inf, never samples NaN
            raise ValueError(f"--param {text!r}: LOW and HIGH must be finite numbers, e.g. {dist}:1e-5:1e-3")
        if dist == "int" and not (low.is_integer() and high.is_integer()):
            raise ValueError(f"--param {text!r}: int needs whole numbers, e.g. int:1:8")
        if not low < high or (dist == "loguniform" and low <= 0):
            raise ValueError(
                f"--param {text!r}: need LOW < HIGH"
                + (" and LOW > 0 for loguniform" if dist == "loguniform" else "")
            )
        return cls.model_validate({"key": key.strip(), "dist": dist, "low": low, "high": high})

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


def default_objective(data: dict[str, Any]) -> tuple[str, str]:
    """The kpi a sweep minimises when none is named, and why. A spec that validates reports TAO's evaluation metrics
    after each epoch (``val/abs_rel`` beside ``val/loss`` in status.json): the last abs_rel is the trained model's
    evaluation on held-out data. Without validation data only the training loss exists."""
    from specgen.spec.keypaths import get_path_or_none

    if get_path_or_none(data, "dataset.val_dataset.data_sources"):
        return "val/abs_rel", "the spec validates: TAO's evaluation metric abs_rel after the last epoch"
    return "train_loss", "the spec has no validation data, so the training loss is all a trial reports"


class SweepConfig(BaseModel):
    """What was asked (``sweep.json``): resume reads it back."""

    study: str = "depthnet"
    trials: int = Field(ge=1)
    params: list[Param]
    objective: str = "val/loss"
    direction: Direction = "minimize"
    parallel: int = Field(1, ge=1)
    backend: str | None = None
    gpus: str = "0"
    image: str | None = None
    network: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    slurm: SlurmOptions | None = None  # --backend slurm: each trial is one job with these options
    seed: int | None = None


# --------------------------------------------------------------------------- the study


def storage_url(folder: Path) -> str:
    return f"sqlite:///{(folder / 'study.db').resolve()}"


def open_study(folder: Path, cfg: SweepConfig, *, create: bool) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=cfg.seed, n_startup_trials=min(4, max(1, cfg.trials // 3)))
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    if create:
        return optuna.create_study(
            storage=storage_url(folder),
            study_name=cfg.study,
            direction=cfg.direction,
            sampler=sampler,
            pruner=pruner,
            load_if_exists=True,
        )
    return optuna.load_study(
        storage=storage_url(folder), study_name=cfg.study, sampler=sampler, pruner=pruner
    )


def load_config(folder: Path) -> SweepConfig:
    path = folder / "sweep.json"
    try:
        return SweepConfig.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LaunchError(
            f"{folder} is not a sweep folder (no sweep.json); start one with `depthnet sweep -e SPEC "
            f"--trials N --out {folder}`"
        ) from None
    except (OSError, ValueError) as exc:
        raise LaunchError(f"{path}: not a readable sweep description ({exc.__class__.__name__})") from None


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
    """The study and each trial as Optuna records it."""
    cfg = load_config(folder)
    study = open_study(folder, cfg, create=False)
    trials = study.get_trials(deepcopy=False)
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
    best = None
    if any(t.state.name == "COMPLETE" for t in trials):
        b = study.best_trial
        best = BestTrial(number=b.number, value=b.value, params=b.params)
    asked = cfg.model_dump(include={"study", "objective", "direction"})
    return SweepInfo(**asked, trials_asked=cfg.trials, trials=rows, best=best)


def best_spec_text(folder: Path) -> str:
    """The best trial's spec (as the trial ran it), with a header that says where it came from."""
    info = trial_rows(folder)
    if info.best is None:
        raise LaunchError(f"no trial of {folder} has completed yet: nothing to choose from")
    number = info.best.number
    spec = folder / "trials" / f"{number:04d}" / "spec.yaml"
    try:
        body = spec.read_text(encoding="utf-8")
    except OSError as exc:
        raise LaunchError(f"{spec}: the best trial's spec cannot be read ({exc.strerror})") from None
    params = format_params(info.best.params)
    return (
        f"# Best trial {number} of sweep {folder} ({info.objective} {info.best.value:.6g}, "
        f"{info.direction}): {params}\n"
    ) + body


# --------------------------------------------------------------------------- running trials


class Sweep:
    """Runs trials until the study holds ``cfg.trials`` finished ones; one trial per GPU slot at a time."""

    def __init__(self, folder: Path, cfg: SweepConfig, on_event: Callable[[str], None] | None = None) -> None:
        self.folder = folder
        self.cfg = cfg
        self.say = on_event or (lambda _text: None)
        self.base = (folder / "base.yaml").resolve()
        self.study = open_study(folder, cfg, create=True)
        self._ask = threading.Lock()
        self._slots: list[str] = self._gpu_slots()

    def _gpu_slots(self) -> list[str]:
        """One slot per GPU chosen (never two trials on one GPU); all/none give ``parallel`` slots alike."""
        from specgen.engine.backends import backend_class
        from specgen.job.gpus import parse_gpus

        if self.cfg.backend and not backend_class(self.cfg.backend).gpus_here:
            return ["0"] * self.cfg.parallel  # a scheduler (Slurm) places each job on its own GPU
        ids = parse_gpus(self.cfg.gpus)
        if ids == "all":  # every GPU NVML sees, one trial each; without NVML one trial on them all at a time
            from specgen.engine import nvml

            found = [g.index for g in nvml.facts().gpus]
            ids = found if found else ids
            if not found:
                return ["all"]
        if isinstance(ids, list):
            return (
                [str(i) for i in ids][: self.cfg.parallel]
                if self.cfg.parallel < len(ids)
                else [str(i) for i in ids]
            )
        return [ids] * self.cfg.parallel

    # ------------------------------------------------------------------ public

    def run(self) -> int:
        """Re-attach to trials left running, then fill up to ``cfg.trials``. Returns the number finished."""
        self.reattach()
        with ThreadPoolExecutor(max_workers=len(self._slots), thread_name_prefix="depthnet-trial") as pool:
            list(pool.map(self._worker, self._slots))
        return self._finished()

    def reattach(self) -> None:
        """Trials the database says are RUNNING (the sweep process died): follow those whose run goes on, judge those
        that ended meanwhile, mark as FAIL those whose run is lost."""
        import optuna

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
        import optuna

        states = (
            optuna.trial.TrialState.COMPLETE,
            optuna.trial.TrialState.PRUNED,
            optuna.trial.TrialState.FAIL,
        )
        return len(self.study.get_trials(deepcopy=False, states=states))

    def _worker(self, gpus: str) -> None:
        import optuna

        while True:
            with self._ask:  # ask and count under one lock: never more than N trials
                active = self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
                if self._finished() + len(active) >= self.cfg.trials:
                    return
                trial = self.study.ask()
            self._run_trial(trial, gpus)

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
            env=self.cfg.env,
            slurm=self.cfg.slurm,
        )
        try:
            prepared = prepare(opts)
            if prepared.problems:
                prepared.discard()
                self._fail(trial.number, "; ".join(prepared.problems))
                return
            # known before the run starts: a sweep killed from here on leaves a trial that resume can find
            trial.set_user_attr("run_id", prepared.request.run_id)
            trial.set_user_attr("results_dir", str(results))
            record, backend = start(prepared, self.cfg.backend, slurm=self.cfg.slurm)
        except LaunchError as exc:
            self._fail(trial.number, str(exc).splitlines()[0])
            return
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
            dump_yaml(data, f"# Trial {trial.number} of {self.folder}\n"),
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
        import optuna

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
        import optuna

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


def start_sweep(folder: Path, spec: Path, cfg: SweepConfig, *, overwrite: bool = False) -> None:
    """Create the sweep folder (sweep.json + base.yaml) — or refuse one that holds another sweep."""
    from specgen.spec.atomicio import write_set
    from specgen.spec.safeyaml import read_text_bounded

    if (folder / "sweep.json").exists() and not overwrite:
        raise LaunchError(
            f"{folder} already holds a sweep: continue it with `depthnet sweep resume {folder}`, or "
            "choose another --out"
        )
    text = read_text_bounded(spec)
    folder.mkdir(parents=True, exist_ok=True)
    write_set(folder, {"base.yaml": text, "sweep.json": json.dumps(cfg.model_dump(), indent=2) + "\n"})


__all__ = [
    "AUTOML_RANGES",
    "TRIAL_STATES",
    "BestTrial",
    "Param",
    "Sweep",
    "SweepConfig",
    "SweepInfo",
    "TrialRow",
    "best_spec_text",
    "default_space",
    "format_params",
    "load_config",
    "start_sweep",
    "trial_rows",
]
