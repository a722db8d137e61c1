"""``depthnet sweep``: Optuna trials over the GPUs (or Slurm) you have; ``sweep status | best | resume``.

Exit codes as elsewhere: 0 the sweep finished its trials (some may have failed or been pruned), 1 none completed or
a problem in the input, 2 usage. Every input is checked before the sweep folder is made, so a refused start leaves
nothing behind; ``--env`` values stay in memory (sweep.json keeps their names, resume reads the values again)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from specgen.cli.common import EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, _err, _print_json, apply_settings
from specgen.spec.names import BACKEND_NAMES

#: A sweep's trials must start where they are launched: the script backend only writes a run.sh to run by hand.
SWEEP_BACKENDS = tuple(name for name in BACKEND_NAMES if name != "script")
#: More trials than any GPU budget runs (each is a training run): a larger number is a typo, not a plan.
MAX_TRIALS = 10_000
MAX_PARALLEL = 64  # as specgen.engine.sweep.MAX_PARALLEL (the parser stays free of the engine's imports)


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "sweep",
        help="hyper-parameter sweep of train on Optuna (study in SWEEP_DIR/study.db)",
        description="Run N training trials, sampled by Optuna's TPE, one per GPU at a time; bad "
        "trials are pruned from their per-epoch validation; `sweep resume` continues "
        "after a crash or SSH drop.",
    )
    s.add_argument("-e", "--spec", help="the train spec to start from")
    s.add_argument("--trials", type=int, help="how many trials in all (finished, pruned and failed count)")
    s.add_argument(
        "--out", help="the sweep folder, new or empty (study.db, sweep.json, one folder per trial)"
    )
    s.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=DIST:LOW:HIGH",
        help="a searched key: loguniform|uniform|int:LOW:HIGH or categorical:A,B (repeatable; default: "
        "TAO AutoML's ranges of lr, weight_decay and what the scheduler reads)",
    )
    s.add_argument(
        "--objective",
        default=None,
        help="the kpi to optimise (default: val/abs_rel when the spec validates, else train_loss)",
    )
    s.add_argument(
        "--direction",
        choices=("minimize", "maximize"),
        default=None,
        help="of the objective (default: follows it — val/d1..d3 maximise, abs_rel and losses minimise)",
    )
    s.add_argument(
        "--parallel", type=int, default=None, help="trials at once (default: one per GPU of --gpus)"
    )
    s.add_argument(
        "--backend",
        choices=SWEEP_BACKENDS,
        help="where trials run (as depthnet run)",
    )
    s.add_argument(
        "--gpus",
        help="GPUs to spread trials over, one trial per GPU (0,1 | all | none; default 0, or the setting)",
    )
    s.add_argument("--image", help="container image for the trials")
    s.add_argument("--network", help="docker network mode for the trials (e.g. none)")
    s.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="environment for every trial (values never saved: sweep.json keeps the names)",
    )
    s.add_argument("--study", default="depthnet", help="study name inside study.db")
    g = s.add_argument_group(
        "slurm", "with --backend slurm: each trial is one job (as depthnet run --backend slurm)"
    )
    g.add_argument("--partition", help="sbatch --partition")
    g.add_argument("--account", help="sbatch --account")
    g.add_argument("--gpus-per-node", type=int, default=1, help="GPUs per trial (default 1)")
    g.add_argument("--time", help="time limit per trial, e.g. 2:00:00")
    g.add_argument(
        "--container-runtime",
        choices=("pyxis", "apptainer", "none"),
        default="pyxis",
        help="pyxis, apptainer, or none (depth_net on the nodes)",
    )
    g.add_argument("--sbatch-arg", action="append", default=[], metavar="ARG", help="one more sbatch option")
    s.add_argument("--seed", type=int, help="sampler seed (repeatable sweeps)")
    s.set_defaults(func=cmd_sweep)
    verbs = s.add_subparsers(dest="sweep_command", required=False, metavar="{status,best,resume}")
    st = verbs.add_parser("status", help="trials with state, objective, params")
    st.add_argument("folder", help="the sweep folder")
    st.add_argument("--json", action="store_true", help="print JSON")
    st.set_defaults(func=cmd_status)
    b = verbs.add_parser("best", help="write the best trial's spec, ready to run (results in a fresh folder)")
    b.add_argument("folder", help="the sweep folder")
    b.add_argument("-o", "--output", help="where to write the spec (default: SWEEP_DIR/best.yaml)")
    b.add_argument("--force", action="store_true", help="replace an existing file")
    b.set_defaults(func=cmd_best)
    r = verbs.add_parser("resume", help="re-attach to running trials, mark lost ones failed, continue to N")
    r.add_argument("folder", help="the sweep folder")
    r.add_argument(
        "--env",
        action="append",
        default=[],
        dest="resume_env",
        metavar="KEY=VALUE",
        help="a value for one of the sweep's --env names (else read from the environment)",
    )
    r.set_defaults(func=cmd_resume)


def _say(text: str) -> None:
    print(f"sweep: {text}", file=sys.stderr, flush=True)


def _usage_problem(args: argparse.Namespace) -> str | None:
    """What the command line itself gets wrong, before anything is read."""
    missing = [
        flag
        for flag, value in (("-e/--spec", args.spec), ("--trials", args.trials), ("--out", args.out))
        if value is None
    ]
    if missing:
        return f"sweep needs {', '.join(missing)} (or a verb: sweep status|best|resume SWEEP_DIR)"
    if args.trials < 1:
        return f"--trials {args.trials}: give at least 1 trial"
    if args.parallel is not None and not 1 <= args.parallel <= MAX_PARALLEL:
        return f"--parallel {args.parallel}: give 1 to {MAX_PARALLEL} trials at once"
    return None


def cmd_sweep(args: argparse.Namespace) -> int:
    problem = _usage_problem(args)
    if problem:
        _err(problem)
        return EXIT_USAGE
    from specgen.engine.records import LaunchError
    from specgen.engine.sweep import (
        SweepConfig,
        choose_objective,
        create_sweep,
        default_space,
        parse_env,
        parse_space,
    )
    from specgen.job.gpus import parse_gpus
    from specgen.spec.render import SpecFileError, read_yaml

    try:
        params = parse_space(args.param)
        env = parse_env(args.env)
    except ValueError as exc:
        _err(str(exc))
        return EXIT_USAGE
    if not 1 <= args.trials <= MAX_TRIALS or (args.parallel is not None and args.parallel < 1):
        _err(
            f"--trials {args.trials}: give 1 to {MAX_TRIALS:,} trials"
            if not 1 <= args.trials <= MAX_TRIALS
            else f"--parallel {args.parallel}: at least 1 trial at a time"
        )
        return EXIT_USAGE
    apply_settings(args, SWEEP_BACKENDS)  # a bad setting is said by the dispatcher
    try:
        ids = parse_gpus(args.gpus)
    except ValueError as exc:
        _err(str(exc))
        return EXIT_USAGE
    try:
        data = read_yaml(args.spec)
    except SpecFileError as exc:
        _err(str(exc))
        return EXIT_PROBLEM
    params = params or default_space(data)
    try:
        objective, direction, said = choose_objective(args.objective, args.direction, data)
    except ValueError as exc:
        _err(str(exc))
        return EXIT_USAGE
    if said:
        _say(said)
    parallel = args.parallel or (len(ids) if isinstance(ids, list) else 1)
    slurm = None
    if args.backend == "slurm":
        from specgen.engine.slurm import SlurmOptions

        try:
            slurm = SlurmOptions(
                partition=args.partition,
                account=args.account,
                gpus_per_node=args.gpus_per_node,
                time=args.time,
                container_runtime=args.container_runtime,
                image=args.image,
                sbatch_args=args.sbatch_arg,
            )
            slurm.check()
        except (ValueError, LaunchError) as exc:
            _err(f"slurm options: {str(exc).splitlines()[0]}")
            return EXIT_USAGE
    cfg = SweepConfig(
        study=args.study,
        trials=args.trials,
        params=params,
        objective=objective,
        direction=direction,
        parallel=min(parallel, MAX_PARALLEL),
        backend=args.backend,
        gpus=args.gpus,
        image=args.image,
        network=args.network,
        env_names=list(env),
        slurm=slurm,
        seed=args.seed,
    )
    new = create_sweep(Path(args.out), Path(args.spec), cfg)  # a refusal is a LaunchError: nothing was made
    folder = new.folder
    _say(
        f"{cfg.trials} trials of {', '.join(p.key for p in params)} → {folder}/study.db "
        f"({cfg.objective}, {cfg.direction}, {min(cfg.parallel, cfg.trials)} at a time, backend {cfg.backend})"
    )
    return _run(folder, env, fresh=new)


def _run(folder: Path, env: dict[str, str], fresh: object | None = None) -> int:
    """Run the sweep to N trials. ``fresh``: the NewSweep this command made, given back when the first launch is
    refused before any trial started (nothing half-made is left)."""
    from specgen.engine.sweep import NewSweep, NotStarted, Sweep, load_config, started_trials, trial_rows

    cfg = load_config(folder)
    sweep = Sweep(folder, cfg, on_event=_say, env=env)
    try:
        sweep.run()
    except BaseException as exc:
        if isinstance(fresh, NewSweep) and started_trials(folder) == 0:
            fresh.discard()
            if isinstance(exc, NotStarted):
                _err(f"{exc} ({folder} was not kept)")
                return EXIT_PROBLEM
        raise
    info = trial_rows(folder)
    _say(", ".join(f"{info.count(s)} {s.lower()}" for s in ("COMPLETE", "PRUNED", "FAIL")))
    if info.best is None:
        _err("no trial completed: see `depthnet sweep status " + str(folder) + "` for their reasons")
        return EXIT_PROBLEM
    b = info.best
    _say(
        f"best: trial {b.number} ({cfg.objective} {b.value:.6g}); write its spec with "
        f"`depthnet sweep best {folder}` (→ {folder}/best.yaml)"
    )
    return EXIT_OK


def _resume_env(names: list[str], given: dict[str, str]) -> dict[str, str] | None:
    """The values for the sweep's ``--env`` names: ``--env`` on resume, then the environment, then (at a terminal)
    asked for without echo. None, after saying which are missing, when some cannot be had."""
    from specgen.engine.sweep import env_values

    values, missing = env_values(names, given, os.environ)
    if missing and sys.stdin.isatty():
        import getpass

        for name in missing:
            values[name] = getpass.getpass(f"sweep: value for {name} (not echoed): ")
        missing = []
    if missing:
        _err(
            f"the sweep's trials need {', '.join(missing)} (their values are never saved): export "
            f"{'them' if len(missing) > 1 else 'it'} or pass --env NAME=VALUE to sweep resume"
        )
        return None
    if values:
        _say(f"--env for every trial: {', '.join(values)} (values from this command or the environment)")
    return values


def cmd_resume(args: argparse.Namespace) -> int:
    from specgen.engine.sweep import forget_env_values, load_config, parse_env, trial_rows

    folder = Path(args.folder)
    try:
        given = parse_env([*args.env, *args.resume_env])
    except ValueError as exc:
        _err(str(exc))
        return EXIT_USAGE
    cfg = load_config(folder)
    trial_rows(folder)  # read whole first: never a new study over a damaged or missing one (said by main)
    if forget_env_values(folder, cfg):
        _say(f"{folder}/sweep.json held --env values (an older depthnet): rewritten with their names only")
    env = _resume_env(cfg.env_names, given)
    if env is None:
        return EXIT_PROBLEM
    return _run(folder, env)


def cmd_status(args: argparse.Namespace) -> int:
    from specgen.engine.sweep import format_params, trial_rows

    info = trial_rows(Path(args.folder))
    if args.json:
        _print_json(info.report())
        return EXIT_OK
    print(
        f"study {info.study}: {len(info.trials)} of {info.trials_asked} trials, {info.objective} "
        f"({info.direction})"
    )
    for t in info.trials:
        value = f"{t.value:.6g}" if isinstance(t.value, float) else "-"
        params = format_params(t.params, digits=3)
        why = f"  ({t.reason})" if t.reason and t.state in ("FAIL", "PRUNED") else ""
        print(f"{t.number:>4} {t.state:<9} {value:>10}  {params}{why}")
    return EXIT_OK


def cmd_best(args: argparse.Namespace) -> int:
    from specgen.engine.sweep import write_best
    from specgen.spec.atomicio import RefusedOverwrite

    folder = Path(args.folder)
    try:
        path = write_best(folder, Path(args.output) if args.output else None, force=args.force)
    except RefusedOverwrite as exc:
        _err(f"{exc.path} exists; pass --force to replace it")
        return EXIT_PROBLEM
    print(f"wrote {path}")
    print(f"run it: depthnet run train -e {path}")
    return EXIT_OK
