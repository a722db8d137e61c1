"""The data doctor: read depth files as TAO does and predict an empty valid mask (NaN loss) before launch."""

from specgen.data.doctor.report import DoctorReport, Finding, diagnose

__all__ = ["DoctorReport", "Finding", "diagnose"]
