"""Issue 25, class 4 — non-finite and lying outcomes: NaN as a string, NaN nested in a kpi dict, inf in a val metric,
``Execution status: FAIL`` with exit 0, a ``FAILURE`` status line with exit 0 were all PASS. One rule for "finite"
(``specgen.engine.status.finite``) at every depth; a run whose own words contradict its exit code is a FAIL. Each
property drives the real verdict (``judge``) over status.json lines as TAO writes them."""

from __future__ import annotations

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from specgen.engine.status import finite, nonfinite
from specgen.engine.verdict import judge

GOOD = {"val/loss": 0.2, "val/d1": 0.7, "val/d2": 0.9, "val/d3": 1.0, "val/abs_rel": 0.16}
#: The keys whose non-finite value makes a train's result unusable (failures.judge_metrics decides per key).
FAILING = ("train_loss", "val/loss", "val/abs_rel", "val/d1", "val/d2", "val/d3")

#: Every spelling of a non-finite number that TAO's writer, json.dumps or a hand edit can leave in status.json.
nonfinite_values = st.sampled_from(
    [math.nan, math.inf, -math.inf, "nan", "NaN", " nan ", "inf", "-inf", "Infinity", "-Infinity", "1e999"]
)


def _nest(key: str, value: object, nested: bool) -> dict:
    """``val/abs_rel`` as is, or as ``{"val": {"abs_rel": …}}`` (read as ``val/abs_rel``)."""
    if nested and "/" in key:
        head, tail = key.split("/", 1)
        return {head: {tail: value}}
    return {key: value}


def _train(last_kpi: dict, train_loss: object = 0.2) -> list[dict]:
    """Two epochs of a train's status.json lines (the shapes of the real capture train_healthy)."""
    lines: list[dict] = [{"status": "STARTED", "message": "Starting Depth Net train."}]
    for epoch, val in enumerate((GOOD, last_kpi)):
        lines.append({"status": "RUNNING", "message": "Eval metrics generated.", "kpi": val})
        lines.append(
            {
                "epoch": epoch,
                "max_epoch": 1,
                "status": "RUNNING",
                "message": "Training loop in progress",
                "kpi": val,
            }
        )
        lines.append(
            {"status": "RUNNING", "message": "Train metrics generated.", "kpi": {"train_loss": train_loss}}
        )
    lines.append({"status": "SUCCESS", "message": "Train finished successfully."})
    return lines


def _judged(lines: list[dict], **kw: object):
    kpi: dict = {}
    for line in lines:
        kpi.update(line.get("kpi") or {})
    return judge("train", 0, [], kpi, status_lines=lines, tao_status="PASS", **kw)  # type: ignore[arg-type]


def _one_line(text: str) -> bool:
    return "\n" not in text and len(text) <= 200 and "\x1b" not in text


@settings(max_examples=60, deadline=None)
@given(key=st.sampled_from(FAILING), value=nonfinite_values, nested=st.booleans(), via_json=st.booleans())
def test_a_non_finite_metric_at_any_depth_in_any_spelling_is_never_a_pass(key, value, nested, via_json):
    if key == "train_loss":
        lines = _train(GOOD, train_loss=value)
    else:
        lines = _train({**{k: v for k, v in GOOD.items() if k != key}, **_nest(key, value, nested)})
    if via_json:  # what the file holds: json's NaN/Infinity tokens, read back as Python's reader does
        lines = [json.loads(json.dumps(line)) for line in lines]
    v = _judged(lines)
    assert not v.passed and v.nan, (key, value, v.reasons)
    assert all(_one_line(r) for r in v.reasons), v.reasons


@settings(max_examples=40, deadline=None)
@given(
    name=st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=12).filter(
        lambda k: f"val/{k}" not in FAILING and "loss" not in k
    ),
    value=nonfinite_values,
)
def test_a_non_finite_extra_key_is_said_as_a_warning_never_hidden(name, value):
    v = _judged(_train({**GOOD, "val": {name: value}}))
    assert v.passed, v.reasons  # the model's own metrics are fine: usable
    assert any(r.startswith(f"val/{name} is ") for r in v.reasons[1:]), v.reasons


@settings(max_examples=30, deadline=None)
@given(message=st.text(max_size=300), failure_first=st.booleans())
def test_exit_0_contradicted_by_tao_is_a_fail(message, failure_first):
    lines = _train(GOOD)
    failure = {"status": "FAILURE", "message": message or "Train failed."}
    lines = [lines[0], failure, *lines[1:]] if failure_first else [*lines, failure]
    v = _judged(lines)
    assert not v.passed and v.reason.startswith(
        "train failed (status.json says FAILURE, although the exit code is 0)"
    )
    assert _one_line(v.reason), v.reason
    printed = judge("train", 0, [], dict(GOOD, train_loss=0.2), status_lines=_train(GOOD), tao_status="FAIL")
    assert not printed.passed and "TAO printed Execution status: FAIL" in printed.reason


def test_one_rule_for_finite():
    assert [finite(v) for v in (1, 10**400, 0.5, "1e3", "nan", "-Infinity", math.inf)] == [
        True,
        True,
        True,
        True,
        False,
        False,
        False,
    ]
    assert [finite(v) for v in (True, None, "abc", {"a": 1}, [1.0], "9" * 100)] == [None] * 6
    deep: dict = {"x": math.nan}
    for _ in range(
        100
    ):  # nesting past 32 levels is not followed (no recursion without end), and never crashes
        deep = {"d": deep}
    assert nonfinite(deep) == {}
    assert nonfinite({"a": [1.0, {"b": "inf"}]}) == {"a[1]/b": "inf"}
