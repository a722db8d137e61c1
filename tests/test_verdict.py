"""The verdict's words (specgen/engine/verdict.py) for what the captures do not show: outcomes that lie (exit 0 with
TAO's FAIL or a FAILURE line), non-finite kpi at any depth (#25 class 4), a 401-digit kpi, a warning beside a PASS,
who stopped a run against what killed it, run.json old and new. Events are the real ones (StatusLine, LogLine); the
runs through the stand-in are in tests/test_verdict_runs.py."""

from __future__ import annotations

import json
import shutil
import unicodedata
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runkit import depthnet

from specgen.engine.events import LogLine, StatusLine
from specgen.engine.failures import ONE_LINE_MAX
from specgen.engine.records import BY_CLI, BY_SWEEP, RunRecord
from specgen.engine.status import KEEP_FIRST, KEEP_LAST, KEEP_MARKED, StatusFold
from specgen.engine.verdict import RunFacts, judge_facts

FIXTURES = Path(__file__).parent / "fixtures"
START = {"status": "STARTED", "message": "Starting Depth Net train."}
GOOD = {"val/loss": 0.2, "val/d1": 0.7, "val/d2": 0.9, "val/d3": 1.0, "val/abs_rel": 0.16}


def epochs(*val: dict, train_loss: list, max_epoch: int | None = None, first: int = 0) -> list[dict]:
    """status.json lines as TAO writes them per epoch: Eval metrics, the epoch line, Train metrics."""
    top = first + len(val) - 1 if max_epoch is None else max_epoch
    lines = [START, {"status": "STARTED", "message": "Starting Training Loop."}]
    for i, (v, loss) in enumerate(zip(val, train_loss, strict=True)):
        e = first + i
        lines += [
            {"status": "RUNNING", "message": "Eval metrics generated.", "kpi": v},
            {"epoch": e, "step": 12 * (e + 1), "max_epoch": top, "max_step": 12 * (top + 1), "kpi": v},
            {"status": "RUNNING", "message": "Train metrics generated.", "kpi": {"train_loss": loss}},
        ]
    return lines


def judged(lines: list[dict], exit_code: int | None = 0, *, tao: str | None = "PASS", log: str = "", **facts):
    f = RunFacts()
    for text in log.splitlines():
        f.add(LogLine(text=text))
    for data in lines:
        f.add(StatusLine(data=data))
    for k, v in facts.items():
        setattr(f, k, v)
    return judge_facts("train", f, exit_code, tao_status=tao, interrupted=False, hint=None, missing=None)


def one_line(reason: str) -> bool:
    return len(reason) <= ONE_LINE_MAX and not any(unicodedata.category(c) == "Cc" for c in reason)


# ------------------------------------------------------------------------------------ non-finite at any depth


def test_nan_as_a_string_nested_or_inf_is_never_a_pass():
    for bad in (
        {"val/abs_rel": "NaN"},  # a string
        {"val": {"abs_rel": "nan"}},  # nested: read as val/abs_rel
        {"val/abs_rel": float("inf")},
        {"val/loss": "-Infinity"},
    ):
        kpi = (
            {**GOOD, **bad}
            if "val" not in bad
            else {**{k: v for k, v in GOOD.items() if k != "val/abs_rel"}, **bad}
        )
        v = judged(epochs(GOOD, kpi, train_loss=[0.3, 0.2]))
        assert not v.passed and v.nan, (bad, v)
        assert v.reason.split(" ", 1)[0] in ("val/abs_rel", "val/loss") and one_line(v.reason), v


def test_a_nan_val_loss_is_named_as_itself_and_a_dead_head_says_so():
    v = judged(epochs(GOOD, {**GOOD, "val/loss": float("nan")}, train_loss=[0.3, 0.2]))
    assert v.reason.startswith(
        "val/loss is NaN although TAO printed PASS: the validation gave no valid depth pixel"
    )
    dead = {"val/loss": 0.33, "val/d1": 0.0, "val/d2": 0.0, "val/d3": 0.0, "val/abs_rel": float("nan")}
    v = judged(epochs(dead, train_loss=[0.4519692659]))
    assert (
        not v.passed and "val/abs_rel is NaN and δ1 = 0" in v.reason and "predicts no valid depth" in v.reason
    )


