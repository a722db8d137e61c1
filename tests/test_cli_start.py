"""What a ``depthnet`` call imports before it does its work, and what ``depthnet`` alone says."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("numpy", "PIL", "docker", "textual", "specgen.engine")

#: Runs the CLI in-process and prints the modules it left loaded (sys.exit of --help is caught).
_PROBE = r"""
import sys
from specgen.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print("MODULES", " ".join(sorted(sys.modules)), file=sys.stderr)
sys.exit(code or 0)
"""


def loaded(*argv: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return set(done.stderr.rpartition("MODULES ")[2].split())


def heavy(mods: set[str]) -> list[str]:
    return sorted(m for m in mods if any(m == h or m.startswith(h + ".") for h in HEAVY))


@pytest.mark.parametrize("argv", [("--help",), (), ("run", "--help"), ("completion", "bash")])
def test_help_and_completion_import_nothing_heavy(argv):
    mods = loaded(*argv)
    assert heavy(mods) == [], heavy(mods)
    assert "pydantic.main" not in mods and "yaml" not in mods  # the parser needs neither


def test_depthnet_alone_prints_where_to_start_and_exits_0(cli):
    done = cli()
    assert done.returncode == 0 and "Start here" in done.stdout
    from specgen.cli.main import START_HERE, build_parser

    pyproject = (REPO / "pyproject.toml").read_text()
    assert len(START_HERE) == 5
    for cmd, _what in START_HERE:
        assert cmd in done.stdout
        words = shlex.split(cmd)
        assert f'\n{words[0]} = "' in pyproject  # depthnet or depthnet-tui: a real entry point
        if words[0] == "depthnet":
            args = build_parser().parse_args(words[1:])  # parses, as typed
            assert callable(args.func)


def test_both_entry_points_have_version():
    for module in ("specgen.cli", "tui"):
        code = (
            "import sys; sys.argv[0] = 'x'; from specgen.cli.main import main; sys.exit(main(['--version']))"
            if module == "specgen.cli"
            else "import sys; sys.argv = ['depthnet-tui', '--version']; from tui.app import main; main()"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and done.stdout.startswith(("depthnet 0", "depthnet-tui 0")), done


def test_errors_still_one_line_without_the_eager_imports(cli, tmp_path):
    """The dispatcher names its error types lazily: a usage error and an OS error still read as before."""
    usage = cli("spec", "convert", "--results-dir", str(tmp_path), "-o", "-")
    assert usage.returncode == 2 and "spec convert needs --data-root" in usage.stderr
    (tmp_path / "f").write_text("")
    oserr = cli("sample-data", str(tmp_path / "f" / "x"))
    assert oserr.returncode == 1 and "Traceback" not in oserr.stderr


def test_verdict_of_a_finished_run_judges_without_pydantic_or_the_event_loop(tmp_path):
    """``depthnet verdict DIR`` of a healthy train (the real TAO capture): its events are dataclasses and its spec
    is read only when the verdict needs it, so neither pydantic's models nor asyncio nor the backends load."""
    import shutil

    fixture = REPO / "tests" / "fixtures" / "tao-7.3.0" / "train_healthy"
    results = tmp_path / "results" / "train"
    results.mkdir(parents=True)
    for name in ("status.json", "experiment.yaml"):
        shutil.copy(fixture / name, results / name)
    (results / "model_epoch_000_step_00010.pth").write_bytes(b"")  # its output (tree.txt): a PASS needs one
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, "verdict", str(results)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr
    mods = set(done.stderr.rpartition("MODULES ")[2].split())
    assert {"pydantic.main", "asyncio", "specgen.engine.backend", "specgen.spec.schema"}.isdisjoint(mods)


def _subparsers(parser):
    import argparse

    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sub


def test_a_command_alone_gets_the_parser_the_whole_tree_gives_it():
    """A call builds only its own command's arguments (the rest are listed by name and help): each command's help,
    and therefore its flags, is exactly what the whole parser holds; the top-level help and the list of choices
    are the same too."""
    from specgen.cli.main import build_parser

    whole = build_parser()
    choices = _subparsers(whole).choices
    assert len(choices) > 15
    for name, full in choices.items():
        alone = build_parser(name)
        assert alone.format_help() == whole.format_help(), name
        assert list(_subparsers(alone).choices) == list(choices)
        assert _subparsers(alone).choices[name].format_help() == full.format_help(), name
