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
            yield Select([(v, k) for k, v in RECIPE_LABELS.items()], value=s.recipe, allow_blank=False, id="recipe", compact=True)
            yield Label("Values it sets (Enter on a row to edit; edited values are marked ✎)")
            yield DataTable(id="values", cursor_type="row", zebra_stripes=True)
            yield Label("Training precision")
            choices = precision_choices("7.3.0")
            current = str(s.overrides.get("train.precision", "fp32"))
            yield Select([(c.value + ("" if c.available else " (not on this setup)"), c.value) for c in choices],
                         value=current, allow_blank=False, id="precision", compact=True)
            yield Static("[dim]fp32 is recommended. bf16 halves memory but needs an SM80+ GPU (A100, H100, L40, RTX 30/40) "
                         "and TAO 7.3.0 or newer; fp16 can overflow in ViT attention and turn the loss into NaN.[/]",
                         id="precision-note")

    def on_mount(self) -> None:
        self.query_one("#values", DataTable).add_columns("key", "value", "why")
        self.refresh_table()

    def values(self) -> list[tuple[str, Any, str, bool]]:
        s = self.state
        recipe = get_recipe(s.recipe, s.model_type, s.min_depth, s.max_depth)
        rows = [(v.path, s.overrides.get(v.path, v.value), v.reason, v.path in s.overrides) for v in recipe.values]
        known = {r[0] for r in rows}
        rows += [(k, v, "your override", True) for k, v in s.overrides.items() if k not in known]
        return rows

    def refresh_table(self) -> None:
        table = self.query_one("#values", DataTable)
        table.clear()
        for key, value, reason, edited in self.values():
            table.add_row(("✎ " if edited else "") + key, repr(value) if isinstance(value, str) else str(value), reason, key=key)

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
            self.notify("bf16 needs an SM80+ GPU (A100, H100, L40, RTX 30/40).", severity="warning")
        self.refresh_table()

    @on(DataTable.RowSelected, "#values")
    def _edit(self, event: DataTable.RowSelected) -> None:
        key = str(event.row_key.value)
        row = next(r for r in self.values() if r[0] == key)
        self.edit(key, str(row[1]), row[2])

    @work
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