def test_a_warning_is_a_second_reason_on_a_pass():
    first = {**GOOD, "val/abs_rel": float("nan"), "val/d1": 0.0}  # a random head's first validation
    v = judged(epochs(first, GOOD, train_loss=[0.3, 0.2]))
    assert v.passed and v.reason.startswith("train finished with val/loss 0.2")
    assert v.reasons[1] == (
        "val/abs_rel was NaN at epoch 0 and is finite at the end: the final checkpoint validated fine"
    )


def test_a_401_digit_integer_in_the_kpi_is_judged_not_a_crash():
    huge = 10**400
    v = judged(epochs({**GOOD, "val/loss": huge}, train_loss=[huge]))
    assert v.passed and "val/loss 1000…e400" in v.reason and one_line(v.reason)
    record = RunRecord(
        run_id="r",
        backend="local",
        action="train",
        spec_path="/s.yaml",
        results_dir="/r",
        started="t",
        verdict=v,
    )
    assert json.loads(record.model_dump_json())["verdict"]["kpi"]["train_loss"] == huge  # run.json keeps it


def test_the_digest_of_status_json_stays_bounded_and_keeps_the_first_nan():
    fold = StatusFold(keep_lines=True)
    lines = epochs(*[GOOD] * 3000, train_loss=[0.3] * 1500 + [float("nan")] + [0.2] * 1499)
    for data in lines:
        fold.add(StatusLine(data=data))
    kept = fold.session_lines()
    assert len(kept) <= KEEP_FIRST + KEEP_LAST + KEEP_MARKED
    assert any(d.get("kpi", {}).get("train_loss") != d.get("kpi", {}).get("train_loss") for d in kept)
    v = judged(lines)
    assert (
        not v.passed and v.reason.startswith("train_loss is NaN at epoch 1500") and v.epochs_completed == 3000
    )


# ------------------------------------------------------------------------------------------ outcomes that lie


def _spec_error_log(tmp_path: Path) -> Path:
    """A real failed TAO console (the misspelt key capture) that a wrapper reported as exit 0."""
    log = tmp_path / "console.log"
    shutil.copy(FIXTURES / "tao-7.3.0" / "spec_error" / "misspelt_key" / "console.log", log)
    return log


def test_tao_printed_fail_with_exit_0_is_a_fail_naming_it(tmp_path):
    folder = tmp_path / "train"
    folder.mkdir()
    done = depthnet(
        "verdict", str(folder), "--log", str(_spec_error_log(tmp_path)), "--exit-code", "0", "--json"
    )
    out = json.loads(done.stdout)
    assert done.returncode == 1 and out["verdict"] == "FAIL", out
    assert out["reasons"][0].startswith(
        "train failed (TAO printed Execution status: FAIL, although the exit code is 0): spec error at "
        "train.num_epoch"
    )
    assert out["code"] == "hydra_config"


def test_a_failure_line_in_status_json_with_exit_0_is_a_fail_naming_it(tmp_path):
    folder = tmp_path / "train"
    folder.mkdir()
    shutil.copy(FIXTURES / "tao-7.3.0-h200" / "c_missing_file" / "status.json", folder)
    (folder / "model_epoch_000_step_00005.pth").touch()
    done = depthnet("verdict", str(folder), "--exit-code", "0", "--json")
    out = json.loads(done.stdout)
    assert done.returncode == 1 and out["verdict"] == "FAIL", out
    assert out["reasons"][0].startswith(
        "train failed (status.json says FAILURE, although the exit code is 0): RGB image not found: "
    ), out
    assert "gone_rgb_30.jpg" in out["reasons"][0] and one_line(out["reasons"][0])


# --------------------------------------------------------------------------------- stopped by you, or killed


