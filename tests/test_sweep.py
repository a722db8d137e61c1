"""Sweeps on Optuna, for real: trials through the private Docker engine and the local backend, with the TAO
stand-in whose val/loss and val/abs_rel follow the sampled lr (EMU_LR_LOSS), so TPE has something to find and the median pruner
something to stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import tao_merge
from runkit import depthnet, make_project


@pytest.fixture()
def project(tmp_path):
    return make_project(tmp_path)


def status(folder: Path) -> dict:
    done = depthnet("sweep", "status", str(folder), "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_docker_sweep_of_six_trials_two_at_a_time_prunes_and_finds_the_best(project, emu_image, tao_config):
    spec = project.spec("train", "train.yaml")
    folder = project.root / "sweep"
    done = depthnet(
        "sweep",
        "-e",
        str(spec),
        "--trials",
        "6",
        "--out",
        str(folder),
        "--backend",
        "docker",
        "--image",
        emu_image,
        "--gpus",
        "none",
        "--network",
        "none",
        "--parallel",
        "2",
        "--env",
        "EMU_LR_LOSS=1",
        "--seed",
        "7",
        timeout=400,
    )
    assert done.returncode == 0, done.stderr
    assert "objective: val/abs_rel (the spec validates" in done.stdout + done.stderr  # the default, said once
    info = status(folder)
    assert info["objective"] == "val/abs_rel"
    trials = info["trials"]
    assert len(trials) == 6 and sorted(t["number"] for t in trials) == list(range(6))
    states = [t["state"] for t in trials]
    assert states.count("PRUNED") >= 1 and states.count("COMPLETE") >= 2, states
    assert set(states) <= {"COMPLETE", "PRUNED"}
    # every trial had its own results folder, and what Optuna recorded is what the trial's run reported
    assert len({t["results_dir"] for t in trials}) == 6
    for t in trials:
        assert Path(t["results_dir"]).is_relative_to(folder.resolve() / "trials")
        if t["state"] == "COMPLETE":
            kpi = [
                json.loads(x).get("kpi", {})
                for x in Path(t["results_dir"], "status.json").read_text().splitlines()
            ]
            assert t["value"] == [k["val/abs_rel"] for k in kpi if "val/abs_rel" in k][-1]
    complete = [t for t in trials if t["state"] == "COMPLETE"]
    best = min(complete, key=lambda t: t["value"])
    assert info["best"]["number"] == best["number"]
    # the best spec is the trial's, and TAO's own schema takes it
    out = project.root / "best.yaml"
    done = depthnet("sweep", "best", str(folder), "-o", str(out))
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert text.startswith(f"# Best trial {best['number']} of sweep")
    tao_merge(tao_config[0], text)
    assert depthnet("validate", str(out), "--action", "train").returncode == 0
    again = depthnet("sweep", "best", str(folder), "-o", str(out))
    assert again.returncode == 1 and "--force" in again.stderr


def test_a_docker_sweep_leaves_no_results_folder_locked_and_no_spec_held(project, emu_image):
    """The review's reproduction, in this process: three Docker trials end with every trial's results folder free
    again (each follower gave its lock back) and no typed spec kept anywhere (engine state lives in the objects the
    sweep owns, gone with them)."""
    import fcntl
    import gc

    from specgen.engine.runspec import RunSpec
    from specgen.engine.sweep import Param, Sweep, SweepConfig, create_sweep, trial_rows

    spec = project.spec("train", "train.yaml")
    folder = project.root / "sweep"
    cfg = SweepConfig(
        trials=3,
        params=[Param.parse("train.optim.lr=loguniform:1e-5:1e-3")],
        objective="val/abs_rel",
        backend="docker",
        gpus="none",
        image=emu_image,
        network="none",
        seed=3,
    )
    create_sweep(folder, spec, cfg)
    Sweep(folder, cfg).run()
    trials = trial_rows(folder).trials
    assert len(trials) == 3 and {t.state for t in trials} <= {"COMPLETE", "PRUNED"}, trials
    for t in trials:
        fd = os.open(Path(t.results_dir) / ".depthnet.lock", os.O_RDWR)
        try:  # a lock still held by a descriptor of this process refuses this one too (flock is per open file)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
    gc.collect()
    # this sweep's specs only: another test of this worker may still be winding down its own (a daemon thread)
    assert not [o for o in gc.get_objects() if isinstance(o, RunSpec) and str(project.root) in str(o.path)]


def test_kill_minus_9_then_resume_finishes_n_trials_without_a_duplicate(project, depth_net_on_path):
    spec = project.spec("train", "train.yaml")
    folder = project.root / "sweep"
    argv = [
        sys.executable,
        "-m",
        "specgen.cli",
        "sweep",
        "-e",
        str(spec),
        "--trials",
        "5",
        "--out",
        str(folder),
        "--backend",
        "local",
        "--gpus",
        "0,1",
        "--env",
        "EMU_LR_LOSS=1",
        "--env",
        "EMU_SPEED=0.04",
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = ""
    deadline = time.monotonic() + 120
    while "trial 2 started" not in seen and time.monotonic() < deadline:  # two finished, two running
        seen += proc.stderr.readline()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = status(folder)["trials"]
    assert any(t["state"] == "RUNNING" for t in before)  # left running by the killed sweep
    # the --env values were never saved: without them resume refuses in one line; given again, it goes on
    config = (folder / "sweep.json").read_text()
    assert "EMU_LR_LOSS" in config and "0.04" not in config
    refused = depthnet("sweep", "resume", str(folder))
    assert refused.returncode == 1 and "need EMU_LR_LOSS, EMU_SPEED" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    done = depthnet(
        "sweep", "resume", str(folder), "--env", "EMU_LR_LOSS=1", "--env", "EMU_SPEED=0.04", timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "re-attached to run" in done.stderr
    trials = status(folder)["trials"]
    assert sorted(t["number"] for t in trials) == list(range(5))
    # a trial the kill caught between being sampled and being launched is lost: failed, with that reason
    lost = [t for t in trials if t["state"] == "FAIL"]
    assert all("before this trial's run was started" in t["reason"] or "lost" in t["reason"] for t in lost), (
        lost
    )
    assert len(lost) <= 1 and sum(t["state"] in ("COMPLETE", "PRUNED") for t in trials) == 5 - len(lost)
    ran = [t["run_id"] for t in trials if t["state"] != "FAIL"]
    assert len(set(ran)) == len(ran)  # each trial ran once: resumed trials kept their run


def test_nan_trials_fail_with_their_reason(project, depth_net_on_path):
    spec = project.spec("train", "train.yaml")
    folder = project.root / "sweep"
    done = depthnet(
        "sweep",
        "-e",
        str(spec),
        "--trials",
        "2",
        "--out",
        str(folder),
        "--backend",
        "local",
        "--env",
        "EMU_MODE=nan",
        "--param",
        "train.optim.lr=loguniform:1e-5:1e-3",
        timeout=200,
    )
    assert done.returncode == 1 and "no trial completed" in done.stderr
    trials = status(folder)["trials"]
    assert [t["state"] for t in trials] == ["FAIL", "FAIL"]
    assert all("NaN" in t["reason"] and "diverged: lower train.optim.lr" in t["reason"] for t in trials)
    plain = depthnet("sweep", "status", str(folder))
    assert "FAIL" in plain.stdout and "NaN" in plain.stdout


def test_sweep_input_errors_are_one_line_with_the_fix(project, tmp_path):
    spec = project.spec("train", "train.yaml")
    done = depthnet("sweep", "-e", str(spec), "--out", str(tmp_path / "s"))
    assert done.returncode == 2 and "--trials" in done.stderr
    done = depthnet(
        "sweep",
        "-e",
        str(spec),
        "--trials",
        "2",
        "--out",
        str(tmp_path / "s"),
        "--param",
        "train.optim.lr=log:1:2",
    )
    assert done.returncode == 2 and "KEY=loguniform:LOW:HIGH" in done.stderr
    done = depthnet("sweep", "status", str(tmp_path))
    assert done.returncode == 1 and "not a sweep folder" in done.stderr and "Traceback" not in done.stderr


def test_default_space_is_tao_automl_ranges(tao_config):
    """lr and weight_decay always, plus what the scheduler reads; the ranges are the real schema's."""
    import dataclasses

    from nvidia_tao_core.config.depth_net.train import OptimConfig

    from specgen.engine.sweep import AUTOML_RANGES, default_space

    meta = {f.name: f.metadata for f in dataclasses.fields(OptimConfig)}
    for key, (_dist, low, high) in AUTOML_RANGES.items():
        name = key.rsplit(".", 1)[1]
        assert meta[name]["automl_enabled"] == "TRUE" and (
            meta[name]["valid_min"],
            meta[name]["valid_max"],
        ) == (low, high)
    keys = [p.key for p in default_space({"train": {"optim": {"lr_scheduler": "CosineAnnealingLR"}}})]
    assert keys == ["train.optim.lr", "train.optim.weight_decay", "train.optim.min_lr"]
    assert [p.key for p in default_space({})] == [
        "train.optim.lr",
        "train.optim.weight_decay",
        "train.optim.lr_decay",
    ]


