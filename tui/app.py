"""``depthnet-tui``: the Textual app. Until the wizard lands it shows the pairing table and the CLI."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Header, Markdown

from specgen.catalog import pairing_table

WELCOME = """\
# depthnet-tui

Configure, check and run **NVIDIA TAO depth_net** (monocular Depth Anything V2) jobs.

The guided wizard is being built. Everything it will do is already available headless:

* `depthnet convert …` — annotation files from a folder of RGB + depth, with TAO's pitfalls flagged
* `depthnet doctor …` — read the depth files and predict an empty valid mask / NaN loss before launch
* `depthnet spec ACTION …` — a validated spec for train, evaluate, inference, export, quantize, gen_trt_engine
* `depthnet validate SPEC.yaml` — every problem on its own line with the fix

Below: which `dataset_name` pairs with which `model_type`.
"""


class DepthnetApp(App[None]):
    """The application shell; screens of the wizard are pushed from here."""

    CSS_PATH = "app.tcss"
    TITLE = "depthnet-tui"
    SUB_TITLE = "TAO depth_net wizard"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("d", "toggle_dark", "Light/dark"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="welcome"):
            yield Markdown(WELCOME, id="intro")
            yield DataTable(id="pairs", zebra_stripes=True, cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#pairs", DataTable)
        table.add_columns("dataset_name", "model_type", "ground truth")
        for row in pairing_table():
            table.add_row(row["dataset_name"], row["model_type"], row["ground_truth"])

    def action_toggle_dark(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"


def main() -> None:
    DepthnetApp().run()


if __name__ == "__main__":
    main()
