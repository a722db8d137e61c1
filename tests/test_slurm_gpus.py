"""Several GPUs per node, as Lightning accepts them: one Slurm task per node, Slurm's task variables cleared for TAO's
entrypoint, TAO's multi-node variables per node (facts §8). The stand-in (tests/slurm_standin/depth_net) applies
TAO's entrypoint checks and Lightning 2.6.6's SLURMEnvironment checks as the real code does; CI's cluster gives a
job its two file-backed GPUs."""

# ruff: noqa: F811 - the cluster fixture comes from test_slurm

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml
from runkit import depthnet, events, slurm_train, verdict
from slurm_standin.kit import install, record, run_id_of, wait_job_end
from test_slurm import _keep_cluster_env, cluster  # noqa: F401

OLD = Path(__file__).parent / "slurm_scripts" / "old_task_line.sbatch"
REFUSAL = (
    "You set `devices=2` in Lightning, but the number of tasks per node configured in SLURM "
    "`--ntasks-per-node=1` does not match"
)


@pytest.fixture()
def standin(tmp_path, monkeypatch):
    """The stand-in first on PATH: sbatch exports PATH to the job, the local backend finds it there too."""
    bin_dir = tmp_path / "standin-bin"
    install(bin_dir)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return bin_dir


def _two_gpu_spec(spec: Path, out: Path) -> Path:
    """The spec copy depthnet writes for two GPUs on one node (train.num_gpus 2, gpu_ids [0, 1])."""
    data = yaml.safe_load(spec.read_text())
    data.setdefault("train", {}).update(num_gpus=2, gpu_ids=[0, 1], num_nodes=1)
    out.write_text(yaml.safe_dump(data))
    return out


