"""Step 6: the spec for an action — highlighted YAML, problems inline, atomic save, the docker run line."""

from __future__ import annotations

from pathlib import Path

from rich.console import Group
from rich.padding import Padding
from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Label, Select, Static, Switch

from specgen.job.builders import SpecError
from specgen.job.validate import ACTIONS
from specgen.spec.docker_cmd import docker_command
from specgen.spec.problems import Problem
from specgen.spec.render import render
from tui.nav import OpenRun
from tui.screens.base import WizardScreen
from tui.screens.modals import SweepChoice, SweepOffer, save_confirmed

NEEDS_CHECKPOINT = {"evaluate", "inference", "export", "quantize"}
KEY_WIDTH = 40  # a dotted key longer than this breaks after a dot, never inside a name


def key_lines(path: str, width: int = KEY_WIDTH) -> list[str]:
    """``a.b.c`` as lines of at most ``width`` characters, broken only before a dot (a single longer name stays
    whole)."""
    lines: list[str] = []
    for part in path.split("."):
        piece = part if not lines else "." + part
        if lines and len(lines[-1]) + len(piece) <= width:
            lines[-1] += piece
        else:
            lines.append(piece)
    return lines


def problems_text(problems: list[Problem]) -> Group:
    """Each problem as: its key (broken at dots), the message, then the fix, indented under the key; words wrap,
    names in keys stay whole."""
    parts: list[Text | Padding] = []
    for i, p in enumerate(problems):
        error = p.severity == "error"
        head = Text("✗ " if error else "! ", style="bold red" if error else "bold yellow")
        head.append("\n  ".join(key_lines(p.path)), style="bold")
        body = Text(p.message)
        if p.fix:
            body.append("\n→ " + p.fix, style="green")
        if p.known_failure and error:
            body.append(
                "\n(to run it anyway: --allow-known-failure, or type the override on the Model step)",
                style="dim",
            )
        if i:
            parts.append(Text(""))
        parts += [head, Padding(body, (0, 0, 0, 2))]
    return Group(*parts)


