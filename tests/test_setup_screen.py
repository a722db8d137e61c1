"""The Setup screen, the first start, the sample data folder and a long-advice dialog, driven as a person would."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import settle, wait_for
from textual.widgets import DataTable, ProgressBar, Static

from specgen.engine.setup import LOGIN_FIX, TOOLKIT_FIX, Check, Report
from tui.app import DepthnetApp, first_start
from tui.screens.modals import ProblemsScreen
from tui.screens.setup import SetupScreen
from tui.screens.welcome import WelcomeScreen

#: What `depthnet setup` finds on an engine without the NVIDIA runtime or the TAO image (the CI engine), written out
#: so the picture is the same on every machine (free disk and versions differ).
CHECKS = [
    Check(name="docker", status="ok", detail="Docker 20.10.24 at unix:///var/run/docker.sock (API 1.41)"),
    Check(
        name="nvidia runtime",
        status="fail",
        detail="the engine has no NVIDIA runtime or CDI GPU devices (runtimes: io.containerd.runc.v2, runc)",
        fix=TOOLKIT_FIX,
    ),
    Check(
        name="image 6.26.3-pyt",
        status="warn",
        detail="nvcr.io/nvidia/tao/tao-toolkit:6.26.3-pyt "
        "(train/evaluate/inference/export) is not on this machine",
        fix="depthnet setup --pull   # or: docker pull nvcr.io/nvidia/tao/tao-toolkit:6.26.3-pyt",
        key="p",
    ),
    Check(
        name="gpus",
        status="warn",
        detail="no NVIDIA driver answers here (NVML: NVML Shared Library Not Found)",
        fix="on a GPU machine: install the NVIDIA driver (nvidia-smi must work); elsewhere use Slurm",
    ),
    Check(
        name="ngc login",
        status="warn",
        detail="no nvcr.io login in ~/.docker/config.json: the TAO images cannot be pulled",
        fix=LOGIN_FIX,
    ),
    Check(name="disk", status="ok", detail="77.8 GiB free at /data; a run needs ~10.0 GiB"),
]


def fixed_checks(output_dir: str, on_check=None) -> Report:
    for c in CHECKS:
        if on_check is not None:
            on_check(c)
    return Report(checks=CHECKS)


@pytest.mark.parametrize("size", [(80, 24), (200, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_setup_screen_snapshot(snap_compare, size):
    async def ready(pilot):
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, WelcomeScreen))
        await pilot.app.push_screen(SetupScreen(fixed_checks))
        await settle(pilot, 0.3)

    assert snap_compare(DepthnetApp(), terminal_size=size, run_before=ready)


@pytest.mark.parametrize("size", [(80, 24), (200, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_long_advice_dialog_wraps_every_word_snapshot(snap_compare, size):
    problems = [
        "spec error at dataset.train_dataset.data_sources[0].data_file: /data/nyu/annotations/train.txt lists "
        "/mnt/other-disk/nyu_depth_v2/sync/bedroom_0004/rgb_00045.jpg at line 17, outside every data root that would "
        "be mounted: add --data-root /mnt/other-disk, or convert again with the data root that holds the files",
        "MetricMonoDataset reads uint16 millimetres (raw NYU / ScanNet / Redwood-like) as metres, so every depth is "
        "beyond max_depth and the valid mask is empty: this run's loss will be NaN — use NYUDV2",
    ]

    async def ready(pilot):
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, WelcomeScreen))
        pilot.app.push_screen(ProblemsScreen("Before launch", problems, True))
        await settle(pilot, 0.3)

    assert snap_compare(DepthnetApp(), terminal_size=size, run_before=ready)


async def test_first_frame_shows_every_check_as_checking_and_each_fills_in_as_it_finishes():
    """The screen draws its rows before any check has run; each check, released one at a time, fills its own row
    while the others still say "checking…"; checks never asked (here: the second image) leave the table."""
    import threading

    from specgen.engine.setup import CHECK_NAMES

    gates = {c.name: threading.Event() for c in CHECKS}
    started = threading.Event()

    def gated(output_dir: str, on_check=None) -> Report:
        started.set()
        for c in CHECKS:
            gates[c.name].wait(30)
            on_check(c)
        return Report(checks=CHECKS)

    def found(screen) -> dict[str, str]:
        table = screen.query_one("#checks", DataTable)
        return {str(table.get_row_at(i)[1]): str(table.get_row_at(i)[2]) for i in range(table.row_count)}

    app = DepthnetApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, WelcomeScreen))
        await app.push_screen(SetupScreen(gated))
        await pilot.pause()
        screen = app.screen
        assert list(found(screen)) == list(CHECK_NAMES)
        assert set(found(screen).values()) == {"[dim]checking…[/]"}
        await wait_for(pilot, started.is_set)
        for i, check in enumerate(CHECKS):
            gates[check.name].set()
            await wait_for(pilot, lambda check=check: found(screen)[check.name] == check.detail)
            if i < len(CHECKS) - 1:  # after the last one the report comes, and the rows not asked go
                rest = [n for n in CHECK_NAMES if n not in {c.name for c in CHECKS[: i + 1]}]
                assert all(found(screen)[n] == "[dim]checking…[/]" for n in rest)
        await wait_for(pilot, lambda: list(found(screen)) == [c.name for c in CHECKS])
        assert "check(s) fail" in str(screen.query_one("#setup-summary", Static).render())


def test_the_setup_screen_draws_without_pydantic_docker_or_nvml():
    """What the first start's first frame imports: the screen and its check names, not the checks' libraries."""
    import subprocess
    import sys

    code = (
        "import sys, tui.app, tui.screens.setup\n"
        "print(' '.join(m for m in ('pydantic.main', 'docker', 'pynvml', 'requests') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "", done


async def test_setup_screen_shows_each_fix_and_welcome_opens_it(docker_client):
    """Against the private engine: the rows come from the real checks; the first failing one is highlighted with its
    whole fix; `s` on Welcome opens the screen, Esc leaves it."""
    app = DepthnetApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, WelcomeScreen))
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SetupScreen))
        screen = app.screen
        await settle(pilot, 0.3)
        table = screen.query_one("#checks", DataTable)
        names = [c.name for c in screen.checks]
        assert names[:2] == ["docker", "nvidia runtime"] and table.row_count == len(names)
        assert table.cursor_row == 1  # the first that is not ok
        fix = str(screen.query_one("#setup-fix", Static).render())
        assert "nvidia-ctk runtime configure --runtime=docker && sudo systemctl restart docker" in fix
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, WelcomeScreen))


async def test_first_start_greets_with_setup_once(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert first_start() is True and first_start() is False
    app = DepthnetApp(show_setup=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SetupScreen))
        # the first frame is Setup's alone
        assert not any(isinstance(s, WelcomeScreen) for s in app.screen_stack)
        await pilot.press("escape")  # leaving it greets as a later start does
        await wait_for(pilot, lambda: isinstance(app.screen, WelcomeScreen) and app.screen.is_mounted)
        assert len(app.screen_stack) == 2


async def test_sample_data_goes_to_the_users_data_folder_with_progress(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    monkeypatch.chdir(tmp_path)
    app = DepthnetApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, WelcomeScreen) and app.screen.is_mounted)
        await pilot.press("end", "enter")  # "Try it with sample data"
        await wait_for(pilot, lambda: app.screen.query("#sample-dir"))
        box = app.screen.query_one("#sample-dir")
        assert box.value == str(tmp_path / "share" / "depthnet-tui" / "sample")
        await pilot.press("enter")
        await wait_for(
            pilot, lambda: app.state.data_root, seconds=60
        )  # a bound for a hang, not a time to beat
        assert app.state.data_root == str(tmp_path / "share" / "depthnet-tui" / "sample" / "data")
        bars = [b for s in app.screen_stack for b in s.query(ProgressBar) if b.id == "sample-progress"]
        assert not bars or bars[0].progress == bars[0].total
    assert not any(
        p.name == "depthnet-sample" for p in Path(tmp_path).iterdir()
    )  # nothing in the current folder
    assert os.listdir(tmp_path / "share" / "depthnet-tui" / "sample" / "data")


async def test_no_engine_at_launch_lets_the_person_choose_and_a_script_is_not_started(tmp_path, monkeypatch):
    """No engine: the launch dialog says where it looked and offers retry / local / run.sh; run.sh chosen, the Runs
    screen lists that run as not started (never as a failed run)."""
    from test_run_screen import fill_options, spec_state, wait_for

    from tui.screens.modals import NoEngineScreen
    from tui.screens.runs import RunsScreen

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent")
    app = DepthnetApp(spec_state(tmp_path))
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot, 0.3)
        await pilot.press("ctrl+r")
        await fill_options(pilot, "")  # auto
        await wait_for(pilot, lambda: isinstance(app.screen, NoEngineScreen) and app.screen.is_mounted)
        text = " ".join(str(w.render()) for w in app.screen.query(".problem"))
        assert "unix:///nonexistent" in text and "unset DOCKER_HOST" in text
        assert app.screen.query_one("#local").disabled  # no depth_net here
        await pilot.press("w")
        await settle(pilot, 0.3)
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        await settle(pilot, 0.3)
        table = app.screen.query_one("#runs", DataTable)
        await wait_for(pilot, lambda: table.row_count == 1)
        row = table.get_row_at(0)
        assert row[2] == "script" and row[4] == "not started" and "FAIL" not in str(row[5])


async def test_each_step_opens_with_its_first_field_focused(tmp_path):
    """At 80×24 every wizard step lands with the keyboard on its first field (nothing to click first), and the
    footer keeps Quit, Help and Runs visible."""
    from depthgen import sample_dataset
    from test_snapshots import STEPS, state_for

    from specgen.data.convert import ConvertOptions, build_index, plan, write_annotations

    data = sample_dataset(tmp_path / "nyu")
    out = tmp_path / "work"
    write_annotations(
        plan(build_index(str(data)), ConvertOptions(image_patterns=["rgb_"], depth_patterns=["sync_depth_"])),
        out / "annotations",
    )
    for step in STEPS:
        app = DepthnetApp(state_for(step, data, out))
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot, 0.2)
            from textual.widgets import Button, DataTable, Input, OptionList, Select, TextArea

            fields = (Input, Select, DataTable, OptionList, Button, TextArea)
            has_fields = any(isinstance(w, fields) and w.focusable for w in app.screen.query("*"))
            assert app.focused is not None, step
            assert isinstance(app.focused, fields) or not has_fields, (
                step,
                app.focused,
            )  # a field, not a pane
            footer = " ".join(str(k) for k in app.screen.active_bindings)
            assert all(key in footer for key in ("ctrl+q", "f1", "f2")), (step, footer)
