"""The Slurm backend on a real one-node cluster (started by .ci/slurm: slurmctld, slurmd, munged; two fake GPUs as
a GRES), with the TAO stand-in as ``depth_net`` on PATH (``--container-runtime none``).

A job that runs into its time limit takes Slurm a minute or more to end, so it is submitted when the session starts
(tests/conftest.py) and judged here, after the fact; the pending test makes its own blocker.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import require
from fastcli import DEPTHNET
from runkit import EMU_LOSSES, depthnet, events, make_project, slurm_train, step_losses, verdict
from textual.widgets import Input

EXPECTED = Path(__file__).parent / "slurm_scripts"


def _cluster_up() -> bool:
    if not shutil.which("sbatch") or not shutil.which("sinfo"):
        return False
    done = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=30)
    return done.returncode == 0 and bool(re.search(r"idle|mix|alloc", done.stdout))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    require(_cluster_up(), "no Slurm cluster answers (start one with `. .ci/slurm`)")
    base = tmp_path_factory.mktemp("slurm")
    bin_dir = base / "bin"
    bin_dir.mkdir()
    (bin_dir / "depth_net").symlink_to(Path(__file__).parent / "emulator" / "depth_net")
    saved = {k: os.environ.get(k) for k in ("PATH", "XDG_DATA_HOME")}
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"  # sbatch exports it to the job
    os.environ["XDG_DATA_HOME"] = str(base / "data-home")
    project = make_project(base)
    yield project, "", str(base / "data-home")
    subprocess.run(["scancel", "--name=depthnet-train"], capture_output=True)  # nothing of ours stays queued
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def _keep_cluster_env(cluster, monkeypatch):
    """conftest gives each test its own XDG_DATA_HOME; here the runs folder is the cluster fixture's."""
    monkeypatch.setenv("XDG_DATA_HOME", cluster[2])


