"""The GPU memory estimate against the real H100 measurements it was fitted to (benchmarks/gpu_memory_points.json)."""

from __future__ import annotations

import json
from pathlib import Path

from specgen.job.memory_fit import estimate, fit_problem, largest_batch

POINTS = json.loads((Path(__file__).parent.parent / "benchmarks" / "gpu_memory_points.json").read_text())[
    "points"
]


def test_every_measured_run_is_reproduced_within_five_percent():
    measured = [p for p in POINTS if p["verdict"] == "PASS" and "note" not in p]
    assert len(measured) >= 8
    for p in measured:
        e = estimate(p["encoder"], [p["crop"], p["crop"]], p["batch"], p["precision"])
        assert abs(e.peak_gib / p["peak_gib"] - 1) < 0.05, (p["name"], e.peak_gib, p["peak_gib"])
        assert e.measured


def test_bf16_was_measured_to_crash_and_checkpointing_to_change_nothing_on_one_gpu():
    by = {p["name"]: p for p in POINTS}
    assert by["l_b4_bf16"]["verdict"] == "FAIL" and "BFloat16" in by["l_b4_bf16"]["reason"]
    assert by["l_b4_ckpt"]["peak_gib"] == by["l_b4"]["peak_gib"]


def test_largest_batch_and_the_advice():
    # ViT-L at 518, fp32 on a 24 GiB card: the estimate says what fits
    n = largest_batch("vitl", [518, 518], "fp32", 24.0)
    assert (
        estimate("vitl", [518, 518], n, "fp32").peak_gib
        <= 24.0 * 0.9
        < estimate("vitl", [518, 518], n + 1, "fp32").peak_gib
    )
    text = fit_problem("vitl", [518, 518], 8, "fp32", [(0, 79.0), (1, 23.5)])
    assert (
        text
        and "GPU 1 has 23.5 GiB free" in text
        and f"the largest batch that fits is {largest_batch('vitl', [518, 518], 'fp32', 23.5)}" in text
    )
    assert fit_problem("vits", [518, 518], 2, "fp32", [(0, 79.0)]) is None
    assert fit_problem("vitl", [518, 518], 8, "fp32", []) is None  # no NVML: nothing to say
    assert "not even batch 1" in (fit_problem("vitg", [518, 518], 4, "fp32", [(0, 8.0)]) or "")
    assert "extrapolated" in estimate("vitg", [518, 518], 1).text()
