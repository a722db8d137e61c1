"""Running the data doctor for the wizard's current choices (shared by the data-check and model steps)."""

from __future__ import annotations

from specgen.data.doctor import DoctorReport, diagnose
from tui.state import WizardState
from tui.widgets.findings import finding_markup

ALERT_CODES = ("EMPTY_MASK", "ENCODING_MISMATCH", "PAIRING", "UNSUPPORTED_EXT", "NORMALIZE_NAN")


def annotation_file(state: WizardState) -> str:
    return state.train_file or state.test_file or state.val_file


def run_doctor(
    state: WizardState, dataset_name: str | None = None, model_type: str | None = None
) -> DoctorReport:
    metric = (model_type or state.model_type) == "MetricDepthAnything"
    return diagnose(
        annotation_file(state),
        dataset_name or state.dataset_name,
        model_type or state.model_type,
        min_depth=state.min_depth if metric else None,
        max_depth=state.max_depth if metric else None,
    )


def findings_markup(report: DoctorReport, codes: tuple[str, ...] | None = None) -> str:
    shown = [f for f in report.findings if codes is None or f.code in codes]
    return "\n".join(finding_markup(f, fix_hint="  [b](ctrl+f)[/]" if f.autofix else "") for f in shown)
