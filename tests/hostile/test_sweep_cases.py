"""Issue 25 (classes 2, 3, 9, 10) and issue 28's start promises against ``depthnet sweep``: every case in
``cases_sweep.CASES`` tried for real, each getting the outcome it must (one clear line, or the right thing done)."""

from __future__ import annotations

import pytest
from cases_sweep import CASES, record_outcome, run_case


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case(case, tmp_path, request):
    result = run_case(case, tmp_path)
    record_outcome(request.node.name, result)
    assert result.outcome == case.expect, result.output[-3000:]
