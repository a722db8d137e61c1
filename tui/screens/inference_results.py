"""The inference results browser: every picture TAO wrote, the input RGB beside the predicted depth as a colour
map (textual-image; half cells as the fallback), the raw PFM's range and median."""

from __future__ import annotations

import asyncio

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from specgen.data.doctor.readers import UnreadableFile
from specgen.data.inference_outputs import InferenceOutput, list_outputs, preview
from tui.widgets.depth_preview import DepthPreview
from tui.widgets.tables import fill_table


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


class InferenceResultsScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("f1", "help", "Help"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self, results_dir: str, *, relative: bool = False, title: str = "") -> None:
        super().__init__()
        self.results_dir, self.relative, self.title_text = results_dir, relative, title
        self.items: list[InferenceOutput] = []
        self.current = -1  # the highlighted output: a slower preview of an earlier one must not replace it
        self._swap = asyncio.Lock()  # one preview swap at a time: never two pictures mounted at once

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

    @work(thread=True, exclusive=True, group="infer-list")
    def load(self) -> None:
        items = list_outputs(self.results_dir)
        self.app.call_from_thread(self.show_list, items)

    def show_list(self, items: list[InferenceOutput]) -> None:
        self.items = items
        with_pfm = sum(1 for i in items if i.pfm)
        title = self.title_text or f"Inference results in {self.results_dir}"
        self.query_one("#infer-title", Static).update(
            f"[b]{title}[/] — {len(items)} pictures, {with_pfm} with a raw PFM"
            if items
            else f"[b]{title}[/] — no pictures under inference_images yet"
        )
        table = self.query_one("#infer-list", DataTable)
        fill_table(
            table,
            ("input", "raw"),
            [
                (
                    item.input.rsplit("/", 2)[-2] + "/" + item.input.rsplit("/", 1)[-1],
                    "PFM" if item.pfm else "[dim]—[/]",
                )
                for item in items
            ],
            range(len(items)),
        )
        if items:
            table.focus()
            self.show_item(0)

    @on(DataTable.RowHighlighted, "#infer-list")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self.show_item(int(event.row_key.value))

    def show_item(self, index: int) -> None:
        self.current = index
        self.load_preview(index)

    @work(thread=True, exclusive=True, group="infer-preview")
    def load_preview(self, index: int) -> None:
        # mypy cannot solve call_from_thread's ``T | Awaitable[T]`` for a coroutine method (it infers Never).
        item = self.items[index]
        try:
            images = preview(item, relative=self.relative)
        except (UnreadableFile, OSError) as exc:
            self.app.call_from_thread(self.show_error, index, str(exc))  # type: ignore[arg-type]
            return
        self.app.call_from_thread(self.show_preview, index, images)  # type: ignore[arg-type]

    async def show_error(self, index: int, message: str) -> None:
        async with self._swap:
            if index != self.current:
                return
            self.query_one("#infer-caption", Static).update(f"[red]{message}[/]")
            await self.query_one("#infer-preview", Vertical).remove_children()

    async def show_preview(self, index: int, images) -> None:
        async with self._swap:
            if index != self.current:
                return
            item = self.items[index]
            source = "" if item.input_exists else " [dim](input not on this machine: TAO's left half)[/]"
            caption = self.query_one("#infer-caption", Static)
            caption.update(f"{fit_path(item.input, caption.size.width or 80)}{source}")
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

        self.app.push_screen(HelpScreen(help_text("after-training.md#reading")))
