"""Text that becomes code (issue 25, class 2): every ``--env`` name and value, and every Slurm option written into a
job script or run.sh, is checked at the CLI and again in the engine, and what passes is quoted. A hostile name or
value gets one line naming the flag (never a secret's value), in < 2 s, and nothing runs. No cluster needed: the
sbatch script is the one ``--dry-run`` prints, run.sh the one the script backend writes."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from runkit import depthnet, make_project, slurm_train

from specgen.engine.records import (
    LaunchError,
    LaunchRequest,
    SlurmOptions,
    check_env,
    env_pairs,
)
from specgen.engine.slurm import render_script


@pytest.fixture()
def project(tmp_path):
    return make_project(tmp_path)


def _dry(spec: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return slurm_train(spec, "--dry-run", *extra, timeout=120)


@pytest.mark.parametrize(
    ("flags", "said"),
    [
        (["--env", "$(touch {marker})=1"], "--env '$(touch"),
        (["--env", "A B=1"], "--env 'A B'"),
        (["--env", "1A=1"], "--env '1A'"),
        (["--env", "NOEQUALS"], "give NAME=VALUE"),
        (["--env", "NGC_API_KEY=s3cret\ntouch {marker}"], "--env NGC_API_KEY: its value holds a control"),
        (["--partition", "gpu\ntouch {marker}"], "--partition"),
        (["--account", "a;touch {marker}"], "--account"),
        (["--qos", "$(touch {marker})"], "--qos"),
        (["--time", "1:00\ntouch {marker}"], "--time"),
        (["--sbatch-arg", "--comment=x\ntouch {marker}"], "--sbatch-arg"),
    ],
    ids=[
        "subst-name",
        "space-name",
        "digit-name",
        "no-equals",
        "newline-value",
        "partition",
        "account",
        "qos",
        "time",
        "sbatch-arg",
    ],
)
def test_hostile_text_is_refused_in_one_line_and_never_runs(flags, said, project, tmp_path):
    marker = tmp_path / "ran"
    spec = project.spec("train", "q.yaml", results="q")
    for backend in ("slurm", "script"):
        if backend == "script" and not flags[0] == "--env":
            continue
        args = [f.format(marker=marker) for f in flags]
        done = (
            _dry(spec, *args)
            if backend == "slurm"
            else depthnet("run", "train", "-e", str(spec), "--backend", "script", *args)
        )
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2, done.stdout + done.stderr
        assert len(lines) == 1 and said in lines[0] and "Traceback" not in done.stderr, done.stderr
        assert "s3cret" not in done.stderr + done.stdout  # a refused secret is named, never shown
        assert not marker.exists()


def test_values_that_pass_are_quoted_and_env_values_never_written(project, tmp_path):
    """Shell words in a legal value (a secret with quotes, $( ), backticks) reach the job only through sbatch's
    environment: the script holds the name, not the value, and every other value is one quoted word."""
    spec = project.spec("train", "ok.yaml", results="ok")
    secret = "a'b\"c$(touch x)`id`"
    done = _dry(spec, "--env", f"NGC_API_KEY={secret}", "--partition", "gpu,debug", "--account", "vision-1")
    assert done.returncode == 0, done.stderr
    script = done.stdout
    assert secret not in script and "$(touch x)" not in script and "NGC_API_KEY" in script
    assert "#SBATCH --partition=gpu,debug" in script and "#SBATCH --account=vision-1" in script
    (tmp_path / "job.sbatch").write_text(script)
    assert subprocess.run(["bash", "-n", str(tmp_path / "job.sbatch")]).returncode == 0


def _request(tmp_path: Path, **env: str) -> LaunchRequest:
    return LaunchRequest(
        run_id="20261201-000000-train-abcd",
        action="train",
        spec_path=str(tmp_path / "spec.yaml"),
        results_dir=str(tmp_path / "results"),
        data_roots=[str(tmp_path)],
        output_dir=str(tmp_path),
        image="nvcr.io/nvidia/tao/tao-toolkit:6.26.3-pyt",
        env=env,
    )


def test_the_engine_checks_again_whatever_the_caller(tmp_path):
    """A caller that skips the CLI (the app, a sweep replaying --env) meets the same checks in the engine."""
    with pytest.raises(LaunchError, match=r"^--env '\$\(id\)'"):
        _request(tmp_path, **{"$(id)": "1"})
    with pytest.raises(LaunchError, match="^--env KEY: its value holds a control character"):
        _request(tmp_path, KEY="x\ny")
    for field, value in (("partition", "gpu\nid"), ("account", "a b"), ("qos", "`id`"), ("time", "1;id")):
        with pytest.raises((LaunchError, ValueError), match=f"--{field}"):
            SlurmOptions(**{field: value})
    with pytest.raises(LaunchError):
        SlurmOptions(sbatch_args=["--comment=x\nid"]).check()


@settings(max_examples=300, deadline=None)
@given(name=st.text(max_size=12), tail=st.text(max_size=24))
def test_any_env_pair_is_refused_or_becomes_no_code(name, tail, tmp_path_factory):
    """Any name and value: refused with LaunchError, or accepted as a shell name and a one-line value — and the job
    script it makes holds the name only, every line parsing as the shell would (no value, no stray command)."""
    value = "SECRET-" + tail
    try:
        env = check_env({name: value})
    except LaunchError as exc:
        assert "\n" not in str(exc) and ("SECRET-" not in str(exc) or "SECRET-" in name)
        return
    assert name.isidentifier() and name.isascii() and "\n" not in value
    folder = tmp_path_factory.mktemp("q")
    script = render_script(_request(folder, **env), SlurmOptions(container_runtime="none"), folder)
    assert "SECRET-" not in script
    for line in script.splitlines():
        if line.startswith("#SBATCH"):
            shlex.split(line)  # one line, each value a closed quote


def test_env_pairs_is_the_one_parser():
    assert env_pairs(["A=1", "B=x=y", "C="]) == {"A": "1", "B": "x=y", "C": ""}


def test_a_sweep_checks_its_env_as_run_does(project, tmp_path):
    """A sweep replays --env into every trial: a bad pair is refused before any trial, in one line."""
    spec = project.spec("train", "sw.yaml", results="sw")
    for pair, said in (("$(touch {m})=1", "--env '$(touch"), ("NOEQUALS", "give NAME=VALUE")):
        done = depthnet(
            "sweep", "-e", str(spec), "--trials", "1", "--out", str(tmp_path / "sw"), "--backend", "local",
            "--env", pair.format(m=tmp_path / "ran"),
        )  # fmt: skip
        lines = done.stderr.strip().splitlines()
        # a usage error (2), as `depthnet run --env` gives for the same pair, before anything started
        assert done.returncode == 2 and len(lines) == 1 and said in lines[0], done.stderr
        assert not (tmp_path / "ran").exists() and not (tmp_path / "sw").exists()
