"""Step 2: convert patterns with a live preview that never blocks typing.

The data root is walked once (a thread worker). Each edit bumps a generation number and (after a short
debounce) re-plans from the index in a worker; a result whose generation is not the latest is discarded.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.validation import Number
from textual.widgets import DataTable, Input, Label, Static

from specgen.data.convert import (
    ConvertOptions,
    FileIndex,
    Plan,
    WalkCancelled,
    build_index,
    plan,
    write_annotations,
)
from specgen.spec.atomicio import RefusedOverwrite
from tui.screens.base import WizardScreen
from tui.screens.modals import ConfirmScreen
from tui.widgets.findings import finding_markup
from tui.widgets.plain import plain_cell
from tui.widgets.tables import fill_table

DEBOUNCE = 0.15


def _any_written(out: Path) -> bool:
    return any((out / n).exists() for n in ("train.txt", "val.txt", "test.txt"))


def split_list(text: str) -> list[str]:
    return [p for p in (x.strip() for x in text.split(",")) if p]


class ConvertScreen(WizardScreen):
    STEP = "convert"
    HELP_TOPIC = "troubleshooting.md"
    BINDINGS = [
        Binding("ctrl+f", "apply_fix", "Apply fix"),
        Binding("ctrl+w", "write", "Write annotations"),
        Binding("ctrl+r", "refresh", "Re-scan"),
    ]

    class PlanReady(Message):
        def __init__(self, generation: int, result: Plan) -> None:
            super().__init__()
            self.generation = generation
            self.result = result

    def __init__(self) -> None:
        super().__init__()
        self.index: FileIndex | None = None
        self.generation = 0
        self.shown_generation = -1
        self.latest: Plan | None = None
        self._debounce: Timer | None = None

    def compose_body(self) -> ComposeResult:
        s = self.state
        with Horizontal(id="convert-body"):
            with Vertical(id="convert-form"):
                yield Label("Image pattern(s), a,b")
                yield Input(", ".join(s.image_patterns), id="image-patterns", compact=True)
                yield Label("Depth pattern(s), same order")
                yield Input(", ".join(s.depth_patterns), id="depth-patterns", compact=True)
                yield Label("Image extension, with dot")
                yield Input(s.image_extension, id="image-ext", compact=True)
                yield Label("Depth extension, with dot")
                yield Input(s.depth_extension, id="depth-ext", compact=True)
                yield Label("Split ratio (0 or 1 = test only)")
                yield Input(
                    str(s.split_ratio),
                    id="split-ratio",
                    validators=[Number(minimum=0.0, maximum=1.0)],
                    compact=True,
                )
            with Vertical(id="convert-preview"):
                yield Static("Indexing …", id="counts")
                yield DataTable(id="samples", cursor_type="row", zebra_stripes=True)
                yield Static("", id="pitfalls")

    def on_mount(self) -> None:
        self.query_one("#image-patterns", Input).focus()
        self.start_index()

    # ------------------------------------------------------------------ options and workers

    def options(self) -> ConvertOptions:
        q = self.query_one
        try:
            ratio = float(q("#split-ratio", Input).value)
        except ValueError:
            ratio = self.state.split_ratio
        return ConvertOptions(
            image_patterns=split_list(q("#image-patterns", Input).value),
            depth_patterns=split_list(q("#depth-patterns", Input).value),
            image_extension=q("#image-ext", Input).value.strip(),
            depth_extension=q("#depth-ext", Input).value.strip(),
            split_ratio=min(max(ratio, 0.0), 1.0),
            results_dir=str(self.state.annotations_dir) if self.state.output_dir else None,
        )

    def start_index(self) -> None:
        self.index = None
        self.query_one("#counts", Static).update(f"Indexing {self.state.data_root} …")
        self.build(self.state.data_root)

    @work(thread=True, exclusive=True, group="index", exit_on_error=False)
    def build(self, root: str) -> None:
        def progress(done: int, files: int) -> None:
            self.call_ui(
                self.query_one("#counts", Static).update, f"Indexing … {files} files in {done} folders"
            )

        try:
            index = build_index(root, progress=progress, progress_every=512)
        except WalkCancelled:
            return
        except OSError as exc:
            self.call_ui(self.notify, str(exc), severity="error", title="Data root")
            return
        self.call_ui(self._indexed, index)

    def _indexed(self, index: FileIndex) -> None:
        self.index = index
        self.schedule_plan(delay=0)

    @on(Input.Changed)
    def _edited(self, event: Input.Changed) -> None:
        self.schedule_plan()

    def schedule_plan(self, delay: float = DEBOUNCE) -> None:
        """Bump the generation; plan after ``delay`` unless another edit comes first."""
        self.generation += 1
        if self._debounce is not None:
            self._debounce.stop()
        if self.index is None:
            return
        gen, opts, index = self.generation, self.options(), self.index
        self._debounce = self.set_timer(max(delay, 0.001), lambda: self.run_plan(gen, index, opts))

    @work(thread=True, exclusive=True, group="plan", exit_on_error=False)
    def run_plan(self, generation: int, index: FileIndex, opts: ConvertOptions) -> None:
        result = plan(index, opts)
        self.post_message(self.PlanReady(generation, result))

    def on_convert_screen_plan_ready(self, message: PlanReady) -> None:
        if message.generation != self.generation:
            return  # stale: the inputs changed since this plan started
        self.shown_generation = message.generation
        self.latest = message.result
        self.show(message.result)

    # ------------------------------------------------------------------ rendering

    def show(self, p: Plan) -> None:
        root = p.data_root.rstrip(os.sep) + os.sep
        missing = p.images_matched - p.pair_count
        counts = (
            f"[b]{p.files_indexed}[/] files · [b]{p.images_matched}[/] images matched · "
            f"[b green]{p.pair_count}[/] complete pairs · "
            f"[b {'red' if missing else 'green'}]{missing}[/] depth missing"
        )
        self.query_one("#counts", Static).update(counts)
        complete = p.head(8)  # the preview builds no more paths than it shows
        fill_table(
            self.query_one("#samples", DataTable),
            ("image", "→ depth (derived)"),
            [
                (
                    plain_cell(image.removeprefix(root)),
                    ("" if (image, depth) in complete else "✗ ") + plain_cell(depth.removeprefix(root)),
                )
                for image, depth in complete + (p.missing_head(4) if missing else [])
            ],
        )
        lines = []
        for i, pit in enumerate(p.pitfalls):
            key = " [b](ctrl+f fixes this)[/]" if pit.autofix and i == self._first_fix_index(p) else ""
            lines.append(finding_markup(pit, examples=1, strip=root, key_hint=key))
        if not p.pitfalls:
            lines.append("[green]✓ no pitfalls: these pairs are exactly what TAO's convert would write[/]")
        self.query_one("#pitfalls", Static).update("\n".join(lines))

    @staticmethod
    def _first_fix_index(p: Plan) -> int:
        return next((i for i, pit in enumerate(p.pitfalls) if pit.autofix), -1)

    # ------------------------------------------------------------------ actions

    def action_apply_fix(self) -> None:
        p = self.latest
        fix = next((pit.autofix for pit in p.pitfalls if pit.autofix), None) if p else None
        if not fix:
            self.notify("No warning here has an automatic fix.")
            return
        ids = {"image_extension": "#image-ext", "depth_extension": "#depth-ext"}
        for key, value in fix.items():
            if key == "data_root":
                self.state.data_root = str(value)
                self.start_index()
            elif key in ids:
                self.query_one(ids[key], Input).value = str(value)
        self.notify(", ".join(f"{k} → {v}" for k, v in fix.items()), title="Fixed")

    def action_refresh(self) -> None:
        self.start_index()

    def action_write(self) -> None:
        self.write_files(then_next=False)

    @work(exclusive=True, group="write", exit_on_error=False)
    async def write_files(self, then_next: bool) -> None:
        p = self.latest
        if p is None or self.shown_generation != self.generation:
            self.notify("The preview is still catching up with your edits; try again in a moment.")
            return
        if not p.usable:
            self.notify(
                "Nothing usable to write: fix the errors listed under the preview first.", severity="error"
            )
            return
        out = self.state.annotations_dir
        force = False
        if await asyncio.to_thread(_any_written, out):
            force = await self.app.push_screen_wait(
                ConfirmScreen(f"Annotation files already exist in {out}. Replace them?")
            )
            if not force:
                return
        try:  # a million pairs take seconds to write: never on the event loop
            result = await asyncio.to_thread(write_annotations, p, out, seed=self.state.seed, force=force)
        except (RefusedOverwrite, OSError) as exc:
            self.notify(str(exc), severity="error", title="Not written")
            return
        s = self.state
        s.train_file = str(out / "train.txt") if "train.txt" in result.files else ""
        s.val_file = str(out / "val.txt") if "val.txt" in result.files else ""
        s.test_file = str(out / "test.txt") if "test.txt" in result.files else ""
        self._store_options()
        s.annotations_key = self.annotations_key()
        s.save()
        self.notify(
            ", ".join(f"{n}: {c} lines" for n, c in result.files.items()) + f" → {out}",
            title="Annotations written",
        )
        if then_next:
            self.wizard.next_step()

    def _store_options(self) -> None:
        o = self.options()
        s = self.state
        s.image_patterns, s.depth_patterns = o.image_patterns, o.depth_patterns
        s.image_extension, s.depth_extension, s.split_ratio = (
            o.image_extension,
            o.depth_extension,
            o.split_ratio,
        )

    def commit(self) -> bool:
        self._store_options()
        return True

    def annotations_key(self) -> str:
        """What the written annotation files were made from; a change means they must be written again."""
        return self.state.data_root + "|" + self.options().model_dump_json(exclude={"results_dir"})

    def action_next(self) -> None:
        self._store_options()
        if (
            self.state.train_file or self.state.test_file
        ) and self.state.annotations_key == self.annotations_key():
            self.wizard.next_step()
        else:
            self.write_files(then_next=True)