async def test_sweep_screen_shows_trials_saves_the_best_and_opens_a_trial(project, depth_net_on_path):
    """Driven as a person would: F3, the folder, Enter; the table fills from study.db; ctrl+s writes best.yaml;
    Enter on a trial opens its run in the Run screen (replayed, with its verdict)."""
    from test_run_screen import spec_state, wait_for
    from textual.widgets import DataTable, Input

    from tui.app import DepthnetApp
    from tui.screens.run import RunScreen
    from tui.screens.sweep import SweepScreen

    spec = project.spec("train", "train.yaml")
    folder = project.root / "sweep"
    done = depthnet(
        "sweep",
        "-e",
        str(spec),
        "--trials",
        "3",
        "--out",
        str(folder),
        "--backend",
        "local",
        "--gpus",
        "0",
        "--env",
        "EMU_LR_LOSS=1",
        "--seed",
        "3",
        timeout=200,
    )
    assert done.returncode == 0, done.stderr
    app = DepthnetApp(spec_state(project.root / "wizard"))
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: type(app.screen).__name__ == "SpecScreen" and app.screen.is_mounted)
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen))
        screen = app.screen
        screen.query_one("#sweep-folder", Input).value = str(folder)
        screen.query_one("#sweep-folder", Input).focus()
        await pilot.press("enter")
        table = screen.query_one("#trials", DataTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        assert "3/3 trials" in str(screen.query_one("#sweep-summary").render())
        await pilot.press("p")  # the objective against the next parameter
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: (folder / "best.yaml").is_file())
        assert (folder / "best.yaml").read_text().startswith("# Best trial")
        table.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
        run = app.screen
        await wait_for(pilot, lambda: run.progress.verdict is not None)
        assert run.record.results_dir.startswith(str(folder.resolve() / "trials"))


