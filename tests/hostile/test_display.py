"""Issue #25, class 7: escape sequences never reach the terminal, and outside text never becomes markup.

One sanitiser (``specgen.spec.display``) behind every face: a hostile file name (convert, doctor, validate), a
status.json kpi key and value, a console line the verdict quotes — through the real CLI (output captured) and
through the app (Pilot; the drawn screen read back) — shows no ESC, C1 or bidi character, each shown visibly
instead, and ``[red]`` in a name stays text."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import settle, wait_for
from fastcli import DEPTHNET
from hypothesis import given, settings
from hypothesis import strategies as st

from specgen.spec.display import safe_text

#: What a terminal must never get from us: ESC and every other C0 control but \t \n, DEL, C1, bidi controls.
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: A file name (no '/'): OSC title, clear screen, an 8-bit CSI and OSC, a bidi override, markup.
NAME = "evil\x1b]0;pwned\x07\x1b[2J\x9b31m\x9d8;;http:x\x9c\u202egpj[red]b[bold]c"
#: A kpi key: all of it, and a markup closer that would raise MarkupError.
KEY = "val/\x1b[31mloss\x9b2J\u2066[/]"


def assert_safe(text: str) -> None:
    bad = FORBIDDEN.search(text)
    assert bad is None, (
        f"{bad.group(0)!r} at {bad.start()}: {text[max(0, bad.start() - 60) : bad.start() + 20]!r}"
    )


def depthnet(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DEPTHNET, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


@settings(max_examples=400, deadline=None)
@given(st.text(), st.booleans(), st.booleans())
def test_nothing_unsafe_survives_the_sanitiser(text, multiline, strip):
    shown = safe_text(text, multiline=multiline, strip_sequences=strip)
    assert_safe(shown)
    assert multiline or "\n" not in shown
    assert safe_text(shown, multiline=multiline, strip_sequences=strip) == shown  # idempotent


def test_invisible_characters_are_shown_not_dropped():
    assert safe_text("a\x1b[2Jb\x9bc\u202ed\x07") == "a␛[2Jb\\u009bc\\u202ed␇"
    assert safe_text("\x1b[31mred\x1b[0m", strip_sequences=True) == "red"  # a console line's colours go
    assert safe_text("naïve ✓ 深度") == "naïve ✓ 深度"  # nothing else changes


@pytest.fixture()
def hostile_data(tmp_path) -> Path:
    from depthgen import sample_dataset

    data = sample_dataset(tmp_path / "data", per_scene=2)
    scene = next(p for p in sorted(data.iterdir()) if p.is_dir())
    rgb = next(scene.glob("rgb_*.jpg"))
    depth = scene / rgb.name.replace("rgb_", "sync_depth_").replace(".jpg", ".png")
    shutil.copy(rgb, scene / f"rgb_{NAME}.jpg")
    shutil.copy(depth, scene / f"sync_depth_{NAME}.png")
    shutil.copy(rgb, scene / f"rgb_{NAME} spaced.jpg")  # a pitfall whose example names the file
    return data


def test_convert_never_prints_a_hostile_name_raw(hostile_data, tmp_path):
    preview = (
        "convert",
        "--data-root",
        str(hostile_data),
        "--image-pattern",
        "rgb_",
        "--depth-pattern",
        "sync_depth_",
        "--out",
        str(tmp_path / "ann"),
        "--preview",
    )
    done = depthnet(*preview)
    out = done.stdout + done.stderr
    assert "SPACE_IN_PATH" in out and "␛]0;pwned" in out and "\\u009b31m" in out, out
    assert_safe(out)
    doc = depthnet(*preview, "--json")
    assert_safe(doc.stdout)
    assert any(
        NAME in w for p in json.loads(doc.stdout)["warnings"] for w in p["examples"]
    )  # JSON keeps the truth


def test_doctor_and_validate_never_print_a_hostile_path_raw(tmp_path):
    ann = tmp_path / "train.txt"
    ann.write_text(f"/data/{NAME}.jpg /data/{NAME}.png\n", encoding="utf-8")
    doctor = depthnet("doctor", "--data-file", str(ann), "--dataset-name", "NYUDV2")
    assert doctor.returncode == 1 and "␛" in doctor.stdout + doctor.stderr
    assert_safe(doctor.stdout + doctor.stderr)
    spec = tmp_path / "train.yaml"
    spec.write_text(
        json.dumps(
            {
                "results_dir": f"/tmp/{NAME}",
                "dataset": {
                    "train_dataset": {"data_sources": [{"data_file": str(ann), "dataset_name": NAME}]}
                },
            }
        )
    )
    validate = depthnet("validate", str(spec), "--action", "train")
    assert validate.returncode in (1, 2) and validate.stdout + validate.stderr
    assert_safe(validate.stdout + validate.stderr)


def _finished_run(tmp_path: Path, exit_code: int) -> Path:
    """A results folder with a hostile kpi key and value, and a console log whose error line is hostile."""
    folder = tmp_path / "results" / "train"
    folder.mkdir(parents=True)
    lines = [
        {
            "epoch": 0,
            "max_epoch": 1,
            "step": 12,
            "max_step": 24,
            "kpi": {KEY: 0.5, "note": "\x1b]0;x\x07v\x9b"},
        },
        {"epoch": 1, "max_epoch": 1, "step": 24, "max_step": 24, "kpi": {"val/loss": 0.4, "train_loss": 0.3}},
    ]
    (folder / "status.json").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    (folder / "console.log").write_text(
        "Traceback (most recent call last):\n"
        '  File "train.py", line 1, in <module>\n'
        f"RuntimeError: cannot read {NAME}\x1b]8;;http://evil\x07click\x1b]8;;\x07\n"
        "Execution status: FAIL\n",
        encoding="utf-8",
    )
    return folder


def test_verdict_never_prints_a_hostile_kpi_or_log_line_raw(tmp_path):
    folder = _finished_run(tmp_path, 1)
    done = depthnet("verdict", str(folder), "--exit-code", "1", "--log", str(folder / "console.log"))
    out = done.stdout + done.stderr
    assert "FAIL" in out
    assert_safe(out)
    passed = depthnet("verdict", str(folder), "--exit-code", "0")
    assert_safe(passed.stdout + passed.stderr)


def test_error_lines_are_sanitised(tmp_path):
    done = depthnet("validate", str(tmp_path / f"{NAME}.yaml"))
    assert done.returncode != 0 and "␛" in done.stderr
    assert_safe(done.stdout + done.stderr)


# ----------------------------------------------------------------------------------------------------- the app


def screen_text(app) -> str:
    """What the app draws, line by line, as the terminal gets it (every layer, notifications included); and the
    screenshot, which keeps every character too."""
    import html

    lines = ["".join(seg.text for seg in strip) for strip in app.screen._compositor.render_strips()]
    return "\n".join(lines) + "\n" + html.unescape(app.export_screenshot())


async def test_the_convert_step_shows_hostile_names_as_text(hostile_data, tmp_path):
    from tui.app import DepthnetApp
    from tui.state import WizardState

    state = WizardState(step="convert", data_root=str(hostile_data), output_dir=str(tmp_path / "out"))
    app = DepthnetApp(state)
    async with app.run_test(size=(200, 50)) as pilot:
        await settle(pilot, 0.3)
        await wait_for(pilot, lambda: getattr(app.screen, "latest", None) is not None)
        await settle(pilot, 0.3)
        text = screen_text(app)
    assert "SPACE_IN_PATH" in text and "␛]0;pwned" in text
    assert "[red]b[bold]c" in text  # markup in a name stays text
    assert_safe(text)


def _record(tmp_path: Path, folder: Path, run_id: str, log: str):
    """A finished local run of ``folder`` in the registry (its log and exit code 1), as the Run screen reopens it."""
    from specgen.engine import registry
    from specgen.engine.records import RunRecord

    run_dir = registry.run_dir(run_id)
    run_dir.mkdir(parents=True)
    (run_dir / "log.txt").write_text(log, encoding="utf-8")
    (run_dir / "exit_code").write_text("1\n")
    spec = tmp_path / "train.yaml"
    spec.write_text(f"results_dir: {tmp_path / 'results'}\n")
    record = RunRecord(
        run_id=run_id,
        backend="local",
        action="train",
        spec_path=str(spec),
        results_dir=str(folder),
        started="2026-11-24T10:15:00+00:00",
        exit_file=str(run_dir / "exit_code"),
    )
    registry.save(record)
    return record


async def _show_finished(pilot, record) -> None:
    """Open ``record`` on the Run screen and let it reach its verdict (the run has ended: its folder is replayed)."""
    from tui.screens.run import RunScreen

    await settle(pilot, 0.3)
    pilot.app.push_screen(RunScreen(record, None))
    await wait_for(
        pilot,
        lambda: isinstance(pilot.app.screen, RunScreen) and pilot.app.screen.progress.verdict is not None,
    )
    await settle(pilot, 0.3)


async def test_the_run_screen_shows_hostile_kpi_and_reason_as_text(tmp_path, monkeypatch):
    from textual.widgets import Label, Static

    from tui.app import DepthnetApp
    from tui.screens.run import VerdictScreen
    from tui.state import WizardState

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    folder = _finished_run(tmp_path, 1)
    log = (folder / "console.log").read_text(encoding="utf-8")
    record = _record(tmp_path, folder, "20261124-101500-train-hstl", log)
    app = DepthnetApp(WizardState(step="spec"))
    async with app.run_test(size=(160, 50)) as pilot:
        await _show_finished(pilot, record)
        banner = str(app.screen.query_one("#verdict", Static).render())
        text = screen_text(app)
        await pilot.press("enter")  # the verdict in full: its reason and the log excerpt
        await wait_for(pilot, lambda: isinstance(app.screen, VerdictScreen))
        await settle(pilot, 0.3)
        reason = str(app.screen.query_one("#verdict-reason", Label).render())
        excerpt = str(app.screen.query_one("#verdict-excerpt", Static).render())
        modal = screen_text(app)
    # the verdict quotes a console line with its escape sequences and controls gone (failures.clean_lines)
    assert banner.startswith("FAIL") and "cannot read evil" in banner
    assert "val/␛[31m" in text  # the kpi key, visible and inert (its column is 12 wide)
    assert "gpj[red]b[bold]c" in banner  # no markup taken from the log line
    assert "gpj[red]b[bold]c" in reason and "cannot read evil" in excerpt
    assert_safe(text + banner + reason + excerpt + modal)


async def test_a_notification_is_plain_text(tmp_path):
    from tui.app import DepthnetApp
    from tui.state import WizardState

    app = DepthnetApp(WizardState(step="spec"))
    async with app.run_test(size=(120, 30), notifications=True) as pilot:
        await settle(pilot, 0.3)
        app.notify(f"cannot read {NAME} [/]", severity="error")  # a MarkupError before
        from textual.widgets._toast import Toast

        await wait_for(pilot, lambda: bool(app.screen.query(Toast)))
        await pilot.pause(0.3)
        (toast,) = app.screen.query(Toast)
        shown = str(toast.render())
        text = screen_text(app)
    assert shown.startswith("cannot read evil␛]0;pwned") and shown.endswith("c [/]")
    assert_safe(text + shown)


def test_a_name_that_is_not_utf8_is_shown_and_refused_not_a_crash(tmp_path):
    """Class 10: bytes that are not UTF-8 (and a CR) in a file name: shown as ``\\xff`` / ``␍``, never a
    UnicodeEncodeError; convert names the pair and writes nothing, since no annotation line can hold it."""
    import os

    from depthgen import sample_dataset

    assert safe_text("a\udcffb") == "a\\xffb"
    data = sample_dataset(tmp_path / "data", per_scene=2)
    scene = next(p for p in sorted(data.iterdir()) if p.is_dir())
    rgb = next(scene.glob("rgb_*.jpg"))
    depth = scene / rgb.name.replace("rgb_", "sync_depth_").replace(".jpg", ".png")
    shutil.copy(rgb, os.path.join(os.fsencode(scene), b"rgb_bad\xff\rname.jpg"))
    shutil.copy(depth, os.path.join(os.fsencode(scene), b"sync_depth_bad\xff\rname.png"))
    args = ("convert", "--data-root", str(data), "--image-pattern", "rgb_", "--depth-pattern", "sync_depth_")
    done = depthnet(*args, "--out", str(tmp_path / "ann"))
    out = done.stdout + done.stderr
    assert done.returncode == 1 and "UNLISTABLE_PATH" in out and "rgb_bad\\xff␍name.jpg" in out, out
    assert "unexpected error" not in out and not (tmp_path / "ann").exists()
    assert_safe(out)


def test_data_written_to_a_pipe_keeps_its_bytes(tmp_path):
    """``depthnet spec … -o -`` into a file keeps a value as it is (only a terminal gets the sanitised form)."""
    from specgen.cli.common import safe_output, write_data

    out = tmp_path / "spec.yaml"
    with out.open("w", encoding="utf-8") as f:
        saved = sys.stdout
        sys.stdout = f
        try:
            with safe_output():
                write_data("name: a\u202eb\n")
                print("shown: a\u202eb")
        finally:
            sys.stdout = saved
    assert out.read_text(encoding="utf-8") == "name: a\u202eb\nshown: a\\u202eb\n"


def test_a_name_with_a_newline_is_named_not_split(tmp_path):
    """A newline in a file name is the planner's joiner: the walk sets such a name aside and convert names it on
    one line (``␊``) instead of pairing the halves with other files."""
    from depthgen import sample_dataset

    data = sample_dataset(tmp_path / "data", per_scene=1)
    rgb = next(data.rglob("rgb_*.jpg"))
    depth = rgb.with_name(rgb.name.replace("rgb_", "sync_depth_").replace(".jpg", ".png"))
    shutil.copy(rgb, rgb.with_name("rgb_a\nb.jpg"))
    shutil.copy(depth, depth.with_name("sync_depth_a\nb.png"))
    args = ("convert", "--data-root", str(data), "--image-pattern", "rgb_", "--depth-pattern", "sync_depth_")
    done = depthnet(*args, "--out", str(tmp_path / "ann"))
    assert done.returncode == 1 and "UNLISTABLE_PATH" in done.stdout + done.stderr
    assert "rgb_a␊b.jpg" in done.stdout + done.stderr and "DEPTH_MISSING" not in done.stdout + done.stderr
    assert not (tmp_path / "ann").exists()


async def test_the_run_screens_progress_line_shows_taos_message_as_text(tmp_path, monkeypatch):
    """Before the first step the progress line is status.json's own message (TAO's text): markup and escapes in it
    are shown, not obeyed — a ``[`` in a checkpoint path used to be read as a tag (or raise a markup error)."""
    from tui.app import DepthnetApp
    from tui.state import WizardState

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    folder = tmp_path / "results" / "train"
    folder.mkdir(parents=True)
    message = "Resuming training from checkpoint: /ckpt/[bold]x[/bold] [2J \x1b[31mred"
    (folder / "status.json").write_text(json.dumps({"status": "RUNNING", "message": message}) + "\n")
    record = _record(tmp_path, folder, "20261124-101500-train-msgs", "Execution status: FAIL\n")
    app = DepthnetApp(WizardState(step="spec"))
    async with app.run_test(size=(160, 50)) as pilot:
        await _show_finished(pilot, record)
        from textual.widgets import Static

        line = str(app.screen.query_one("#run-progress-line", Static).render())
        text = screen_text(app)
    assert "/ckpt/[bold]x[/bold] [2J" in line, line
    assert_safe(text + line)
