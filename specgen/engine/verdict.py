"""The honest verdict: PASS only when the exit code is 0, the action's kpi is there, and no loss is NaN/inf."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from specgen.engine.events import StepLoss, Verdict
from specgen.spec.keypaths import get_path_or_none as get_path

EXPECTED_KPI: dict[str, tuple[str, ...]] = {
    "train": ("train_loss",),
    "evaluate": ("val/abs_rel",),
}
LOSS_KEYS = ("train_loss", "val/loss")


def _bad(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def first_bad_step(steps: list[StepLoss]) -> StepLoss | None:
    return min((s for s in steps if not s.finite), key=lambda s: s.global_step, default=None)


def missing_output(action: str, spec_path: str, results_dir: str) -> str | None:
    """What the action should have written and did not (None when it is there or cannot be known)."""
    from specgen.spec.render import SpecFileError, read_yaml

    if action == "inference":
        images = Path(results_dir) / "inference_images"
        return None if images.is_dir() and any(p.is_file() for p in images.rglob("*")) else f"no image in {images}"
    key = {"export": "export.onnx_file", "gen_trt_engine": "gen_trt_engine.trt_engine"}.get(action)
    if key is None:
        return None
    try:
        target = get_path(read_yaml(spec_path), key)
    except SpecFileError:
        return None
    return None if not target or Path(target).is_file() else f"no {key} at {target}"


def judge(action: str, exit_code: int | None, steps: list[StepLoss], kpi: dict[str, Any], *,
          tao_status: str | None = None, failure_message: str | None = None, hint: str | None = None,
          missing: str | None = None) -> Verdict:
    def verdict(passed: bool, reason: str) -> Verdict:
        return Verdict(passed=passed, reason=reason, exit_code=exit_code, tao_status=tao_status, kpi=kpi)

    bad = first_bad_step(steps)
    bad_kpi = [k for k in LOSS_KEYS if _bad(kpi.get(k))]
    if exit_code == 137:
        return verdict(False, "the container was killed (exit 137), most likely out of memory: lower the batch "
                              "size or the encoder, or enable train.activation_checkpoint")
    if bad is not None or bad_kpi:
        where = f"from step {bad.global_step}" if bad is not None and bad.global_step == 1 else (
            f"at step {bad.global_step} (epoch {bad.epoch})" if bad is not None else f"in the kpi {', '.join(bad_kpi)}")
        value = "NaN" if (bad is not None and math.isnan(bad.loss)) or any(
            isinstance(kpi.get(k), float) and math.isnan(kpi[k]) for k in bad_kpi) else "infinite"
        pass_note = " although TAO printed PASS" if tao_status == "PASS" else ""
        return verdict(False, f"train_loss is {value} {where}{pass_note}" + (f": {hint}" if hint else
                              ": check the dataset class against your depth files (`depthnet doctor`)"))
    if exit_code == 143:
        return verdict(False, "the run was stopped (SIGTERM, exit 143) before it finished")
    if exit_code is None:
        return verdict(False, failure_message or "the run has not finished")
    if exit_code != 0:
        why = f": {failure_message}" if failure_message else ""
        return verdict(False, f"{action} failed with exit code {exit_code}{why}")
    absent = [k for k in EXPECTED_KPI.get(action, ()) if k not in kpi]
    if absent:
        return verdict(False, f"{action} exited 0 but reported no {', '.join(absent)}: it did not really run")
    if missing:
        return verdict(False, f"{action} exited 0 but wrote nothing: {missing}")
    shown = ", ".join(f"{k} {v:.4g}" for k, v in kpi.items() if isinstance(v, (int, float)))
    return verdict(True, f"{action} finished" + (f" with {shown}" if shown else ""))