def test_two_gpus_per_node_old_task_line_is_refused_by_lightning_the_new_one_trains(
    cluster, standin, tmp_path
):
    project, *_ = cluster
    spec = project.spec("train", "g2.yaml", "--set", "train.num_epochs=2", results="g2")
    # Before: TAO's entrypoint straight under srun with two GPUs for its one task — Lightning's own refusal.
    log, exit_file = tmp_path / "old.log", tmp_path / "old.exit"
    script = tmp_path / "old.sbatch"
    script.write_text(
        OLD.read_text()
        .replace("@LOG@", str(log))
        .replace("@EXIT@", str(exit_file))
        .replace("@SPEC@", str(_two_gpu_spec(spec, tmp_path / "g2-copy.yaml")))
    )
    done = subprocess.run(["sbatch", "--parsable", str(script)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    wait_job_end(done.stdout.strip().split(";")[0], timeout=120)
    text = log.read_text()
    assert REFUSAL in text and "Execution status: FAIL" in text, text
    assert exit_file.read_text().strip() == "1"
    # After: the job script depthnet writes now.
    done = slurm_train(spec, "--gpus-per-node", "2", "--json-events")
    assert done.returncode == 0, done.stderr
    v = verdict(events(done.stdout))
    assert v["passed"] and v["epochs_completed"] == 2, v
    rec = record(run_id_of(done.stderr))
    console = Path(rec["log_file"]).read_text()
    assert REFUSAL not in console
    assert "GLOBAL_RANK: 0, MEMBER: 1/2" in console and "GLOBAL_RANK: 1, MEMBER: 2/2" in console
    job = Path(rec["script"]).read_text()
    assert "#SBATCH --gpus-per-node=2" in job and "#SBATCH --ntasks-per-node=1" in job
    assert "unset SLURM_NTASKS SLURM_NTASKS_PER_NODE SLURM_NNODES SLURM_PROCID SLURM_LOCALID" in job
    copy = yaml.safe_load(Path(rec["spec_path"]).read_text())["train"]
    assert (copy["num_gpus"], copy["gpu_ids"], copy.get("num_nodes", 1)) == (2, [0, 1], 1)


def _task_env(node: int, nodes: int = 2, gpus: int = 4) -> dict[str, str]:
    """What srun gives the task on node ``node`` of a ``nodes``-node job, one task per node, ``gpus`` GPUs each
    (the node list resolves here: TAO's entrypoint checks MASTER_ADDR with gethostbyname)."""
    return {
        "SLURM_JOB_ID": "4242",
        "SLURM_JOB_NAME": "depthnet-train",
        "SLURM_JOB_NODELIST": "localhost,127.0.0.1",
        "SLURM_JOB_NUM_NODES": str(nodes),
        "SLURM_NNODES": str(nodes),
        "SLURM_NTASKS": str(nodes),
        "SLURM_NTASKS_PER_NODE": "1",
        "SLURM_TASKS_PER_NODE": f"1(x{nodes})",
        "SLURM_PROCID": str(node),
        "SLURM_LOCALID": "0",
        "SLURM_NODEID": str(node),
        "CUDA_VISIBLE_DEVICES": ",".join(map(str, range(gpus))),
    }


def _fake_srun(folder: Path) -> Path:
    """srun that runs its command here, as the task would (its options dropped)."""
    folder.mkdir(exist_ok=True)
    srun = folder / "srun"
    srun.write_text('#!/bin/bash\nwhile [[ "$1" == --* ]]; do shift; done\nexec "$@"\n')
    srun.chmod(0o755)
    return folder


def test_two_nodes_of_four_gpus_each_get_tao_multinode_env_and_lightning_ranks(cluster, standin, tmp_path):
    """The job script's own lines on each node of a two-node, four-GPU-per-node allocation: TAO's entrypoint
    validates WORLD_SIZE/NODE_RANK/NUM_GPU_PER_NODE/MASTER_* and rewrites its spec; Lightning starts four ranks per
    node, global ranks 0–3 on node 0 and 4–7 on node 1. The old task line in the same environment: refused."""
    project, *_ = cluster
    spec = project.spec("train", "mn.yaml", results="mn")
    done = slurm_train(spec, "--dry-run", "--nodes", "2", "--gpus-per-node", "4", timeout=120)
    assert done.returncode == 0, done.stderr
    copy = tmp_path / "spec.yaml"
    data = yaml.safe_load(spec.read_text())
    data["train"].update(num_gpus=4, gpu_ids=[0, 1, 2, 3], num_nodes=2)
    copy.write_text(yaml.safe_dump(data))
    script = done.stdout
    spec_in_script = next(w for w in script.split() if w.endswith("/spec.yaml"))
    run_folder = Path(spec_in_script).parent
    script = script.replace(str(run_folder), str(tmp_path))  # the dry run left no run folder: ours stands in
    fake = _fake_srun(tmp_path / "fake")
    for node, ranks in ((0, range(0, 4)), (1, range(4, 8))):
        env = {
            **os.environ,
            **_task_env(node),
            "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}",
            "STANDIN_DRY": "1",
        }
        ran = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
        assert ran.returncode == 0, ran.stdout + ran.stderr
        out = ran.stdout
        assert "[Multinode] Overriding configs" in out and "Error overriding" not in out, out
        for rank in ranks:
            assert f"GLOBAL_RANK: {rank}, MEMBER: {rank + 1}/8" in out, out
        node_spec = yaml.safe_load((tmp_path / f"spec-node{node}.yaml").read_text())["train"]
        assert (node_spec["num_nodes"], node_spec["num_gpus"]) == (2, 4)
    # the old task line (TAO's entrypoint straight under srun) in node 1's environment
    env = {
        **os.environ,
        **_task_env(1),
        "STANDIN_DRY": "1",
        "MASTER_ADDR": "localhost",
        "MASTER_PORT": "29500",
    }
    env.update(WORLD_SIZE="2", NUM_GPU_PER_NODE="4", NODE_RANK="1")
    old = subprocess.run(
        ["depth_net", "train", "-e", str(copy)], env=env, capture_output=True, text=True, timeout=60
    )
    assert old.returncode == 1
    assert (
        "You set `devices=4` in Lightning, but the number of tasks per node configured in SLURM" in old.stdout
    )


def test_one_gpu_and_the_single_node_script_clears_multinode_variables(cluster, standin, tmp_path):
    """One node: nothing inherited (a WORLD_SIZE from the login shell) turns TAO's multi-node mode on."""
    project, *_ = cluster
    spec = project.spec("train", "g1.yaml", results="g1")
    done = depthnet(
        "run", "train", "-e", str(spec), "--backend", "slurm", "--dry-run", "--container-runtime", "none"
    )
    assert done.returncode == 0, done.stderr
    task = next(line for line in done.stdout.splitlines() if "bash -c" in line)
    assert "WORLD_SIZE NODE_RANK NUM_GPU_PER_NODE MASTER_ADDR MASTER_PORT" in task
    assert "NODE_RANK=" not in task and "MASTER_ADDR=" not in done.stdout
