"""Issue 25, class 8: a run is finished when its whole process group has gone. Real processes: stand-ins for TAO's
entrypoint that fork a training child and then are SIGKILLed (the OOM killer) or exit cleanly before it."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from cases_files import of_class, record_outcome, run_case

from specgen.engine.backends import LocalBackend, run_members
from specgen.engine.records import RunRecord


@pytest.mark.parametrize("case", of_class(8), ids=lambda c: c.name)
def test_case(case, tmp_path, request):
    result = run_case(case, tmp_path)
    record_outcome(request.node.name, result)
    assert result.outcome == case.expect, result.output[-3000:]


def _record(pid: int, start: int | None) -> RunRecord:
    return RunRecord(
        run_id="r",
        backend="local",
        action="train",
        spec_path="/x",
        results_dir="/r",
        started="",
        pid=pid,
        pid_start=start,
    )


def test_members_of_a_group_whose_leader_is_gone():
    """The leader exits, its child lives on in the group: the run has members, and no more once the child ends."""
    from specgen.engine.backends import process_start

    leader = subprocess.Popen(
        ["sh", "-c", "sleep 30 & echo $!; exit 0"], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    child = int(leader.stdout.readline())
    start = process_start(leader.pid)
    leader.wait()
    record = _record(leader.pid, start)
    try:
        assert run_members(record) == [child] and LocalBackend.observe().running(record)
    finally:
        os.kill(child, 9)
    deadline = time.monotonic() + 10
    while run_members(record) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert run_members(record) == [] and not LocalBackend.observe().running(record)


def test_a_group_older_than_the_run_is_not_the_run():
    """A record whose start time is later than a live group's: that group is another program's (pid reuse)."""
    from specgen.engine.backends import process_start

    other = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        start = process_start(other.pid)
        assert run_members(_record(other.pid, start)) == [other.pid]
        assert run_members(_record(other.pid, start + 1000)) == []  # the leader's start differs: reused
        assert run_members(_record(other.pid, None)) == [] and run_members(_record(1, 1)) == []
    finally:
        other.kill()
        other.wait()
