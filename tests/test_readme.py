"""README.md as a new user reads it: the example runs line by line, as written, in an empty folder (a stand-in
`depth_net` on PATH where a GPU would be needed); the first lines give the install commands CI uses; its picture and
links lead somewhere; the manual (references/manual.md) has a section for every command; every flag of every command
has help; the CLI and the app name the same recipes."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()
MANUAL = REPO / "references" / "manual.md"


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    heads = re.findall(r"^#+ (.+)$", markdown, re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in heads}


def test_every_example_line_runs_as_written(tmp_path):
    blocks = re.findall(r"```sh\n(.*?)```", README + MANUAL.read_text(), re.S)  # wherever an example lives
    assert blocks, "README has no ```sh example"
    lines = [ln for b in blocks for ln in b.splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(lines) >= 8
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "depth_net").symlink_to(REPO / "tests" / "emulator" / "depth_net")
    (bin_dir / "depthnet").write_text(f'#!/bin/sh\nexec {sys.executable} -m specgen.cli "$@"\n')
    (bin_dir / "depthnet").chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(REPO),
        "XDG_DATA_HOME": str(tmp_path / "share"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    work = tmp_path / "fresh"
    work.mkdir()
    for line in lines:
        done = subprocess.run(
            ["bash", "-c", line], cwd=work, env=env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, f"README line failed: {line}\n{done.stdout[-800:]}\n{done.stderr[-800:]}"
        assert "Traceback" not in done.stderr, line
    assert (
        "PASS"
        in subprocess.run(
            ["bash", "-c", "depthnet runs"], cwd=work, env=env, capture_output=True, text=True
        ).stdout
    )


def test_the_first_lines_install_as_ci_does():
    first = README.splitlines()[:6]
    app = next(ln for ln in first if ln.startswith("Run the app on a fresh machine"))
    tests = next(ln for ln in first if ln.startswith("Run the tests on a fresh machine"))
    assert "pip install . && depthnet-tui" in app
    ci = (REPO / ".ci" / "run").read_text()
    test_command = re.search(r"`(.*)`", tests).group(1).split("&& ", 2)[-1]  # after venv + activate
    assert test_command.endswith(" && python -m pytest"), test_command
    # CI runs the same command with the toolchain between the install and the tests.
    with_toolchain = test_command.replace(" && python -m pytest", " && .ci/toolchain && python -m pytest")
    assert with_toolchain in ci.splitlines(), (with_toolchain, "must be what .ci/run calls")


def test_the_picture_and_every_link_lead_somewhere():
    from urllib.parse import unquote

    manual = _anchors(MANUAL.read_text())
    targets = re.findall(r"\]\(([^)#]+)(?:#([^)]+))?\)", README)
    assert any(path.endswith(".svg") for path, _ in targets), "the README shows a snapshot"
    for path, anchor in targets:
        assert (REPO / unquote(path)).is_file(), path
        if anchor:
            assert path == "references/manual.md" and anchor in manual, f"{path}#{anchor}"


def test_the_manual_has_a_section_for_every_command():
    from specgen.cli.main import build_parser

    (subs,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    text = MANUAL.read_text()
    headings = re.findall(r"^### (depthnet.*)$", text, re.M)
    missing = [n for n in subs.choices if not any(re.search(rf"\b{re.escape(n)}\b", h) for h in headings)]
    assert not missing, f"references/manual.md needs a '### depthnet …' section for: {missing}"
    assert "### depthnet-tui" in text


def test_every_flag_of_every_command_has_help():
    from specgen.cli.main import build_parser

    missing = []

    def walk(parser: argparse.ArgumentParser, prefix: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{prefix} {name}")
            elif not isinstance(action, (argparse._HelpAction, argparse._VersionAction)) and not action.help:
                missing.append(f"{prefix} {'/'.join(action.option_strings) or action.dest}")

    walk(build_parser(), "depthnet")
    assert not missing, missing


def test_cli_and_app_name_the_same_recipes():
    from specgen.spec.recipes import RECIPES
    from tui.screens.recipe import RECIPE_LABELS

    assert tuple(RECIPE_LABELS) == RECIPES
    listed = subprocess.run(
        [sys.executable, "-m", "specgen.cli", "recipes"], capture_output=True, text=True, cwd=REPO
    )
    assert listed.returncode == 0 and all(name in listed.stdout for name in RECIPES)
    version = subprocess.run(
        [sys.executable, "-m", "specgen.cli", "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0 and version.stdout.startswith("depthnet ")
    app_version = subprocess.run(
        [sys.executable, "-c", "import sys; sys.argv[1:] = ['--version']; from tui.app import main; main()"],
        capture_output=True,
        text=True,
    )
    assert app_version.returncode == 0 and app_version.stdout.split() == [
        "depthnet-tui",
        version.stdout.split()[1],
    ]
