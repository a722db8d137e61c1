"""`depthnet validate` looks at every annotation line's files before TAO's minute is spent (issue 23, item 6): a file
that is gone or an RGB file that does not open is named with its annotation file and line, an error only
--allow-known-failure lets through; the progress goes to stderr (shown past 2 s, or at once with
DEPTHNET_PROGRESS_AFTER=0), never into the problems on stdout."""

from __future__ import annotations

import os
import subprocess

from fastcli import DEPTHNET
from runkit import make_project


def _validate(spec, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DEPTHNET, "validate", str(spec), "--action", "train", *extra],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_a_gone_and_an_unreadable_rgb_file_are_named_with_their_line(tmp_path):
    project = make_project(tmp_path)
    spec = project.spec("train", "train.yaml")
    ok = _validate(spec)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    lines = (project.out / "ann" / "train.txt").read_text().splitlines()
    gone, broken = lines[0].split(" ")[0], lines[1].split(" ")[0]
    os.remove(gone)
    with open(broken, "wb") as f:  # a JPEG name over bytes that are not an image
        f.write(b"not a jpeg at all")
    done = _validate(spec, env={"DEPTHNET_PROGRESS_AFTER": "0"})
    assert done.returncode == 1, done.stdout + done.stderr
    said = done.stdout.splitlines()
    ann = project.out / "ann" / "train.txt"
    assert any(f"{ann}:1: RGB image not found: {gone}" in line for line in said), said
    assert any(f"{ann}:2: " in line and broken in line for line in said), said
    assert all("Traceback" not in line for line in said)
    assert "checking dataset.train_dataset.data_sources[0].data_file: [" in done.stderr, done.stderr
    assert "checking" not in done.stdout
    quiet = _validate(spec)  # a small list: checked before a bar would be read
    assert "checking" not in quiet.stderr and quiet.returncode == 1
    assert _validate(spec, "--allow-known-failure").returncode == 0
