"""Resumed and stopped runs, for real: the TAO stand-in's resumable train (``EMU_CASE=resumable``: TAO 7.3.0's
auto-resume from ``*_latest.pth``, its words and its absolute epochs, read from the wheel) through ``depthnet
verdict --json`` and the live ``depthnet run`` path; each of the three stops (``depthnet stop``, the Run screen's
ctrl+x, a sweep's pruning) recorded in run.json and said by the verdict; the Run screen's verdict banner on Enter."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from conftest import settle, wait_for, wait_until
from runkit import depthnet, events, make_project, verdict
from textual.widgets import Static

from specgen.engine import registry
from specgen.engine.records import BY_CLI, BY_SCREEN, BY_SWEEP, RunRecord

EMULATOR = Path(__file__).parent / "emulator" / "depth_net"
H200 = Path(__file__).parent / "fixtures" / "tao-7.3.0-h200"
FIRST = "model_epoch_000_step_00012.pth"
RESUMED = f"resumed at epoch 1 (from {FIRST}) and reached the last epoch (2 of 0–2); train finished with"


@pytest.fixture()
def project(tmp_path, depth_net_on_path):
    return make_project(tmp_path)


def three_epochs(project) -> Path:
    return project.spec(
        "train", "resume.yaml", "--set", "train.num_epochs=3", "--set", "train.checkpoint_interval=1"
    )


def epoch_zero_done(results: Path) -> bool:
    status = results / "status.json"
    return (results / FIRST).exists() and status.is_file() and '"epoch": 0' in status.read_text()


def test_a_run_interrupted_after_epoch_0_and_resumed_into_its_folder_passes_offline(project, tmp_path):
    """The stand-in by hand (as a job script would run TAO), judged after the fact by `depthnet verdict`."""
    spec = three_epochs(project)
    results = project.out / "results" / "train"
    env = {**os.environ, "EMU_CASE": "resumable", "EMU_SPEED": "0.4"}
    with open(tmp_path / "first.log", "wb") as log:
        proc = subprocess.Popen(
            [str(EMULATOR), "train", "-e", str(spec)], stdout=log, env=env, start_new_session=True
        )
    wait_until(lambda: epoch_zero_done(results), what="epoch 0's checkpoint")
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=30) != 0
    first = depthnet(
        "verdict", str(results), "--log", str(tmp_path / "first.log"), "--exit-code", "143", "--json"
    )
    out = json.loads(first.stdout)
    assert first.returncode == 1 and out["verdict"] == "FAIL" and out["epochs_completed"] == 1, out
    env["EMU_SPEED"] = "0.01"
    with open(tmp_path / "second.log", "wb") as log:
        assert subprocess.run([str(EMULATOR), "train", "-e", str(spec)], stdout=log, env=env).returncode == 0
    assert "Setting resume checkpoint to " + str(results / FIRST) in (tmp_path / "second.log").read_text()
    done = depthnet(
        "verdict", str(results), "--log", str(tmp_path / "second.log"), "--exit-code", "0", "--json"
    )
    out = json.loads(done.stdout)
    assert done.returncode == 0 and out["verdict"] == "PASS" and out["reasons"][0].startswith(RESUMED), out
    assert out["epochs_completed"] == 3


def test_stopped_by_you_then_resumed_by_a_rerun_into_the_same_folder_passes(project):
    """`depthnet stop` after epoch 0 → "stopped by you (depthnet stop) at epoch 2 of 3" in run.json, attach, runs;
    `depthnet run` again into the same results folder → TAO resumes from dn_model_latest.pth → PASS, resumed."""
    spec = three_epochs(project)
    results = project.out / "results" / "train"
    env = ["--env", "EMU_CASE=resumable"]
    started = depthnet(
        "run", "train", "-e", str(spec), "--backend", "local", "--detach", *env, "--env", "EMU_SPEED=0.4"
    )
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.split()[-1]
    wait_until(lambda: epoch_zero_done(results), what="epoch 0's checkpoint")
    stopped = depthnet("stop", run_id)
    assert stopped.returncode == 0, stopped.stderr
    assert registry.load(run_id).stopped_by == BY_CLI
    v = verdict(events(depthnet("attach", run_id, "--json-events").stdout))
    assert v["stopped_by"] == BY_CLI and not v["passed"]
    assert v["reason"] == (
        f"stopped by you (depthnet stop) at epoch 2 of 3 (1 complete): re-run into the same results folder to "
        f"resume from {FIRST}"
    )
    listed = depthnet("runs").stdout
    assert f"FAIL  {v['reason']}" in next(line for line in listed.splitlines() if line.startswith(run_id))
    again = depthnet("run", "train", "-e", str(spec), "--backend", "local", "--force", "--json-events", *env)
    v = verdict(events(again.stdout))
    assert again.returncode == 0 and v["passed"] and v["reason"].startswith(RESUMED), (
        v,
        again.stderr[-2000:],
    )
    assert (
        v["epochs_completed"] == 3 and f"verdict: PASS — {RESUMED}" in depthnet("attach", v_run(again)).stdout
    )


def v_run(done: subprocess.CompletedProcess[str]) -> str:
    return done.stderr.split("run ", 1)[1].split()[0]


def test_a_sweep_that_prunes_a_trial_says_the_sweep_stopped_it(project):
    """The median pruner stops the trial whose lr is far off; its run.json and the trial table say who did."""
    from specgen.engine.sweep import Param, Sweep, SweepConfig, create_sweep, trial_rows

    spec = project.spec(
        "train", "sweep.yaml", "--set", "train.num_epochs=5", "--set", "train.checkpoint_interval=1"
    )
    folder = project.root / "sweep"
    env = {"EMU_CASE": "resumable", "EMU_LR_LOSS": "1", "EMU_SPEED": "0.08"}
    cfg = SweepConfig(
        trials=4,
        params=[Param.parse("train.optim.lr=categorical:0.0001,0.01")],
        backend="local",
        gpus="none",
        env_names=list(env),
        seed=SWEEP_SEED,
    )
    create_sweep(folder, spec, cfg)
    Sweep(folder, cfg, env=env).run()
    pruned = [t for t in trial_rows(folder).trials if t.state == "PRUNED"]
    assert pruned, trial_rows(folder).trials
    for t in pruned:
        assert t.run_id and registry.load(t.run_id).stopped_by == BY_SWEEP
        assert (t.reason or "").startswith("stopped by the sweep (pruned) at epoch 2 of 5"), t
    status = depthnet("sweep", "status", str(folder)).stdout
    assert "(stopped by the sweep (pruned) at epoch 2 of 5" in status


#: A seed whose first trials include a good lr and a later one the far-off lr (the pruner's median needs two).
SWEEP_SEED = 2


# ------------------------------------------------------------------------------------------------ the Run screen


async def test_ctrl_x_on_the_run_screen_is_a_stop_by_you(project, monkeypatch):
    from specgen.engine.launch import RunOptions, prepare, start
    from tui.app import DepthnetApp
    from tui.screens.modals import ConfirmScreen
    from tui.screens.run import RunScreen, VerdictScreen
    from tui.state import WizardState

    monkeypatch.setenv("EMU_CASE", "resumable")
    monkeypatch.setenv("EMU_SPEED", "0.4")
    results = project.out / "results" / "train"
    prepared = prepare(
        RunOptions(action="train", spec=str(three_epochs(project)), backend="local", gpus="none")
    )
    assert not prepared.problems, prepared.problems
    record, backend = start(prepared, "local")
    app = DepthnetApp(WizardState(step="spec"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, 0.3)
        app.push_screen(RunScreen(record, backend))
        await wait_for(pilot, lambda: epoch_zero_done(results), seconds=60)
        await pilot.press("ctrl+x")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.is_mounted)
        await pilot.press("y")
        await wait_for(
            pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.progress.verdict is not None
        )
        v = app.screen.progress.verdict
        assert (
            v is not None
            and v.stopped_by == BY_SCREEN
            and v.reason.startswith("stopped by you (ctrl+x on the Run screen) at epoch 2 of 3 (1 complete)")
        ), v
        assert registry.load(record.run_id).stopped_by == BY_SCREEN
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, VerdictScreen))
        assert "stopped by you (ctrl+x" in str(app.screen.query_one("#verdict-reason").render())
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))


def _failed_run(tmp_path: Path) -> RunRecord:
    """A finished evaluate run as its folder holds it: the real c_eval_wrong_encoder console and status.json."""
    src = H200 / "c_eval_wrong_encoder"
    results = tmp_path / "results" / "evaluate"
    results.mkdir(parents=True)
    shutil.copy(src / "status.json", results)
    run_id = "20261201-084000-evaluate-beef"
    folder = registry.run_dir(run_id)
    folder.mkdir(parents=True)
    shutil.copy(src / "console.log", folder / "log.txt")
    (folder / "exit_code").write_text("1\n")
    record = RunRecord(
        run_id=run_id,
        backend="local",
        action="evaluate",
        spec_path=str(src / "spec.yaml"),
        results_dir=str(results),
        started="2026-12-01T08:40:00+00:00",
        exit_file=str(folder / "exit_code"),
    )
    registry.save(record)
    return record


async def test_enter_on_the_verdict_banner_shows_the_log_lines_the_reason_came_from(tmp_path):
    from tui.app import DepthnetApp
    from tui.screens.run import RunScreen, VerdictScreen
    from tui.state import WizardState

    record = _failed_run(tmp_path)
    app = DepthnetApp(WizardState(step="spec"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, 0.3)
        app.push_screen(RunScreen(record, None))

        def banner_text() -> str:  # the verdict is known a moment before the banner shows it
            if not isinstance(app.screen, RunScreen) or app.screen.progress.verdict is None:
                return ""
            return str(app.screen.query_one("#verdict", Static).render())

        await wait_for(pilot, lambda: "FAIL —" in banner_text())
        banner = banner_text()
        assert "FAIL — evaluate failed with exit code 1: the checkpoint holds a vitb model" in banner
        assert "(Enter: why)" in banner
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, VerdictScreen) and app.screen.is_mounted)
        excerpt = str(app.screen.query_one("#verdict-excerpt", Static).render())
        assert "size mismatch for model." in excerpt and "dist-packages" not in excerpt
        assert registry.load(record.run_id).verdict.code == "size_mismatch"  # type: ignore[union-attr]
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