def test_stopped_by_you_is_not_killed_by_the_system():
    lines = epochs(GOOD, train_loss=[0.3], max_epoch=2)
    v = judged(lines, 143, tao=None, stopped_by=BY_CLI)
    assert not v.passed and v.stopped_by == BY_CLI
    assert v.reason == "stopped by you (depthnet stop) at epoch 2 of 3 (1 complete)"
    pruned = judged(lines, 143, tao=None, stopped_by=BY_SWEEP)
    assert pruned.reason == "stopped by the sweep (pruned) at epoch 2 of 3 (1 complete)"
    # Slurm says CANCELLED for any scancel: who asked for it is run.json's word
    cancelled = judged(
        lines, None, tao=None, stopped_by=BY_CLI, ended_by="Slurm cancelled the job (CANCELLED)"
    )
    assert cancelled.reason.startswith("stopped by you (depthnet stop)")
    # cancelled while Slurm held it PENDING: TAO wrote nothing, so no epoch is named
    never = judged([], None, tao=None, stopped_by=BY_CLI, ended_by="Slurm cancelled the job (CANCELLED)")
    assert never.reason == "stopped by you (depthnet stop) before train began: nothing ran", never.reason
    killed = judged(lines, 137, tao=None)
    assert killed.reason.startswith("killed by the system (SIGKILL, exit 137) with no Python error")
    assert killed.code == "host_oom_kill" and killed.stopped_by is None
    other = judged(lines, 143, tao=None)
    assert other.reason.startswith(
        "the run was stopped (SIGTERM, exit 143) before it finished — not by depthnet"
    )


def test_a_resumed_run_that_reached_its_last_epoch_passes():
    ckpt = "/r/train/model_epoch_000_step_00012.pth"
    old = epochs(GOOD, train_loss=[0.3], max_epoch=2)
    new = epochs(GOOD, GOOD, train_loss=[0.25, 0.2], max_epoch=2, first=1)
    new.insert(1, {"status": "RUNNING", "message": f"Resuming training from checkpoint: {ckpt}"})
    v = judged([*old, *new, {"status": "RUNNING", "message": "Train finished successfully."}])
    assert v.passed and v.epochs_completed == 3
    assert v.reason.startswith(
        "resumed at epoch 1 (from model_epoch_000_step_00012.pth) and reached the last epoch (2 of 0–2); train "
        "finished with"
    )
    short = judged([*old, *new[:-3]])
    assert not short.passed and short.reason.startswith(
        "train ended after 2 of 3 epochs although TAO printed PASS"
    )


# ---------------------------------------------------------------------------------------------- run.json


def test_run_json_of_before_and_after_loads():
    old = {
        "run_id": "20261124-101500-train-abcd",
        "backend": "local",
        "action": "train",
        "spec_path": "/s.yaml",
        "results_dir": "/r/train",
        "started": "2026-11-24T10:15:00+00:00",
        "verdict": {"kind": "verdict", "passed": False, "reason": "x", "reasons": ["x"], "exit_code": 1},
    }
    record = RunRecord.model_validate_json(json.dumps(old))
    assert record.stopped_by is None and record.verdict is not None and record.verdict.excerpt is None
    lines = epochs(GOOD, train_loss=[0.3], max_epoch=2)
    record.stopped_by = BY_CLI
    record.verdict = judged(lines, 143, tao=None, stopped_by=BY_CLI)
    again = RunRecord.model_validate_json(record.model_dump_json())
    assert again == record and again.verdict.report()["stopped_by"] == BY_CLI  # type: ignore[union-attr]


# ------------------------------------------------------------------------------------------------ property

NAMES = st.text(
    st.characters(min_codepoint=32, max_codepoint=0x10FFFF, blacklist_categories=("Cs",)), max_size=300
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    before=st.lists(NAMES, max_size=20),
    kind=st.sampled_from(["ValueError", "RuntimeError", "torch.OutOfMemoryError", "KeyError", "OSError"]),
    message=NAMES,
    code=st.sampled_from([1, 2, 137, -9, 255]),
)
def test_any_failed_run_gets_one_reason_line_of_at_most_200_characters(before, kind, message, code):
    log = "\n".join(
        [*before, "Traceback (most recent call last):", '  File "x.py", line 1, in f', f"{kind}: {message}"]
    )
    v = judged([START], code, tao="FAIL", log=log)
    assert not v.passed and all(one_line(r) for r in v.reasons), v.reasons
