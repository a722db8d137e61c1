"""Navigation requests that screens post and the app carries out.

A screen never imports another screen to open it (that is how import cycles grow): it posts one of these messages,
which bubbles to the app; the app, at the top of the import graph, knows every screen."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from specgen.engine.backend import Backend
    from specgen.engine.records import RunRecord


class OpenRun(Message):
    """Show a run's live (or replayed: ``backend`` None) Run screen; ``replace`` swaps it for the screen that
    asked."""

    def __init__(self, record: RunRecord, backend: Backend | None, *, replace: bool = False) -> None:
        super().__init__()
        self.record, self.backend, self.replace = record, backend, replace


class OpenNext(Message):
    """Derive the next action's spec from a finished run (asks first when the run failed)."""

    def __init__(self, record: RunRecord) -> None:
        super().__init__()
        self.record = record


class OpenMetrics(Message):
    """The evaluation metrics of one run, or several side by side."""

    def __init__(self, run_ids: list[str]) -> None:
        super().__init__()
        self.run_ids = run_ids


class OpenOutputs(Message):
    """The depth maps an inference run wrote."""

    def __init__(self, record: RunRecord) -> None:
        super().__init__()
        self.record = record
