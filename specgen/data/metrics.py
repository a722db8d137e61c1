"""The mono evaluator's metrics (status.json kpi keys), what they mean, which way is better, side-by-side tables."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel


class Metric(BaseModel):
    key: str
    label: str
    higher_is_better: bool
    meaning: str


#: TAO's mono evaluator reports these under ``val/`` (evaluate and each validation during train).
METRICS: tuple[Metric, ...] = (
    Metric(
        key="val/abs_rel",
        label="AbsRel",
        higher_is_better=False,
        meaning="mean |pred − gt| / gt over valid pixels",
    ),
    Metric(
        key="val/d1",
        label="δ1 (<1.25)",
        higher_is_better=True,
        meaning="share of pixels with max(pred/gt, gt/pred) < 1.25",
    ),
    Metric(key="val/d2", label="δ2 (<1.25²)", higher_is_better=True, meaning="the same within 1.25²"),
    Metric(key="val/d3", label="δ3 (<1.25³)", higher_is_better=True, meaning="the same within 1.25³"),
    Metric(key="val/loss", label="val loss", higher_is_better=False, meaning="the validation loss"),
    Metric(
        key="val/rmse",
        label="RMSE",
        higher_is_better=False,
        meaning="√mean (pred − gt)² over valid pixels (per-image analysis; TAO's evaluator does not report it)",
    ),
)
_BY_KEY = {m.key: m for m in METRICS}


def higher_is_better(key: str) -> bool | None:
    """Which way is better for a kpi key: the table's answer for the evaluator's metrics (``val/d1``, or ``d1`` as
    per-image analysis names it), lower for any loss (``train_loss``, ``val/loss``); None for a key it does not
    know (a sweep then asks which way to go)."""
    name = key.rsplit("/", 1)[-1]
    meta = _BY_KEY.get(key) or _BY_KEY.get(f"val/{name}")
    if meta is not None:
        return meta.higher_is_better
    return False if name.endswith("loss") else None


def metric_rows(kpis: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per metric any run reported: values per run, the change of each later run against the first, and
    which run is best (None when the values are equal or not comparable)."""
    keys = [m.key for m in METRICS if any(m.key in k for k in kpis)]
    keys += sorted(
        {key for k in kpis for key in k if key not in _BY_KEY and isinstance(k[key], (int, float))}
    )
    rows = []
    for key in keys:
        meta = _BY_KEY.get(key)
        values = [k.get(key) for k in kpis]
        finite = [
            (i, float(v)) for i, v in enumerate(values) if isinstance(v, (int, float)) and math.isfinite(v)
        ]
        base = values[0] if finite and finite[0][0] == 0 else None
        deltas = [
            None
            if base is None or not isinstance(v, (int, float)) or not math.isfinite(v) or i == 0
            else float(v) - float(base)
            for i, v in enumerate(values)
        ]
        best = None
        if meta is not None and len(finite) > 1 and len({v for _, v in finite}) > 1:
            pick = max if meta.higher_is_better else min
            best = pick(finite, key=lambda iv: iv[1])[0]
        rows.append(
            {
                "key": key,
                "label": meta.label if meta else key,
                "values": values,
                "deltas": deltas,
                "best": best,
                "higher_is_better": meta.higher_is_better if meta else None,
                "meaning": meta.meaning if meta else "",
            }
        )
    return rows


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.4f}"
    return "—" if value is None else str(value)


def fmt_delta(delta: float | None, higher_is_better: bool | None) -> str:
    if delta is None:
        return ""
    arrow = (
        "" if higher_is_better is None or delta == 0 else ("▲" if (delta > 0) == higher_is_better else "▼")
    )
    return f"{delta:+.4f}{arrow}"
