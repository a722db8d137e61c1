"""The inference results browser: every picture TAO wrote, the input RGB beside the predicted depth as a colour
map (textual-image; half cells as the fallback), the raw PFM's range and median.

When the run's annotation lines carry ground truth, each image is also scored as TAO's evaluator would
(``specgen.data.analysis``: AbsRel, RMSE, δ1), the list is sorted worst first (``s`` cycles AbsRel → RMSE → δ1 →
path order) and the picture becomes RGB | ground truth | prediction | |error|, with the run's error by depth range
below. Scoring reads every file once, in a worker, with its progress in the title."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import get_current_worker

from specgen.data.analysis import (
    Analysis,
    ImageError,
    Sample,
    Setup,
    aligned,
    analyse,
    bin_rows,
    describe,
    panels,
    samples_from_spec,
    setup_from_spec,
    sort_key,
)
from specgen.data.doctor.decode import UnsupportedExtension
from specgen.data.doctor.readers import UnreadableFile
from specgen.data.inference_outputs import InferenceOutput, list_outputs, preview
from specgen.engine.results import resolve
from specgen.job.chain import ChainError
from tui.threads import FailuresToApp, call_ui
from tui.widgets.depth_preview import DepthPreview
from tui.widgets.tables import fill_table

#: The orders ``s`` cycles through once the images are scored ("path" = TAO's own listing order).
SORTS = ("abs_rel", "rmse", "d1", "path")
SORT_LABELS = {"abs_rel": "AbsRel", "rmse": "RMSE", "d1": "δ1", "path": "path"}


def fit_path(path: str, width: int) -> str:
    """``path`` whole if it fits, else ``…/`` and as many trailing parts as fit: a narrow pane shows the file's
    name and folders, never a path broken mid-name."""
    if len(path) <= width:
        return path
    parts = path.split("/")
    shown = parts[-1]
    for part in reversed(parts[:-1]):
        if len(part) + 1 + len(shown) + 2 > width:
            break
        shown = part + "/" + shown
    return "…/" + shown


class _Stopped(Exception):
    """The scoring worker was cancelled."""


def _num(value: float, fmt: str) -> str:
    return "[red]NaN[/]" if math.isnan(value) else format(value, fmt)


class InferenceResultsScreen(FailuresToApp, Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("f1", "help", "Help"),
        Binding("s", "sort", "Sort"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self, results_dir: str, *, relative: bool = False, title: str = "") -> None:
        super().__init__()
        self.results_dir, self.relative, self.title_text = results_dir, relative, title
        self.items: list[InferenceOutput] = []
        self.current = -1  # the highlighted output: a slower preview of an earlier one must not replace it
        self._swap = asyncio.Lock()  # one preview swap at a time: never two pictures mounted at once
        self.samples: dict[str, Sample] = {}  # input image → its line with ground truth
        self.setup: Setup | None = None
        self.analysis: Analysis | None = None
        self.scores: dict[str, ImageError] = {}  # input image → its numbers
        self.sort = "path"
        self.progress = ""  # "scoring 3/40" while the worker runs

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="infer-title")
        with Horizontal(id="infer-body"):
            yield DataTable(id="infer-list", cursor_type="row", zebra_stripes=True)
            with Vertical(id="infer-view"):
                yield Static("", id="infer-caption")
                yield Vertical(id="infer-preview")
                yield Static("", id="infer-hist")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="infer-list", exit_on_error=False)
    def load(self) -> None:
        items = list_outputs(self.results_dir)
        call_ui(self, self.show_list, items)
        try:
            run = resolve(self.results_dir)
        except ChainError:
            return  # a folder without TAO's experiment.yaml: pictures only
        samples, notes = samples_from_spec(run.source.data, run.source.results_dir)
        if not samples:
            return
        setup = setup_from_spec(run.source.data)
        call_ui(self, self._scoring, {s.image: s for s in samples}, setup)

        worker = get_current_worker()

        def progress(done: int, total: int) -> None:
            if worker.is_cancelled:  # reloaded or left: stop reading files
                raise _Stopped
            call_ui(self, self._progress, f"scoring {done}/{total}")

        try:
            result = analyse(samples, setup, progress=progress, notes=notes)
        except _Stopped:
            return
        call_ui(self, self.show_analysis, result)

    def _scoring(self, samples: dict[str, Sample], setup: Setup) -> None:
        self.samples, self.setup = samples, setup

    def _progress(self, text: str) -> None:
        self.progress = text
        self._title()

    def show_analysis(self, result: Analysis) -> None:
        self.analysis, self.progress = result, ""
        self.scores = {i.image: i for i in result.images}
        if result.scored and self.sort == "path":
            self.sort = "abs_rel"  # what a person opens this for: the worst image first
        self.current = -1  # the picture shown so far has no scores: draw it again, four panels
        self.refresh_bindings()
        self.show_list(self.items)  # the worst image first

    def _title(self) -> None:
        items = self.items
        with_pfm = sum(1 for i in items if i.pfm)
        title = self.title_text or f"Inference results in {self.results_dir}"
        text = (
            f"[b]{title}[/] — {len(items)} pictures, {with_pfm} with a raw PFM"
            if items
            else f"[b]{title}[/] — no pictures under inference_images yet"
        )
        if self.progress:
            text += f" · {self.progress}"
        elif self.analysis is not None and self.analysis.scored:
            order = "in path order" if self.sort == "path" else f"worst {SORT_LABELS[self.sort]} first"
            text += f" · {order}"
        self.query_one("#infer-title", Static).update(text)

    def _ordered(self) -> list[int]:
        indices = list(range(len(self.items)))
        if self.sort == "path" or not self.scores:
            return indices
        missing = ImageError("", "", "", problem="not scored")
        return sorted(
            indices, key=lambda i: sort_key(self.scores.get(self.items[i].input, missing), self.sort)
        )

    def show_list(self, items: list[InferenceOutput], keep: int | None = None) -> None:
        self.items = items
        self._title()
        table = self.query_one("#infer-list", DataTable)
        order = self._ordered()
        scored = self.analysis is not None and bool(self.analysis.scored)
        rows: list[tuple[str, ...]] = []
        for index in order:
            item = items[index]
            name = item.input.rsplit("/", 2)[-2] + "/" + item.input.rsplit("/", 1)[-1]
            if not scored:
                rows.append((name, "PFM" if item.pfm else "[dim]—[/]"))
                continue
            score = self.scores.get(item.input)
            if score is None or score.problem:  # the numbers first: a narrow list cuts the name, not them
                rows.append(("[dim]—[/]", "[dim]—[/]", "[dim]—[/]", name))
            else:
                rows.append(
                    (_num(score.abs_rel, ".3f"), _num(score.rmse, ".3g"), _num(score.d1, ".2f"), name)
                )
        headers = ("AbsRel", "RMSE", "δ1", "input") if scored else ("input", "raw")
        self.set_class(scored, "-scored")
        fill_table(table, headers, rows, order)
        if not items:
            return
        table.focus()
        target = keep if keep is not None and 0 <= keep < len(items) else order[0]
        table.move_cursor(row=order.index(target))
        if target != self.current:
            self.show_item(target)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``s`` is offered only once there are scores to sort by (the footer shows it then)."""
        if action == "sort":
            return self.analysis is not None and bool(self.analysis.scored)
        return True

    def action_sort(self) -> None:
        if self.analysis is None or not self.analysis.scored:
            self.notify("Nothing to sort by: no image of this run has ground truth to score against.")
            return
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self.show_list(self.items, keep=self.current)

    @on(DataTable.RowHighlighted, "#infer-list")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None and int(event.row_key.value) != self.current:
            self.show_item(int(event.row_key.value))

    def show_item(self, index: int) -> None:
        self.current = index
        self.load_preview(index)

    @work(thread=True, exclusive=True, group="infer-preview", exit_on_error=False)
    def load_preview(self, index: int) -> None:
        # mypy cannot solve call_from_thread's ``T | Awaitable[T]`` for a coroutine method (it infers Never).
        item = self.items[index]
        sample = self.samples.get(item.input)
        score = self.scores.get(item.input)
        if sample is not None and self.setup is not None and score is not None and not score.problem:
            try:
                pictures = panels(sample, self.setup)
            except (UnreadableFile, UnsupportedExtension, ValueError, OSError) as exc:
                call_ui(self, self.show_error, index, str(exc))
                return
            call_ui(self, self.show_panels, index, pictures, score)
            return
        try:
            images = preview(item, relative=self.relative)
        except (UnreadableFile, OSError) as exc:
            call_ui(self, self.show_error, index, str(exc))
            return
        call_ui(self, self.show_preview, index, images, score.problem if score else None)

    async def show_error(self, index: int, message: str) -> None:
        async with self._swap:
            if index != self.current:
                return
            self.query_one("#infer-caption", Static).update(f"[red]{message}[/]")
            await self.query_one("#infer-preview", Vertical).remove_children()

    async def show_panels(self, index: int, pictures: Any, score: ImageError) -> None:
        """RGB | ground truth | prediction | |error| (two DepthPreviews side by side), the image's numbers above,
        the run's error by depth range below."""
        async with self._swap:
            if index != self.current:
                return
            item = self.items[index]
            caption = self.query_one("#infer-caption", Static)
            numbers = f"AbsRel {_num(score.abs_rel, '.4f')}  RMSE {_num(score.rmse, '.4g')}  δ1 {_num(score.d1, '.3f')}"
            width = caption.size.width or 80
            caption.update(f"{fit_path(item.input, width)}\n{numbers}\n[dim]{pictures.scales}[/]")
            box = self.query_one("#infer-preview", Vertical)
            await box.remove_children()
            await box.mount(
                Horizontal(
                    DepthPreview(pictures.rgb, pictures.gt, "truth", rgb_caption="RGB"),
                    DepthPreview(
                        pictures.pred,
                        pictures.error,
                        "|error|",
                        rgb_caption="prediction",
                    ),
                    id="infer-panels",
                )
            )
        self.query_one("#infer-hist", Static).update(self._bins_text())

    def _bins_text(self) -> str:
        result, setup = self.analysis, self.setup
        if result is None or setup is None or not result.pooled:
            return ""
        p = result.pooled
        classes = sorted({s.dataset_name for s in self.samples.values()})
        rows = [(r[0], r[1], r[2], r[3], r[5]) for r in bin_rows(result.bins, classes)]  # RMSE: see the CLI
        head, *lines = aligned(rows, ("by depth", "truth", "px", "AbsRel", "δ1"))
        return "\n".join(
            [
                f"[b]all[/] AbsRel {p['abs_rel']:.4f}  δ1 {p['d1']:.4f}  RMSE {p['rmse']:.4g}",
                f"[b]{head}[/]",
                *lines,
                f"[dim]{describe(setup)}[/]",
            ]
        )

    async def show_preview(self, index: int, images: Any, problem: str | None = None) -> None:
        async with self._swap:
            if index != self.current:
                return
            item = self.items[index]
            source = "" if item.input_exists else " [dim](input not on this machine: TAO's left half)[/]"
            caption = self.query_one("#infer-caption", Static)
            text = f"{fit_path(item.input, caption.size.width or 80)}{source}"
            caption.update(text + (f"\n[yellow]not scored: {problem}[/]" if problem else ""))
            box = self.query_one("#infer-preview", Vertical)
            await box.remove_children()
            await box.mount(
                DepthPreview(images.rgb, images.depth_rgb, images.caption, rgb_caption="input RGB")
            )
        if images.histogram:
            top = max(c for _, _, c in images.histogram) or 1
            lines = [
                f"{lo:8.3g}–{hi:<8.3g} {'█' * max(1, round(20 * c / top)) if c else ''}"
                for lo, hi, c in images.histogram
            ]
            self.query_one("#infer-hist", Static).update("[b]predicted values[/]\n" + "\n".join(lines))
        else:
            self.query_one("#infer-hist", Static).update("")

    def action_help(self) -> None:
        from specgen.job.help import help_text
        from tui.screens.modals import HelpScreen

        self.app.push_screen(HelpScreen(help_text("analysis.md")))
