"""What a finished run leads to — the next action, its metrics, its depth maps — opened from the Run and Runs
screens alike. Call from a worker: a failed run asks before anything is built on it."""

from __future__ import annotations

import asyncio

from textual.app import App

from specgen.engine.records import RunRecord
from specgen.engine.results import evaluations, failure, from_record, is_relative
from specgen.job.chain import ChainError
from tui.screens.modals import ConfirmScreen


async def open_next(app: App, record: RunRecord) -> None:
    from tui.screens.next_step import NextStepScreen

    try:
        run = await asyncio.to_thread(from_record, record)
    except ChainError as exc:
        app.notify(str(exc), severity="error", title="No next step")
        return
    why = await asyncio.to_thread(failure, run)
    if why and not await app.push_screen_wait(
        ConfirmScreen(f"{why}.\n\nBuilding on it would waste GPU time. Derive the next spec anyway?")
    ):
        return
    app.push_screen(NextStepScreen(run))


async def open_outputs(app: App, record: RunRecord) -> None:
    from tui.screens.inference_results import InferenceResultsScreen

    if record.action != "inference":
        app.notify(
            f"{record.run_id} is a {record.action} run: depth maps come from inference runs.",
            severity="warning",
        )
        return
    try:
        relative = is_relative(await asyncio.to_thread(from_record, record))
    except ChainError:
        relative = False
    app.push_screen(
        InferenceResultsScreen(record.results_dir, relative=relative, title=f"Inference {record.run_id}")
    )


async def open_metrics(app: App, run_ids: list[str]) -> None:
    from tui.screens.metrics import MetricsScreen

    try:
        runs = await asyncio.to_thread(evaluations, run_ids)
    except ChainError as exc:
        app.notify(str(exc), severity="error", title="No metrics")
        return
    app.push_screen(MetricsScreen(runs))
