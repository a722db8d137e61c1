"""``depthnet sweep``: Optuna trials over the GPUs (or Slurm) you have; ``sweep status | best | resume``.

Exit codes as elsewhere: 0 the sweep finished its trials (some may have failed or been pruned), 1 none completed or
a problem in the input, 2 usage."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from specgen.cli.common import EXIT_OK, EXIT_PROBLEM, EXIT_USAGE, _err, _print_json, apply_settings
from specgen.spec.names import BACKEND_NAMES

#: A sweep's trials must start where they are launched: the script backend only writes a run.sh to run by hand.
SWEEP_BACKENDS = tuple(name for name in BACKEND_NAMES if name != "script")
#: More trials than any GPU budget runs (each is a training run): a larger number is a typo, not a plan.
MAX_TRIALS = 10_000


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
    s.add_argument("--out", help="the sweep folder (study.db, sweep.json, one folder per trial)")
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
        "--direction", choices=("minimize", "maximize"), default="minimize", help="of the objective"
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
        "--env", action="append", default=[], metavar="KEY=VALUE", help="environment for every trial"
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
    b = verbs.add_parser("best", help="write the best trial's spec")
    b.add_argument("folder", help="the sweep folder")
    b.add_argument("-o", "--output", required=True, help="where to write the spec")
    b.add_argument("--force", action="store_true", help="replace an existing file")
    b.set_defaults(func=cmd_best)
    r = verbs.add_parser("resume", help="re-attach to running trials, mark lost ones failed, continue to N")
    r.add_argument("folder", help="the sweep folder")
    r.set_defaults(func=cmd_resume)


def _say(text: str) -> None:
    print(f"sweep: {text}", file=sys.stderr, flush=True)


def cmd_sweep(args: argparse.Namespace) -> int:
    from specgen.engine.records import LaunchError, env_pairs
    from specgen.engine.sweep import Param, SweepConfig, default_objective, default_space, start_sweep
    from specgen.job.gpus import parse_gpus
    from specgen.spec.render import SpecFileError, read_yaml

    missing = [
        flag
        for flag, value in (("-e/--spec", args.spec), ("--trials", args.trials), ("--out", args.out))
        if value is None
    ]
    if missing:
        _err(f"sweep needs {', '.join(missing)} (or a verb: sweep status|best|resume SWEEP_DIR)")
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
        params = [Param.parse(p) for p in args.param]
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
    from specgen.spec.keypaths import all_paths, where_it_belongs
    from specgen.spec.schema import ExperimentSpec

    unknown = [p.key for p in params if p.key not in set(all_paths(ExperimentSpec))]
    if unknown:  # else every trial would run, each failing on the key TAO rejects
        _err(
            f"--param {unknown[0]}: not a key of the train spec; {where_it_belongs(ExperimentSpec, unknown[0])}"
        )
        return EXIT_USAGE
    parallel = args.parallel or (len(ids) if isinstance(ids, list) else 1)
    env = env_pairs(args.env)  # names and values checked (a LaunchError, said by the dispatcher)
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
            _err(f"slurm options: {exc}")
            return EXIT_USAGE
    objective, why = (args.objective, "asked") if args.objective else default_objective(data)
    if not args.objective:
        _say(f"objective: {objective} ({why}; --objective names another)")
    cfg = SweepConfig(
        study=args.study,
        trials=args.trials,
        params=params,
        objective=objective,
        direction=args.direction,
        parallel=parallel,
        backend=args.backend,
        gpus=args.gpus,
        image=args.image,
        network=args.network,
        env=env,
        slurm=slurm,
        seed=args.seed,
    )
    folder = Path(args.out)
    start_sweep(folder, Path(args.spec), cfg)  # a LaunchError is said by the CLI's dispatcher
    _say(
        f"{cfg.trials} trials of {', '.join(p.key for p in params)} → {folder}/study.db "
        f"({cfg.objective}, {cfg.direction}, {parallel} at a time)"
    )
    return _run(folder)


def _run(folder: Path) -> int:
    from specgen.engine.sweep import Sweep, load_config, trial_rows

    cfg = load_config(folder)
    Sweep(folder, cfg, on_event=_say).run()
    info = trial_rows(folder)
    _say(", ".join(f"{info.count(s)} {s.lower()}" for s in ("COMPLETE", "PRUNED", "FAIL")))
    if info.best is None:
        _err("no trial completed: see `depthnet sweep status " + str(folder) + "` for their reasons")
        return EXIT_PROBLEM
    b = info.best
    _say(
        f"best: trial {b.number} ({cfg.objective} {b.value:.6g}); write its spec with "
        f"`depthnet sweep best {folder} -o best.yaml`"
    )
    return EXIT_OK


def cmd_resume(args: argparse.Namespace) -> int:
    return _run(Path(args.folder))


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
    from specgen.engine.sweep import best_spec_text
    from specgen.spec.atomicio import write_text_atomic

    text = best_spec_text(Path(args.folder))
    try:
        path = write_text_atomic(args.output, text, overwrite=args.force)
    except FileExistsError:
        _err(f"{args.output} exists; pass --force to replace it")
        return EXIT_PROBLEM
    print(f"wrote {path}")
    return EXIT_OK
