"""Step 5: what training starts from — a public release (fetched here), a file of your own, a TAO checkpoint of
an earlier run, or nothing (random weights: a sanity run). Each file is inspected in a worker and routed by
``specgen/job/weights.py``: the key it goes to, whether the head starts from scratch, or why TAO would refuse it."""

from __future__ import annotations

from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Input, Label, ProgressBar, Select, Static

from specgen.spec.releases import RELEASES, find_release
from tui.screens.base import WizardScreen
from tui.widgets.path_suggester import PathSuggester

SOURCES = {
    "release": "A public release (Depth Anything V2, DINOv2)",
    "file": "A file of your own (.pth)",
    "run": "A TAO checkpoint of an earlier train run",
    "none": "Nothing: random weights (a sanity run)",
}


def release_options() -> list[tuple[str, str]]:
    return [
        (f"{r.name} — {r.kind}, {r.encoder}, {r.licence}, {r.size_text()}", r.name)
        for r in RELEASES
        if r.fetchable
    ]


class WeightsScreen(WizardScreen):
    STEP = "weights"
    HELP_TOPIC = "weights.md"
    BINDINGS = [Binding("ctrl+g", "fetch", "Fetch")]

    def compose_body(self) -> ComposeResult:
        s = self.state
        with VerticalScroll(id="weights-body"):
            yield Label("Start training from")
            yield Select(
                [(v, k) for k, v in SOURCES.items()],
                value=s.weights_source if s.weights_source in SOURCES else "none",
                allow_blank=False,
                id="weights-source",
                compact=True,
            )
            with Vertical(id="release-box"):
                yield Label("Release (ctrl+g fetches it into the Hugging Face cache)")
                yield Select(
                    release_options(),
                    value=s.weights_release if find_release(s.weights_release) else "da2-vits",
                    allow_blank=False,
                    id="release",
                    compact=True,
                )
                yield Static("", id="release-info")
                yield ProgressBar(id="fetch-progress", show_eta=True)
            with Vertical(id="file-box"):
                yield Label("Weights file")
                yield Input(
                    s.weights_path if s.weights_source == "file" else "",
                    placeholder="/path/to/weights.pth",
                    suggester=PathSuggester(dirs_only=False),
                    id="weights-file",
                    compact=True,
                )
            with Vertical(id="run-box"):
                yield Label("Finished train run")
                yield Select([], prompt="(looking for finished train runs…)", id="run", compact=True)
            yield Static("", id="start-info")

    def on_mount(self) -> None:
        self.fetching = False
        self._show_boxes()
        self._describe_release()
        self.load_runs()
        if self.state.weights_source == "none":
            self._say_random()
        elif self.state.weights_path:
            self.inspect(self.state.weights_path)

    # ------------------------------------------------------------------ choices

    def _show_boxes(self) -> None:
        source = self.state.weights_source
        for box, wanted in (("#release-box", "release"), ("#file-box", "file"), ("#run-box", "run")):
            self.query_one(box).display = source == wanted
        self.query_one("#fetch-progress").display = False

    @on(Select.Changed, "#weights-source")
    def _source(self, event: Select.Changed) -> None:
        if event.value == self.state.weights_source:
            return
        self.state.weights_source = str(event.value)
        self.state.weights_path = ""
        self._show_boxes()
        if self.state.weights_source == "none":
            self._say_random()
        elif self.state.weights_source == "file":
            path = self.query_one("#weights-file", Input).value.strip()
            self._set_file(path)
        elif self.state.weights_source == "release":
            self._describe_release()
        else:
            self.query_one("#start-info", Static).update("[dim]Pick a finished train run.[/]")

    def _say_random(self) -> None:
        self.query_one("#start-info", Static).update(
            "[b]Random weights: a sanity run.[/] Nothing pretrained: it proves the pipeline and the data, not a "
            "useful model. The recipe trains from scratch (lr 1e-4, TAO's default)."
        )

    @on(Select.Changed, "#release")
    def _release(self, event: Select.Changed) -> None:
        if self.state.weights_source != "release" or event.value == self.state.weights_release:
            return  # the initial value, or not the chosen source
        self.state.weights_release = str(event.value)
        self.state.weights_path = ""
        self._describe_release()

    def _describe_release(self) -> None:
        release = find_release(str(self.query_one("#release", Select).value))
        if release is None or self.state.weights_source != "release":
            return
        self.state.weights_release = release.name
        lines = [f"[b]{release.title}[/] — {release.licence}, {release.size_text()}, from {release.repo_id}"]
        if release.non_commercial:
            lines.append("[yellow]CC-BY-NC-4.0: non-commercial use only.[/]")
        if release.max_depth:
            lines.append(f"Trained on {release.trained_on} with max_depth {release.max_depth:g}.")
        lines.append("[dim]ctrl+g fetches it (cached: a second fetch is instant).[/]")
        self.query_one("#release-info", Static).update("\n".join(lines))
        if not self.state.weights_path:
            self.query_one("#start-info", Static).update("[dim]Not fetched yet: ctrl+g.[/]")

    @on(Input.Changed, "#weights-file")
    def _file(self, event: Input.Changed) -> None:
        if self.state.weights_source == "file" and event.value.strip() != self.state.weights_path:
            self._set_file(event.value.strip())

    def _set_file(self, path: str) -> None:
        self.state.weights_path = path
        if path:
            self.inspect(path)
        else:
            self.query_one("#start-info", Static).update("[dim]Type the path of a .pth file.[/]")

    @on(Select.Changed, "#run")
    def _run(self, event: Select.Changed) -> None:
        if event.value == Select.NULL:
            return
        run_id, _, path = str(event.value).partition("|")
        self.state.weights_run, self.state.weights_path = run_id, path
        self.inspect(path)

    # ------------------------------------------------------------------ workers

    @work(thread=True, exclusive=True, group="weights-runs", exit_on_error=False)
    def load_runs(self) -> None:
        """Finished train runs from the registry, each with the checkpoint it left (read only)."""
        from specgen.engine import registry
        from specgen.job.chain import ChainError, find_checkpoint

        options = []
        for record in sorted(registry.all_records(), key=lambda r: r.started, reverse=True):
            if record.action != "train" or record.verdict is None or not record.verdict.passed:
                continue
            try:
                ckpt = find_checkpoint(record.results_dir)
            except ChainError:
                continue
            options.append((f"{record.run_id} — {ckpt}", f"{record.run_id}|{ckpt}"))
        self.call_ui(self._set_runs, options)

    def _set_runs(self, options: list[tuple[str, str]]) -> None:
        select = self.query_one("#run", Select)
        select.set_options(options)
        select.prompt = "Pick a run" if options else "(no finished train run yet)"
        current = f"{self.state.weights_run}|{self.state.weights_path}"
        if any(v == current for _, v in options):
            select.value = current

    @work(thread=True, exclusive=True, group="weights-inspect", exit_on_error=False)
    def inspect(self, path: str) -> None:
        """Read the file's keys (milliseconds, no torch) and route it for this model; shown when still current."""
        from specgen.job.weights import route_file

        s = self.state
        route = route_file(path, s.model_type, None, "train")
        info = None
        if route.problem is None or "no such file" not in route.problem.message:
            from specgen.data.checkpoints import CheckpointError
            from specgen.job.weights import inspect_file

            try:
                info = inspect_file(path)
            except CheckpointError:
                info = None
        self.call_ui(self._show_route, path, route, info)

    def _show_route(self, path: str, route: Any, info: Any) -> None:
        if path != self.state.weights_path:
            return  # a newer path is being inspected
        s = self.state
        lines = [f"[b]{info.describe()}[/]"] if info is not None else []
        if route.problem is not None:
            lines.append(f"[red]✗ {route.problem.message}[/]")
            lines.append(f"[green]→ {route.problem.fix}[/]")
        else:
            lines.append(f"[green]✓ goes to {route.key}[/]")
            if route.encoder and route.encoder != s.encoder:
                lines.append(f"model.encoder {s.encoder} → {route.encoder} (taken from the file)")
                s.encoder = route.encoder
            lines += [n for n in route.notes if not n.startswith("encoder ") and "fresh head" not in n]
            if route.head_from_scratch:
                lines.append(
                    "[yellow]The head learns from scratch:[/] the recipe keeps lr 5e-6 (the head gets 10×) and, "
                    "for a Relative head, train.seed 42: on the real TAO a fresh Relative head died at 5e-5 and at "
                    "TAO's seed 1234."
                )
            lines += self._max_depth(path)
        self.query_one("#start-info", Static).update("\n".join(lines))

    def _max_depth(self, path: str) -> list[str]:
        """A metric release sets dataset.max_depth to the value it was trained with, or says why not."""
        from specgen.spec.releases import release_for_file

        s = self.state
        release = release_for_file(path)
        if release is None or release.max_depth is None:
            return []
        if s.model_type != "MetricDepthAnything":
            return [f"{release.name} is a metric release in a Relative model: max_depth does not apply."]
        if s.max_depth is None or s.max_depth == release.max_depth:
            s.max_depth = release.max_depth
            s.min_depth = s.min_depth if s.min_depth is not None else 0.001
            return [f"dataset.max_depth {release.max_depth:g}: the value this release was trained with."]
        return [
            f"[yellow]dataset.max_depth stays {s.max_depth:g}[/] (you set it): the release was trained with "
            f"{release.max_depth:g}, so its first predictions are scaled by {s.max_depth / release.max_depth:.2g}."
        ]

    def action_fetch(self) -> None:
        if self.state.weights_source != "release":
            self.notify("Choose “A public release” first.")
            return
        if self.fetching:
            return
        release = find_release(self.state.weights_release)
        if release is None:
            return
        self.fetching = True
        bar = self.query_one("#fetch-progress", ProgressBar)
        bar.display = True
        bar.update(total=release.size_bytes, progress=0)
        self.fetch(release.name)

    @work(thread=True, exclusive=True, group="weights-fetch", exit_on_error=False)
    def fetch(self, name: str) -> None:
        from specgen.engine.hub import FetchError, fetch

        release = find_release(name)
        assert release is not None

        def progress(done: int, total: int | None) -> None:
            self.call_ui(self._progress, done, total)

        try:
            got = fetch(release, progress=progress)
        except FetchError as exc:
            self.call_ui(self._fetched, name, None, str(exc))
            return
        self.call_ui(self._fetched, name, got.path, "")

    def _progress(self, done: int, total: int | None) -> None:
        self.query_one("#fetch-progress", ProgressBar).update(total=total, progress=done)

    def _fetched(self, name: str, path: str | None, error: str) -> None:
        self.fetching = False
        self.query_one("#fetch-progress").display = False
        if path is None:
            self.query_one("#start-info", Static).update(f"[red]✗ {error}[/]")
            self.notify(error, severity="error", title="Fetch")
            return
        if name == self.state.weights_release:
            self.state.weights_path = path
            self.notify(path, title=f"{name} fetched")
            self.inspect(path)

    # ------------------------------------------------------------------ leaving

    def commit(self) -> bool:
        s = self.state
        if s.weights_source == "none":
            s.weights_path = ""
            return True
        if not s.weights_path:
            what = "fetch the release (ctrl+g)" if s.weights_source == "release" else "give a file"
            self.notify(f"No weights yet: {what}, or choose “Nothing” for a sanity run.", severity="warning")
            return False
        from specgen.job.weights import route_file

        route = route_file(s.weights_path, s.model_type, s.encoder)
        if route.problem is not None:
            self.notify(
                f"{route.problem.message}: {route.problem.fix}", severity="error", title="Not this file"
            )
            return False
        return True

    def action_back(self) -> None:
        self.wizard.prev_step()  # going back keeps what was chosen, even unfinished