def slurm_run(spec: Path, *extra: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return slurm_train(spec, "--json-events", *extra, timeout=timeout)


def job_states(evs: list[dict]) -> list[dict]:
    return [e for e in evs if e["kind"] == "job_state"]


def test_healthy_job_passes_with_every_step_and_kpi(cluster):
    project, *_ = cluster
    spec = project.spec("train", "ok.yaml", results="ok")
    done = slurm_run(spec)
    assert done.returncode == 0, done.stderr
    evs = events(done.stdout)
    assert step_losses(evs) == EMU_LOSSES
    v = verdict(evs)
    assert v["passed"] and v["exit_code"] == 0 and v["kpi"]["val/abs_rel"] > 0 and v["epochs_completed"] == 2
    assert job_states(evs)[-1]["state"] == "COMPLETED"
    run_id = done.stderr.split("run ", 1)[1].split()[0]
    assert re.search(r"started \(Slurm job \d+\)", done.stderr)
    listed = depthnet("runs", "--json")
    row = next(r for r in json.loads(listed.stdout) if r["run_id"] == run_id)
    assert row["backend"] == "slurm" and row["verdict"] == "PASS"
    # the job read our copy of the spec, with the device keys set, never the user's file
    record = json.loads(
        (Path(os.environ["XDG_DATA_HOME"]) / "depthnet-tui" / "runs" / run_id / "run.json").read_text()
    )
    assert record["spec_path"].endswith(f"{run_id}/spec.yaml") and record["job_id"].isdigit()


def test_nan_job_fails_although_tao_prints_pass(cluster):
    project, *_ = cluster
    spec = project.spec("train", "nan.yaml", dataset="MetricMonoDataset", results="nan")
    done = slurm_run(spec, "--allow-known-failure")
    assert done.returncode == 1, done.stderr
    v = verdict(events(done.stdout))
    assert v["nan"] and v["tao_status"] == "PASS" and "use NYUDV2" in v["reason"]


def test_pending_job_shows_its_reason_and_stop_cancels_it(cluster):
    project, *_ = cluster
    blocker = project.spec("train", "blocker.yaml", results="blocker")
    done = slurm_train(blocker, "--env", "EMU_SPEED=1", "--detach", timeout=120)
    assert done.returncode == 0, done.stderr
    long_run = done.stdout.strip()
    _wait_state(long_run, "running")  # it holds one of the two GPUs
    spec = project.spec("train", "big.yaml", results="big")
    done = slurm_train(spec, "--gpus-per-node", "2", "--detach", timeout=120)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip()
    state = _wait_state(run_id, "pending (")  # the reason comes with the scheduler's first look
    assert state == "pending (Resources)", state
    follower = subprocess.Popen(
        [*_cli(), "attach", run_id, "--json-events"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    for line in follower.stdout:  # the follower has reported the job waiting: now stop it
        seen.append(line)
        if line.startswith("{") and json.loads(line).get("kind") == "job_state":
            break
    stopped = depthnet("stop", run_id)
    assert stopped.returncode == 0, stopped.stderr
    assert "CANCELLED" in stopped.stdout
    out, _err = follower.communicate(timeout=120)
    evs = events("".join(seen) + out)
    pending = [s for s in job_states(evs) if s["state"] == "PENDING"]
    assert pending and pending[0]["reason"] == "Resources"
    v = verdict(evs)
    # run.json's stopped_by names who stopped it: the verdict says "stopped by you", not Slurm's CANCELLED
    assert not v["passed"] and v["reason"].startswith("stopped by you (depthnet stop)"), v["reason"]
    assert "before train began: nothing ran" in v["reason"], v["reason"]  # it never left PENDING
    assert follower.returncode == 1
    again = depthnet("stop", run_id)
    assert again.returncode == 2 and "already finished (FAIL): nothing to stop" in again.stderr
    assert "CANCELLED" in depthnet("stop", long_run).stdout  # the blocker: a running job, stopped


def test_time_limit_ends_in_timeout_named_in_the_verdict(cluster, monkeypatch):
    """Submitted at session start with --time 0:01 and 130 s of training; judged now from what Slurm and the files
    say (scontrol keeps the ended job; the log and status.json stayed on the shared filesystem)."""
    from conftest import TIMEOUT_JOB

    assert TIMEOUT_JOB, "the session-start job was not submitted (see tests/conftest.py pytest_sessionstart)"
    monkeypatch.setenv("XDG_DATA_HOME", TIMEOUT_JOB["data_home"])
    monkeypatch.setenv("PATH", TIMEOUT_JOB["path"])
    run_id = TIMEOUT_JOB["run_id"]
    done = depthnet("attach", run_id, "--json-events", timeout=240)
    assert done.returncode == 1, done.stderr
    evs = events(done.stdout)
    v = verdict(evs)
    assert "TIMEOUT" in v["reason"] and "--time" in v["reason"], v
    assert len(step_losses(evs)) < len(EMU_LOSSES) and not v["passed"]  # cut off before its end
    assert any(e["kind"] == "log" and "Slurm job" in e["text"] for e in evs)  # its console was followed


def test_dry_run_scripts_for_pyxis_and_apptainer(cluster, tmp_path):
    project, *_ = cluster
    spec = project.spec("train", "dry.yaml", results="dry")
    common = [
        "run",
        "train",
        "-e",
        str(spec),
        "--backend",
        "slurm",
        "--dry-run",
        "--partition",
        "gpu",
        "--account",
        "vision",
        "--nodes",
        "2",
        "--gpus-per-node",
        "8",
        "--time",
        "4:00:00",
        "--sbatch-arg=--exclusive",
        "--image",
        "nvcr.io/nvidia/tao/tao-toolkit:6.26.3-pyt",
        "--data-root",
        str(project.data),
        "--output-dir",
        str(project.out),
    ]
    runs_before = _runs()
    for runtime in ("pyxis", "apptainer"):
        done = depthnet(*common, "--container-runtime", runtime)
        assert done.returncode == 0, done.stderr
        text = re.sub(r"\d{8}-\d{6}-train-[0-9a-f]{4}", "RUN_ID", done.stdout)
        text = text.replace(os.environ["XDG_DATA_HOME"], "/DATA_HOME").replace(str(project.root), "/ROOT")
        if os.environ.get("DEPTHNET_WRITE_EXPECTED"):  # after a deliberate change: write, read, commit
            (EXPECTED / f"{runtime}.sbatch").write_text(text)
        assert text == (EXPECTED / f"{runtime}.sbatch").read_text(), text
        # the script is valid bash
        script = tmp_path / f"{runtime}.sbatch"
        script.write_text(done.stdout)
        assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    assert _runs() == runs_before  # a dry run leaves nothing behind


def test_multi_node_environment_for_two_nodes(cluster, tmp_path):
    """The script's own lines, run as Slurm would run them on the second of two nodes: srun is a stand-in that runs
    the task here, depth_net one that prints what TAO's entrypoint would read."""
    project, *_ = cluster
    spec = project.spec("train", "mn.yaml", results="mn")
    done = slurm_train(spec, "--dry-run", "--nodes", "2", "--gpus-per-node", "4", timeout=120)
    assert done.returncode == 0, done.stderr
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "srun").write_text('#!/bin/bash\nwhile [[ "$1" == --* ]]; do shift; done\nexec "$@"\n')
    (fake / "depth_net").write_text(
        '#!/bin/bash\necho "MASTER_ADDR=$MASTER_ADDR MASTER_PORT=$MASTER_PORT '
        'WORLD_SIZE=$WORLD_SIZE NUM_GPU_PER_NODE=$NUM_GPU_PER_NODE NODE_RANK=$NODE_RANK"\n'
    )
    for f in ("srun", "depth_net"):
        (fake / f).chmod(0o755)
    script = done.stdout
    run_folder = Path(next(w for w in script.split() if w.endswith("/spec.yaml"))).parent
    script = script.replace(str(run_folder), str(tmp_path))  # the dry run left no run folder: ours stands in
    (tmp_path / "spec.yaml").write_text(spec.read_text())
    env = {
        **os.environ,
        "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}",
        "SLURM_JOB_NODELIST": "gpu-[07-08]",
        "SLURM_JOB_NUM_NODES": "2",
        "SLURM_NODEID": "1",
        "SLURM_JOB_ID": "42",
    }
    ran = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert ran.returncode == 0, ran.stderr
    assert "MASTER_ADDR=gpu-07 MASTER_PORT=29500 WORLD_SIZE=2 NUM_GPU_PER_NODE=4 NODE_RANK=1" in ran.stdout


def test_slurm_options_are_checked_before_anything_is_submitted(cluster):
    project, *_ = cluster
    spec = project.spec("train", "bad.yaml", results="bad")
    done = depthnet("run", "train", "-e", str(spec), "--backend", "slurm", "--time", "two hours")
    assert done.returncode == 2 and "--time 'two hours'" in done.stderr and "Traceback" not in done.stderr
    done = depthnet("run", "train", "-e", str(spec), "--backend", "slurm", "--sbatch-arg", "-p gpu")
    assert done.returncode == 2 and "one long option per flag" in done.stderr


# --------------------------------------------------------------------------- helpers


def _cli() -> list[str]:

    return list(DEPTHNET)


def _runs() -> set[str]:
    home = Path(os.environ["XDG_DATA_HOME"]) / "depthnet-tui" / "runs"
    return {p.name for p in home.iterdir()} if home.is_dir() else set()


def _wait_state(run_id: str, prefix: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        rows = json.loads(depthnet("runs", "--json").stdout)
        state = next((r["state"] for r in rows if r["run_id"] == run_id), "")
        if state.startswith(prefix):
            return state
        time.sleep(1)
    raise AssertionError(f"run {run_id} never became {prefix} (last: {state!r})")


async def test_launch_dialog_submits_to_slurm_and_the_run_screen_follows_the_job(cluster, tmp_path):
    """As a person would: ctrl+r on the Spec step, backend slurm (offered because sbatch is here), runtime none,
    Enter; the Run screen follows the job to PASS and says which Slurm job it was."""
    from test_run_screen import spec_state, wait_for
    from textual.widgets import Checkbox, Log, Select, Static

    from tui.app import DepthnetApp
    from tui.screens.modals import RunOptionsScreen
    from tui.screens.run import RunScreen

    app = DepthnetApp(spec_state(tmp_path))
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: type(app.screen).__name__ == "SpecScreen" and app.screen.is_mounted)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(app.screen, RunOptionsScreen) and app.screen.is_mounted)
        dialog = app.screen
        backends = [value for _, value in dialog.query_one("#opt-backend", Select)._options]
        assert "slurm" in backends
        assert dialog.query_one("#slurm-opts").has_class("hidden")
        dialog.query_one("#opt-backend", Select).value = "slurm"
        await wait_for(pilot, lambda: not dialog.query_one("#slurm-opts").has_class("hidden"))
        dialog.query_one("#opt-runtime", Select).value = "none"
        dialog.query_one("#opt-time", Input).value = "10:00"
        dialog.query_one("#opt-requeue", Checkbox).value = True  # requeue near the limit; one retry
        dialog.query_one("#opt-retries", Input).value = "1"
        dialog.query_one("#opt-time", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen))
        run = app.screen
        assert run.record.backend == "slurm" and run.record.job_id
        assert run.record.relaunch is not None and run.record.relaunch.retries == 1
        await wait_for(pilot, lambda: run.progress.verdict is not None, seconds=90)
        await pilot.pause(0.3)
        assert run.progress.verdict.passed
        assert str(run.query_one("#verdict", Static).render()).startswith("PASS")
        lines = run.query_one("#log", Log).lines
        assert any(f"Slurm job {run.record.job_id} ended: COMPLETED" in line for line in lines)
        script = Path(run.record.script).read_text()
        assert "#SBATCH --time=10:00" in script and "srun --nodes=1 --ntasks-per-node=1" in script
        assert "#SBATCH --requeue" in script and "#SBATCH --signal=B:USR1@120" in script


