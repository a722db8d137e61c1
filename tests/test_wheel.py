"""`pip install .` (the README's non-editable install) works outside the checkout: help topics ship with the wheel."""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

from conftest import REPO

HEADLESS_F1 = r"""
import asyncio, specgen
from tui.app import DepthnetApp
from tui.screens.modals import HelpScreen
assert "/site-packages/" in specgen.__file__, specgen.__file__  # the wheel, not the checkout
async def main():
    async with DepthnetApp().run_test(size=(100, 30)) as pilot:
        await pilot.press("f1")
        for _ in range(100):  # the help screen is pushed on the next turns of the loop
            if isinstance(pilot.app.screen, HelpScreen):
                break
            await pilot.pause(0.1)
        screen = pilot.app.screen
        assert isinstance(screen, HelpScreen), screen
        assert "Fine-tuning Depth Anything V2" in screen.markdown, screen.markdown[:200]
        assert "is not installed" not in screen.markdown
asyncio.run(main())
print("F1 ok")
"""


def test_wheel_installs_outside_the_checkout_with_its_help(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(REPO)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    (wheel,) = wheels.glob("depthnet_tui-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    # The dependencies come from this environment (a .pth to its site-packages), the package only from the wheel.
    purelib = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    deps = [p for p in site.getsitepackages() if "site-packages" in p]
    Path(purelib, "_deps.pth").write_text("\n".join(deps) + "\n")
    # --force-reinstall: where this environment holds a non-editable depthnet-tui of the same version (`pip install
    # .`), pip sees it through the .pth and skips the wheel ("already installed"), leaving no bin/depthnet here.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "--no-deps",
            "--force-reinstall",
            "-q",
            str(wheel),
        ],
        check=True,
        timeout=300,
        capture_output=True,
    )
    away = tmp_path / "elsewhere"
    away.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [str(venv / "bin" / "depthnet"), "help", "finetuning"],
        cwd=away,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# Fine-tuning Depth Anything V2 with TAO depth_net")
    listing = subprocess.run(
        [str(venv / "bin" / "depthnet"), "help"],
        cwd=away,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert "troubleshooting" in listing.stdout and "after-training" in listing.stdout
    f1 = subprocess.run(
        [str(py), "-c", HEADLESS_F1], cwd=away, capture_output=True, text=True, env=env, timeout=120
    )
    assert f1.returncode == 0 and "F1 ok" in f1.stdout, f1.stderr[-2000:]
    assert not list(away.iterdir())  # nothing written where it was not asked
