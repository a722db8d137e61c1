"""Every committed snapshot picture belongs to a test. syrupy's own "unused" check cannot run under xdist (each
worker sees only its tests), and must not fail a fresh clone where a real-data test skips (pyproject's
``--snapshot-warn-unused``); this check needs neither: it compares file names with the collected tests."""

from __future__ import annotations

from pathlib import Path

SNAPSHOTS = Path(__file__).parent / "__snapshots__"


def test_every_committed_snapshot_belongs_to_a_collected_test(request):
    collected: dict[str, set[str]] = {}
    for item in request.session.items:  # under xdist every worker collects the whole session
        collected.setdefault(item.path.stem, set()).add(item.name)
    stale = [
        f"{folder.name}/{svg.name}"
        for folder in sorted(SNAPSHOTS.iterdir())
        if folder.name in collected  # a module left out of this run says nothing about its pictures
        for svg in sorted(folder.glob("*.svg"))
        if svg.stem not in collected[folder.name]
    ]
    assert not stale, f"pictures no test draws (delete them, or run --snapshot-update -n0): {stale}"
