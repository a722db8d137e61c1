"""Step 5: the recipe as editable defaults — every value with its reason; precision explained."""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Label, Select, Static

from specgen.spec.keypaths import parse_assignment
from specgen.spec.recipes import get_recipe, precision_choices
from tui.screens.base import WizardScreen
from tui.screens.modals import EditValueScreen
from tui.widgets.tables import fill_table

RECIPE_LABELS = {
    "finetune": "Fine-tune — the settings for adapting Depth Anything V2 to your data",
    "sanity": "Sanity run — fine-tune settings, one short epoch, loss logged every step",
    "plain": "Plain — TAO's own defaults plus only what a mono run needs",
}


class RecipeScreen(WizardScreen):
    STEP = "recipe"
    HELP_TOPIC = "spec-overrides.md"

    def compose_body(self) -> ComposeResult:
        s = self.state
        with Vertical(id="recipe-body"):
            yield Label("Recipe")
            yield Select(
                [(v, k) for k, v in RECIPE_LABELS.items()],
                value=s.recipe,
                allow_blank=False,
                id="recipe",
                compact=True,
            )
            yield Label("Values it sets (Enter on a row to edit; edited values are marked ✎)")
            yield DataTable(id="values", cursor_type="row", zebra_stripes=True)
            yield Label("Training precision")
            choices = precision_choices("7.3.0")
            current = str(s.overrides.get("train.precision", "fp32"))
            yield Select(
                [(c.value + ("" if c.available else " (not on this setup)"), c.value) for c in choices],
                value=current,
                allow_blank=False,
                id="precision",
                compact=True,
            )
            yield Static(
                "[dim]fp32 is recommended. fp16 halves activation memory but can overflow in ViT attention "
                "and turn the loss into NaN. bf16 training crashes in TAO 7.3.0 at its first validation.[/]",
                id="precision-note",
            )
            yield Static("", id="memory-estimate")

    def on_mount(self) -> None:
        self.free_gpus: list[tuple[int, float]] = []
        self.refresh_table()
        self.load_gpus()

    @work(thread=True, exclusive=True, group="recipe-gpus", exit_on_error=False)
    def load_gpus(self) -> None:
        """NVML's free memory per GPU (none without a driver: the estimate is shown alone)."""
        from specgen.engine import nvml

        found = [(g.index, g.memory_free / 2**30) for g in nvml.facts().gpus]
        if found:
            self.call_ui(self._set_gpus, found)

    def _set_gpus(self, gpus: list[tuple[int, float]]) -> None:
        self.free_gpus = gpus
        self.show_memory()

    def show_memory(self) -> None:
        """The run's peak GPU memory (fitted to real H100 runs), against the free memory of this machine's GPUs."""
        from specgen.job.memory_fit import estimate, fit_problem

        got = {k: v for k, v, _r, _e in self.values()}
        crop = got.get("dataset.train_dataset.augmentation.crop_size", [518, 518])
        crop = (
            crop if isinstance(crop, list) and crop and all(isinstance(x, int) for x in crop) else [518, 518]
        )
        batch = got.get("dataset.train_dataset.batch_size", 1)
        batch = batch if isinstance(batch, int) and batch > 0 else 1
        precision = str(got.get("train.precision", "fp32"))
        e = estimate(self.state.encoder, crop, batch, precision)
        line = f"GPU memory: {e.text()} for {self.state.encoder}, crop {crop[0]}×{crop[-1]}, batch {batch}, {precision}"
        problem = fit_problem(self.state.encoder, crop, batch, precision, self.free_gpus)
        if problem:
            line = f"[yellow]{line}: too much here — {problem.split(': ', 1)[-1]}[/]"
        elif self.free_gpus:
            line += f" [green](fits: {max(f for _, f in self.free_gpus):.0f} GiB free)[/]"
        self.query_one("#memory-estimate", Static).update(line)

    def start(self) -> str:
        """What training starts from (the Weights step's choice, routed): the recipe's lr follows it."""
        from specgen.job.weights import route_file

        path = self.state.start_file
        if not path:
            return "none"
        route = route_file(path, self.state.model_type, self.state.encoder)
        return route.start if route.ok else "whole"

    def values(self) -> list[tuple[str, Any, str, bool]]:
        s = self.state
        recipe = get_recipe(s.recipe, s.model_type, s.min_depth, s.max_depth, start=self.start())
        rows = [
            (v.path, s.overrides.get(v.path, v.value), v.reason, v.path in s.overrides) for v in recipe.values
        ]
        known = {r[0] for r in rows}
        rows += [(k, v, "your override", True) for k, v in s.overrides.items() if k not in known]
        return rows

    def refresh_table(self) -> None:
        values = self.values()
        fill_table(
            self.query_one("#values", DataTable),
            ("key", "value", "why"),
            [
                (
                    ("✎ " if edited else "") + key,
                    repr(value) if isinstance(value, str) else str(value),
                    reason,
                )
                for key, value, reason, edited in values
            ],
            [v[0] for v in values],
        )
        self.show_memory()

    @on(Select.Changed, "#recipe")
    def _recipe(self, event: Select.Changed) -> None:
        self.state.recipe = str(event.value)
        self.refresh_table()

    @on(Select.Changed, "#precision")
    def _precision(self, event: Select.Changed) -> None:
        if event.value == "fp32" and "train.precision" not in self.state.overrides:
            return
        self.state.overrides["train.precision"] = str(event.value)
        if event.value == "bf16":
            self.notify(
                "bf16 training crashes in TAO 7.3.0 at its first validation (measured on an H100): the spec "
                "step will call it an error.",
                severity="warning",
            )
        self.refresh_table()

    @on(DataTable.RowSelected, "#values")
    def _edit(self, event: DataTable.RowSelected) -> None:
        key = str(event.row_key.value)
        row = next(r for r in self.values() if r[0] == key)
        self.edit(key, str(row[1]), row[2])

    @work(exit_on_error=False)
    async def edit(self, key: str, value: str, reason: str) -> None:
        new = await self.app.push_screen_wait(EditValueScreen(key, value, reason))
        if new is None:
            return
        try:
            _k, parsed = parse_assignment(f"{key}={new}")
        except ValueError as exc:
            self.notify(str(exc), severity="error")
            return
        problem = self.wizard.check_override(key, parsed)
        if problem:
            self.notify(problem, severity="error", title="Not applied")
            return
        self.state.overrides[key] = parsed
        self.refresh_table()