def test_sweep_on_slurm_runs_each_trial_as_a_job(cluster, tmp_path):
    """`depthnet sweep --backend slurm`: every trial is one Slurm job (two at once on the node's two GPUs), judged
    like any run; the study records them."""
    project, *_ = cluster
    spec = project.spec("train", "sweep.yaml", results="sweep")
    folder = tmp_path / "sweep"
    done = depthnet(
        "sweep",
        "-e",
        str(spec),
        "--trials",
        "2",
        "--parallel",
        "2",
        "--out",
        str(folder),
        "--backend",
        "slurm",
        "--container-runtime",
        "none",
        "--env",
        "EMU_LR_LOSS=1",
        "--param",
        "train.optim.lr=loguniform:1e-5:1e-3",
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    info = json.loads(depthnet("sweep", "status", str(folder), "--json").stdout)
    assert [t["state"] for t in info["trials"]] == ["COMPLETE", "COMPLETE"]
    rows = {r["run_id"]: r for r in json.loads(depthnet("runs", "--json").stdout)}
    assert all(rows[t["run_id"]]["backend"] == "slurm" for t in info["trials"])


def test_a_controller_that_does_not_answer_is_waited_for_not_judged(cluster, tmp_path, monkeypatch):
    """slurmctld unreachable (a restart, a network blip): the state says so and the follower keeps looking; it never
    turns into "the job is gone" and a FAIL."""
    from specgen.engine.records import RunRecord
    from specgen.engine.slurm import SlurmBackend

    conf = Path(os.environ["SLURM_CONF"]).read_text()
    dead = tmp_path / "slurm.conf"
    # nothing listens on port 1; short timeouts so the client gives up at once (its default retries take 18 s)
    dead.write_text(
        re.sub(r"(?m)^SlurmctldPort=.*$", "SlurmctldPort=1", conf) + "MessageTimeout=1\nTCPTimeout=1\n"
    )
    monkeypatch.setenv("SLURM_CONF", str(dead))
    record = RunRecord(
        run_id="x",
        backend="slurm",
        action="train",
        spec_path="/x.yaml",
        results_dir="/x",
        started="2026-01-01T00:00:00+00:00",
        job_id="1",
        exit_file=str(tmp_path / "exit_code"),
    )
    st = SlurmBackend().job_state(record)
    assert st.state == "UNKNOWN" and st.reason.startswith("Slurm does not answer") and not st.finished
    assert st.words.startswith("Slurm job 1: Slurm does not answer")
