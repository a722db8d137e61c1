"""Issue 25, class 9 (registry parts): run.json read as data someone edited or damaged, and saved bounded; a
detached container run still marks its results folder."""

from __future__ import annotations

import pytest
from cases_files import available, of_class, record_outcome, run_case

from specgen.engine import registry
from specgen.engine.events import Verdict
from specgen.engine.records import RunRecord

LOCAL = [c for c in of_class(9) if "docker" not in c.needs]
DOCKER = [c for c in of_class(9) if "docker" in c.needs]


@pytest.mark.parametrize("case", LOCAL, ids=lambda c: c.name)
def test_case(case, tmp_path, request):
    result = run_case(case, tmp_path)
    record_outcome(request.node.name, result)
    assert result.outcome == case.expect, result.output[-3000:]


@pytest.mark.parametrize("case", DOCKER, ids=lambda c: c.name)
def test_docker_case(case, tmp_path, request, emu_image):
    assert available(case) is None
    result = run_case(case, tmp_path, emu_image=emu_image)
    record_outcome(request.node.name, result)
    assert result.outcome == case.expect, result.output[-3000:]


def test_what_is_saved_is_bounded_and_says_so(tmp_path):
    kpi = {f"key{i}": float(i) for i in range(5000)} | {"nested": {"a": list(range(10_000))}, "big": 10**500}
    verdict = Verdict(passed=True, reason="r" * 50_000, reasons=["x" * 10_000] * 100, kpi=kpi)
    record = RunRecord(
        run_id="20260101-000000-train-cafe",
        backend="local",
        action="train",
        spec_path="/x",
        results_dir="/r",
        started="",
        verdict=verdict,
    )
    registry.save(record)
    path = registry.run_dir(record.run_id) / "run.json"
    assert path.stat().st_size < 100_000
    back = registry.read_record(path)
    assert back.verdict is not None and len(back.verdict.kpi) == registry.KPI_KEYS
    assert any("keeps 100 of the verdict's 5002 kpi keys" in n for n in back.notes)
    assert len(record.verdict.kpi) == 5002  # the caller's verdict, shown in full, is not changed
    small = RunRecord(
        **{**record.model_dump(), "verdict": {"passed": True, "reason": "ok", "kpi": {"a": 1.0}}}
    )
    assert registry.bounded(small) is small