class SpecScreen(WizardScreen):
    STEP = "spec"
    HELP_TOPIC = "parameters.md"
    BINDINGS = [
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+t", "toggle_full", "Full"),
        Binding("ctrl+r", "run", "Run"),
    ]
    #: the spec's default objective and space (``--param`` lines), found with the sweep offer
    _spec_defaults: tuple[str, list[str]] = ("", [])

    def compose_body(self) -> ComposeResult:
        s = self.state
        with Horizontal(id="spec-body"):
            with Vertical(id="spec-form"):
                yield Label("Action")
                yield Select(
                    [(a, a) for a in ACTIONS], value=s.action, allow_blank=False, id="action", compact=True
                )
                yield Label("Full spec (every key)")
                yield Switch(value=s.full_spec, id="full")
                yield Static("", id="start-line")
                yield Label("Checkpoint", id="checkpoint-label")
                yield Input(
                    s.checkpoint or str(Path(s.results_dir) / "train" / "dn_model_latest.pth"),
                    id="checkpoint",
                    compact=True,
                )
                yield Static("", id="problems")
                yield Static("", id="saved")
            with VerticalScroll(id="yaml-pane"):
                yield Static("", id="yaml")
        yield Static("", id="docker-cmd")

    def on_mount(self) -> None:
        self.refresh_spec()

    @on(Select.Changed, "#action")
    def _action(self, event: Select.Changed) -> None:
        self.state.action = str(event.value)
        self.refresh_spec()

    @on(Switch.Changed, "#full")
    def _full(self, event: Switch.Changed) -> None:
        self.state.full_spec = event.value
        self.refresh_spec()

    @on(Input.Changed, "#checkpoint")
    def _checkpoint(self, event: Input.Changed) -> None:
        self.state.checkpoint = event.value.strip()
        self.refresh_spec()

    def action_toggle_full(self) -> None:
        self.query_one("#full", Switch).toggle()

    def spec_path(self) -> Path:
        return Path(self.state.output_dir) / "specs" / f"{self.state.action}.yaml"

    def _show_start(self) -> None:
        """Train starts from the Weights step's choice; the other actions read the checkpoint field."""
        s = self.state
        train = s.action == "train"
        self.query_one("#checkpoint-label").display = not train
        self.query_one("#checkpoint", Input).display = not train
        line = self.query_one("#start-line", Static)
        line.display = train
        if train:
            start = s.start_file
            line.update(
                f"Start: {start} [dim](Weights step)[/]"
                if start
                else "Start: random weights — a sanity run [dim](Weights step)[/]"
            )

    def refresh_spec(self) -> None:
        self._show_start()
        try:
            spec, warnings = self.wizard.build_spec()
        except SpecError as exc:
            # the wide pane shows them: the form's column is too narrow for a dotted key and its fix
            self.query_one("#yaml", Static).update(problems_text(exc.problems))
            n = len(exc.problems)
            self.query_one("#problems", Static).update(
                f"[red b]✗ {n} problem{'s' if n > 1 else ''}[/] — no spec until fixed (listed on the right; "
                "ctrl+b steps back to change it)"
            )
            self.query_one("#docker-cmd", Static).update("")
            return
        text = render(spec, full=self.state.full_spec)
        yaml = Syntax(text, "yaml", theme="ansi_dark", word_wrap=False)
        self.query_one("#yaml", Static).update(
            Group(problems_text(warnings), Text(""), yaml) if warnings else yaml
        )
        n = len(warnings)
        self.query_one("#problems", Static).update(
            f"[yellow b]! {n} warning{'s' if n > 1 else ''}[/] — valid for {self.state.action}; read them above the spec"
            if warnings
            else f"[green]✓ valid for {self.state.action}[/]"
        )
        cmd = docker_command(
            self.state.action,
            str(self.spec_path()),
            data_roots=[self.state.data_root],
            output_dir=self.state.output_dir,
        )
        self.query_one("#docker-cmd", Static).update(f"[b]Run it:[/] {cmd}")

    def action_save(self) -> None:
        self.save()

    @work(exclusive=True, group="save", exit_on_error=False)
    async def save(self) -> None:
        await self.save_spec()

    def _spec_text(self) -> str | None:
        try:
            spec, _warnings = self.wizard.build_spec()
        except SpecError as exc:
            self.notify(exc.problems[0].line(), severity="error", title="Fix the spec first")
            return None
        path = self.spec_path()
        header = f"depth_net {self.state.action} spec — written by depthnet-tui\nrun: depth_net {self.state.action} -e {path}"
        return render(spec, full=self.state.full_spec, header=header)

    async def save_spec(self) -> bool:
        """Write the spec atomically, asking before replacing a different file; True when the file is current."""
        text = self._spec_text()
        if text is None:
            return False
        path = self.spec_path()
        saved = await save_confirmed(self.app, path, text)
        if saved != "saved":
            return saved == "unchanged"
        self.state.saved_specs[self.state.action] = str(path)
        self.state.save()
        self.query_one("#saved", Static).update(f"[green]saved {path}[/]")
        self.notify(f"{path}", title="Spec saved")
        return True

    def action_run(self) -> None:
        self.launch()

    @work(exclusive=True, group="launch", exit_on_error=False)
    async def launch(self) -> None:
        """Save, then the shared launch flow (options, preflight, start, Run screen); for train the options offer
        a sweep instead of one run (NVIDIA's way to train: its automl_policy "auto"), whose choice is remembered."""
        import asyncio

        from tui.screens.launch_flow import launch_or_sweep

        if not await self.save_spec():
            return
        s = self.state
        offer = await asyncio.to_thread(self._sweep_offer) if s.action == "train" else None
        launched, sweep = await launch_or_sweep(
            self.app,
            s.action,
            str(self.spec_path()),
            (s.run_backend, s.run_image, s.run_gpus, s.run_network),
            allow_known_failure=s.allow_known_failure,
            offer=offer,
            sweeps_dir=str(Path(s.output_dir) / "sweeps"),
        )
        choice, record, backend = launched
        if choice is not None:
            s.run_backend, s.run_image, s.run_gpus, s.run_network = choice
            if offer is not None:
                s.run_mode = "sweep" if sweep is not None else "run"
        if sweep is not None and offer is not None:
            self._remember_sweep(sweep.asked)
            s.last_sweep = sweep.folder or s.last_sweep
        if record is not None:
            s.last_run_id = record.run_id
        s.save()
        if record is not None:
            self.post_message(OpenRun(record, backend))
        elif sweep is not None and sweep.folder:
            await self.run_action("app.sweep")  # the Sweep screen, on the new study

    def _sweep_offer(self) -> SweepOffer:
        """What the run dialog offers for a sweep: the last choices, else the spec's defaults (TAO AutoML's space,
        val/abs_rel when it validates). Reads the saved spec: call it from a thread."""
        from specgen.engine.sweep import default_objective, default_space
        from specgen.spec.render import read_yaml

        s = self.state
        data = read_yaml(self.spec_path())
        self._spec_defaults = (default_objective(data)[0], [p.text() for p in default_space(data)])
        objective, space = self._spec_defaults
        return SweepOffer(
            preselect={"sweep": True, "run": False}.get(s.run_mode),
            trials=max(1, s.sweep_trials),
            parallel=max(0, s.sweep_parallel),
            objective=s.sweep_objective or objective,
            direction=s.sweep_direction,
            space=s.sweep_space or space,
        )

    def _remember_sweep(self, asked: SweepChoice) -> None:
        """Keep what the person changed; what equals the spec's default stays unset, so that it follows the spec."""
        s = self.state
        objective, space = self._spec_defaults
        s.sweep_trials, s.sweep_parallel, s.sweep_direction = asked.trials, asked.parallel, asked.direction
        s.sweep_objective = "" if asked.objective == objective else asked.objective
        s.sweep_space = [] if asked.space == space else list(asked.space)

    def action_next(self) -> None:
        self.notify(
            "This is the last step: save with ctrl+s and launch with ctrl+r (or run the docker line below)."
        )
