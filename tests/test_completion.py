"""``depthnet completion SHELL``: the generated scripts, driven in the real shells."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from specgen.spec.catalog import DATASETS

RUN_ID = "20250101-120000-train-ab12"


@pytest.fixture()
def env(tmp_path):
    """A runs folder holding one run, where locations.runs_dir() finds it (and so must the shell)."""
    from specgen.spec.locations import runs_dir

    e = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data")}
    old = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = e["XDG_DATA_HOME"]
    try:
        (runs_dir() / RUN_ID).mkdir(parents=True)
    finally:
        if old is None:
            del os.environ["XDG_DATA_HOME"]
        else:
            os.environ["XDG_DATA_HOME"] = old
    return e


def script(cli, tmp_path, shell: str):
    done = cli("completion", shell)
    assert done.returncode == 0, done.stderr
    path = tmp_path / f"depthnet.{shell}"
    path.write_text(done.stdout)
    return path


def bash_complete(path, env, *words: str) -> list[str]:
    """Call the completion function as bash does on TAB: COMP_WORDS / COMP_CWORD, then read COMPREPLY."""
    line = " ".join(f"'{w}'" for w in words)
    code = (
        f"source {path}\nCOMP_WORDS=({line})\nCOMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))\n"
        "COMPREPLY=()\n_shtab_depthnet\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    done = subprocess.run(["bash", "-c", code], capture_output=True, text=True, env=env, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_bash_completes_commands_actions_datasets_flags_and_run_ids(cli, tmp_path, env):
    path = script(cli, tmp_path, "bash")
    assert "train" in bash_complete(path, env, "depthnet", "run", "")
    assert set(bash_complete(path, env, "depthnet", "run", "")) == {
        "train",
        "evaluate",
        "inference",
        "export",
        "quantize",
        "gen_trt_engine",
    }
    assert "convert" in bash_complete(path, env, "depthnet", "spec", "")
    assert {"setup", "convert", "completion", "runs"} <= set(bash_complete(path, env, "depthnet", ""))
    datasets = bash_complete(path, env, "depthnet", "doctor", "--dataset-name", "")
    assert set(datasets) == {d.name for d in DATASETS}
    assert bash_complete(path, env, "depthnet", "spec", "train", "--dataset-name", "NYUDV2R") == [
        "NYUDV2Relative"
    ]
    assert bash_complete(path, env, "depthnet", "run", "train", "--back") == ["--backend"]
    assert bash_complete(path, env, "depthnet", "attach", "") == [RUN_ID]
    assert bash_complete(path, env, "depthnet", "stop", "2025") == [RUN_ID]


def test_fish_completes_the_same(cli, tmp_path, env):
    if not shutil.which("fish"):
        pytest.skip("fish is not installed (apt-get install fish)")
    path = script(cli, tmp_path, "fish")

    def complete(line: str) -> list[str]:
        done = subprocess.run(
            ["fish", "--no-config", "-c", f"source {path}; complete -C '{line}'"],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        return [x.split("\t")[0] for x in done.stdout.splitlines()]

    assert "train" in complete("depthnet run ")
    assert "NYUDV2" in complete("depthnet doctor --dataset-name ")
    assert RUN_ID in complete("depthnet attach ")


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_each_script_is_valid_for_its_shell(cli, tmp_path, shell):
    path = script(cli, tmp_path, shell)
    exe = shutil.which(shell)
    if exe is None:
        assert path.read_text().strip(), "an empty script"
        pytest.skip(f"{shell} is not installed (apt-get install {shell})")
    done = subprocess.run([exe, "-n", str(path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def test_a_shell_name_it_does_not_know_is_a_usage_error(cli):
    done = cli("completion", "tcsh")
    assert done.returncode == 2 and "invalid choice" in done.stderr and sys.executable