def test_default_objective_is_abs_rel_when_the_spec_validates_else_the_training_loss():
    from specgen.engine.sweep import default_objective

    validating = {
        "dataset": {"val_dataset": {"data_sources": [{"data_file": "/d/val.txt", "dataset_name": "NYUDV2"}]}}
    }
    assert default_objective(validating)[0] == "val/abs_rel"
    assert default_objective({"dataset": {"val_dataset": {"data_sources": []}}})[0] == "train_loss"
    assert default_objective({})[0] == "train_loss"


async def test_sweep_screen_survives_any_size(tmp_path):
    """The parameter chart draws lr on a log axis; plotext scales it in place while building, so the redraw of a
    resize used to take the log of logs (ValueError: math domain error) and stop the app. Resized down to one cell
    and back, through Pilot, the app stays up and the charts draw again."""
    import optuna
    from test_chart import has_curve
    from test_run_screen import wait_for

    from specgen.engine.sweep import Param, SweepConfig, config_text, storage_url
    from tui.app import DepthnetApp
    from tui.screens.sweep import SweepScreen
    from tui.widgets.charts import Chart

    folder = tmp_path / "sweep"
    folder.mkdir()
    (folder / "base.yaml").write_text("results_dir: /tmp/x\n")
    cfg = SweepConfig(
        trials=4, params=[Param.parse("train.optim.lr=loguniform:1e-5:1e-3")], objective="val/loss"
    )
    (folder / "sweep.json").write_text(config_text(cfg))  # a sweep folder as create_sweep leaves it
    study = optuna.create_study(storage=storage_url(folder), study_name=cfg.study, direction=cfg.direction)
    space = {"train.optim.lr": optuna.distributions.FloatDistribution(1e-5, 1e-3, log=True)}
    for lr, value in ((1e-4, 0.3), (3e-4, 0.2), (5e-5, 0.4)):
        study.add_trial(
            optuna.trial.create_trial(params={"train.optim.lr": lr}, distributions=space, value=value)
        )
    app = DepthnetApp()
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(SweepScreen(str(folder)))
        await wait_for(pilot, lambda: isinstance(app.screen, SweepScreen) and app.screen.info is not None)
        chart = app.screen.query_one("#param-chart", Chart)
        for size in ((80, 24), (40, 12), (20, 8), (10, 5), (5, 3), (2, 2), (1, 1), (120, 40)):
            await pilot.resize_terminal(*size)
            await wait_for(pilot, lambda: chart.is_current)  # built at this size (or nothing, when too small)
        assert app.is_running and isinstance(app.screen, SweepScreen)
        best = app.screen.query_one("#best-chart", Chart)
        await wait_for(pilot, lambda: best.is_current)
        assert "vs lr" in str(chart.render()) and has_curve(str(chart.render()))  # the three trials' points
        assert "best val/loss so far" in str(best.render()) and has_curve(str(best.render()))


def test_optuna_comes_with_a_plain_install_and_start_up_does_not_pay_for_it():
    """``pip install depthnet-tui`` brings Optuna (no extra to know about), and neither the app's start nor the CLI's
    parser nor a refused sweep imports it."""
    from importlib.metadata import requires

    assert any(r.startswith("optuna") and "extra" not in r for r in requires("depthnet-tui") or [])
    probe = (
        "import sys, tui.app, specgen.cli.main\n"
        "code = specgen.cli.main.main(['sweep', '-e', 'x.yaml', '--trials', '0', '--out', 'never'])\n"
        "print(code, 'optuna' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["2", "False"], done.stderr
    assert "--trials 0: give at least 1 trial" in done.stderr


def test_the_direction_follows_the_objective():
    """One table (specgen.data.metrics) says which way is better: δ maximised, abs_rel, rmse and losses minimised;
    an objective it does not know needs --direction, and a --direction given wins."""
    from specgen.engine.sweep import choose_objective, direction_for

    assert [direction_for(k) for k in ("val/d1", "val/d2", "val/d3", "d1")] == ["maximize"] * 4
    assert [direction_for(k) for k in ("val/abs_rel", "val/rmse", "val/loss", "train_loss")] == [
        "minimize"
    ] * 4
    assert direction_for("val/foo") is None
    objective, direction, said = choose_objective("val/d1", None, {})
    assert (objective, direction) == ("val/d1", "maximize") and "val/d1 is better higher" in said
    assert choose_objective("val/d1", "minimize", {})[1] == "minimize"
    with pytest.raises(ValueError, match="give --direction minimize or maximize"):
        choose_objective("val/foo", None, {})


def test_status_after_a_kill_mid_write_rolls_the_journal_back(project, depth_net_on_path):
    """A sweep killed inside an SQLite write leaves a hot journal; a read-only reader cannot roll it back ("attempt
    to write a readonly database" — the suite met it after the kill -9 test's kill). ``sweep status`` rolls it back as any
    writer would, then reads: the half-written change is gone, the study is whole."""
    from specgen.engine.sweep import Param, SweepConfig, create_sweep

    spec = project.spec("train", "train.yaml")
    folder = project.root / "sweep"
    cfg = SweepConfig(
        trials=2,
        params=[Param.parse("train.optim.lr=loguniform:1e-5:1e-3")],
        objective="val/abs_rel",
        backend="local",
    )
    create_sweep(folder, spec, cfg)
    db = folder / "study.db"
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            f"con = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
            "con.execute('PRAGMA cache_size=1')\n"  # pages spill into study.db before the commit: a hot journal
            "con.execute('BEGIN IMMEDIATE')\n"
            "con.execute('CREATE TABLE half_written (x)')\n"
            "con.executemany('INSERT INTO half_written VALUES (?)', [(b'x' * 4000,)] * 200)\n"
            "print('inside', flush=True)\n"
            "time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None and writer.stdout.readline().strip() == "inside"
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    journal = folder / "study.db-journal"
    assert journal.is_file() and journal.stat().st_size > 0  # hot: nobody holds the write lock any more
    got = status(folder)
    assert got["trials"] == []
    import sqlite3

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "half_written" not in tables and "trials" in tables
