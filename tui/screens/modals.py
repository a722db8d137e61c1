"""Small modal screens: help, yes/no confirmation, value editor; saving a file with a yes before replacing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from tui.threads import FailuresToApp

if TYPE_CHECKING:
    from specgen.engine.slurm import SlurmOptions


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close")]

    def __init__(self, markdown: str) -> None:
        super().__init__()
        self.markdown = markdown

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box", classes="modal-box"):
            from textual.widgets import Markdown  # markdown-it costs ~40 ms: only when help is shown

            yield Markdown(self.markdown)
            yield Label("[dim]Esc to close[/]")


class ConfirmScreen(ModalScreen[bool]):
    """An explicit yes before anything the user owns is replaced."""

    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Label(self.question, id="question")
            with Horizontal(classes="buttons"):
                yield Button("Yes (y)", id="yes", variant="warning")
                yield Button("No (n)", id="no", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class TypedConfirmScreen(ModalScreen[bool]):
    """An override that must be typed, not pressed: for going on with a run the data says will fail."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, word: str) -> None:
        super().__init__()
        self.question, self.word = question, word

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Label(self.question, id="question")
            yield Label(f"Type [b]{self.word}[/] and Enter to go on anyway; Esc to go back and fix it.")
            yield Input(placeholder=self.word, id="typed")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.word:
            self.dismiss(True)
        else:
            event.input.value = ""
            self.notify(f"Type {self.word} exactly, or Esc to go back.", severity="warning")

    def action_cancel(self) -> None:
        self.dismiss(False)


async def save_confirmed(app: App, path: Path, text: str) -> Literal["saved", "unchanged", ""]:
    """Write ``text`` atomically; ask before replacing a different file. "" when nothing was saved (refused or
    failed, already said). Call from a worker (the question waits for the answer)."""
    from specgen.spec.atomicio import RefusedOverwrite, write_text_atomic

    overwrite = False
    if path.exists():
        if path.read_text(encoding="utf-8", errors="replace") == text:
            return "unchanged"
        overwrite = await app.push_screen_wait(ConfirmScreen(f"{path} exists. Replace it?"))
        if not overwrite:
            return ""
    try:
        write_text_atomic(path, text, overwrite=overwrite)
    except (RefusedOverwrite, OSError) as exc:
        app.notify(str(exc), severity="error", title="Not saved")
        return ""
    return "saved"


class EditValueScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, key: str, value: str, reason: str) -> None:
        super().__init__()
        self.key, self.value, self.reason = key, value, reason

    def compose(self) -> ComposeResult:
        with Vertical(classes="modal-box"):
            yield Label(f"[b]{self.key}[/b]")
            yield Label(self.reason, classes="dim")
            yield Input(self.value, id="edit-value", compact=True)
            yield Label("[dim]Enter to keep, Esc to cancel[/]")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ProblemsScreen(ModalScreen[bool]):
    """Preflight findings before a launch; when every one can be overridden, an explicit yes launches anyway."""

    BINDINGS = [Binding("escape,n", "answer(False)", "Back")]

    def __init__(self, title: str, problems: list[str], confirmable: bool) -> None:
        super().__init__()
        self.title_text, self.problems, self.confirmable = title, problems, confirmable

    def compose(self) -> ComposeResult:
        from rich.text import Text

        with Vertical(classes="modal-box", id="problems-box"):
            yield Label(f"[b]{self.title_text}[/b]")
            with VerticalScroll(id="problems-list"):  # every word of every fix, wrapped; scrolls when long
                for problem in self.problems:
                    yield Static(Text.assemble(("✗ ", "red"), problem), classes="problem")
            with Horizontal(classes="buttons"):
                if self.confirmable:
                    yield Button("Launch anyway (y)", id="yes", variant="warning")
                yield Button("Back (esc)", id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one(
            "#no", Button
        ).focus()  # Enter takes the safe answer; launching anyway is an explicit y

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def key_y(self) -> None:
        if self.confirmable:
            self.dismiss(True)

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class SweepOffer(NamedTuple):
    """A sweep, offered beside one run (train only): whether it is chosen first (None: NVIDIA's ``automl_policy:
    auto`` decides — a sweep when more than one GPU is free), and the values shown (the last ones, or the spec's
    defaults)."""

    preselect: bool | None
    trials: int
    parallel: int  # 0: one trial per GPU chosen
    objective: str
    direction: str  # "": follows the objective
    space: list[str]  # --param lines (TAO AutoML's ranges by default)


class SweepChoice(NamedTuple):
    """The sweep asked for: N trials, at most ``parallel`` at once (0: one per GPU), objective, direction ("" follows
    the objective) and the space as ``--param`` lines (each parsed and its key checked by the dialog)."""

    trials: int
    parallel: int
    objective: str
    direction: str
    space: list[str]


class RunChoice(NamedTuple):
    """What the run options dialog answers: the backend ("" = auto), image ("" = the action's), GPUs, Docker network
    ("" = default), for Slurm its options (the time-limit requeue among them), when a sweep was chosen instead of one
    run the sweep, and the retries after a machine failure (``--retries``; one run only)."""

    backend: str
    image: str
    gpus: str
    network: str
    slurm: SlurmOptions | None = None
    sweep: SweepChoice | None = None
    retries: int = 0


class RunOptionsScreen(FailuresToApp, ModalScreen[RunChoice | None]):
    """Where and how to run: backend, image, GPUs (picked from NVML's list when there is one), network, and the
    Slurm choices when ``sbatch`` is here; with a ``SweepOffer`` (train) also one run or a sweep of N trials, its
    search space shown and editable. Returns a ``RunChoice``, or None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    AUTO = ("auto: Docker if it answers, else local depth_net, else a script", "")

    class GpusFound(Message):
        """NVML's GPUs, found by the dialog's worker."""

        def __init__(self, gpus: list[Any]) -> None:
            super().__init__()
            self.gpus = gpus

    def __init__(
        self,
        backend: str,
        image: str,
        gpus: str,
        network: str,
        sweep: SweepOffer | None = None,
        action: str = "train",
    ) -> None:
        super().__init__()
        self.values = (backend, image, gpus, network)
        self.offer = sweep
        self.action = action

    def compose(self) -> ComposeResult:
        from textual.widgets import Checkbox, Select, SelectionList

        from specgen.engine.backends import BACKENDS
        from specgen.engine.records import MAX_RETRIES

        backend, image, gpus, network = self.values
        sweep_first = self.offer is not None and bool(self.offer.preselect)
        backends = [self.AUTO, *((kind.label, name) for name, kind in BACKENDS.items() if kind.offered())]
        if backend not in {v for _, v in backends}:
            backend = ""
        with VerticalScroll(classes="modal-box", id="run-options"):
            yield Label("[b]Run[/b]")
            if self.offer is not None:
                yield from self._compose_sweep(self.offer)
            yield Label("Backend")
            yield Select(backends, value=backend, allow_blank=False, id="opt-backend", compact=True)
            yield Label("Image [dim](empty: the TAO image for the action)[/]")
            yield Input(image, id="opt-image", compact=True)
            yield Label("GPUs [dim](0 | 0,1 | all | none)[/]", id="opt-gpus-label")
            yield Input(gpus, id="opt-gpus", compact=True)
            yield SelectionList[int](id="opt-gpu-list", classes="hidden", compact=True)
            yield Label("Docker network [dim](empty: default)[/]")
            yield Input(network, id="opt-network", compact=True)
            with Vertical(id="restart-opts", classes="hidden" if sweep_first else ""):
                yield Label(
                    f"Retries [dim](0–{MAX_RETRIES}: start again after a machine failure — NCCL, a GPU fault, a lost node; "
                    "never a data error)[/]"
                )
                yield Input("0", id="opt-retries", compact=True, type="integer")
            with Vertical(id="slurm-opts", classes="hidden" if backend != "slurm" else ""):
                yield Label(
                    "Slurm [dim](the run folder and results must be on a filesystem the nodes share)[/]"
                )
                with Horizontal(classes="fields"):
                    yield Input(placeholder="partition", id="opt-partition", compact=True)
                    yield Input(placeholder="time e.g. 2:00:00", id="opt-time", compact=True)
                with Horizontal(classes="fields"):
                    yield Input("1", placeholder="nodes", id="opt-nodes", compact=True, type="integer")
                    yield Input("1", placeholder="GPUs per node", id="opt-gpn", compact=True, type="integer")
                yield Select(
                    [
                        ("pyxis (srun --container-image)", "pyxis"),
                        ("apptainer exec --nv", "apptainer"),
                        ("none: depth_net installed on the nodes", "none"),
                    ],
                    value="pyxis",
                    allow_blank=False,
                    id="opt-runtime",
                    compact=True,
                )
                if self.action == "train":
                    yield Checkbox(
                        "Requeue near the time limit (the job resumes from its last checkpoint)",
                        id="opt-requeue",
                        compact=True,
                    )
            with Horizontal(classes="buttons"):
                yield Button(
                    "Start sweep (enter)" if sweep_first else "Launch (enter)", id="launch", variant="success"
                )
                yield Button("Cancel (esc)", id="cancel", variant="primary")

    def _compose_sweep(self, offer: SweepOffer) -> ComposeResult:
        from textual.widgets import Select, TextArea

        from specgen.engine.sweep import OBJECTIVES

        objectives = list(OBJECTIVES) if offer.objective in OBJECTIVES else [offer.objective, *OBJECTIVES]
        yield Select(
            [
                ("one run (plain training)", "run"),
                ("a sweep of N trials (AutoML: Optuna, one per GPU)", "sweep"),
            ],
            value="sweep" if offer.preselect else "run",
            allow_blank=False,
            id="opt-mode",
            compact=True,
        )
        with Vertical(id="sweep-opts", classes="" if offer.preselect else "hidden"):
            yield Label("Trials · at once [dim](empty: one per GPU)[/]")
            with Horizontal(classes="fields"):
                yield Input(str(offer.trials), id="opt-trials", compact=True, type="integer")
                yield Input(
                    str(offer.parallel or ""),
                    placeholder="one per GPU",
                    id="opt-parallel",
                    compact=True,
                    type="integer",
                )
            yield Label("Objective · direction", id="opt-objective-label")
            with Horizontal(classes="fields"):
                yield Select(
                    [(o, o) for o in objectives],
                    value=offer.objective,
                    allow_blank=False,
                    id="opt-objective",
                    compact=True,
                )
                yield Select(
                    [("follows the objective", ""), ("minimize", "minimize"), ("maximize", "maximize")],
                    value=offer.direction if offer.direction in ("minimize", "maximize") else "",
                    allow_blank=False,
                    id="opt-direction",
                    compact=True,
                )
            yield Label("Search space [dim](KEY=DIST:LOW:HIGH a line; TAO AutoML's to start)[/]")
            yield TextArea("\n".join(offer.space), id="opt-space", compact=True, soft_wrap=False)

    def on_mount(self) -> None:
        self.query_one("#launch", Button).focus()  # Enter launches, as its label says; Tab reaches the fields
        self.run_worker(self._load_gpus, thread=True, exclusive=True, group="gpus", exit_on_error=False)
        if self.offer is not None:
            self._show_direction()
            # the focused button scrolled the box to its end: show the choice of one run or a sweep first
            box = self.query_one("#run-options", VerticalScroll)
            self.call_after_refresh(box.scroll_home, animate=False)

    def _load_gpus(self) -> None:
        from specgen.engine import nvml

        found = nvml.facts()
        if found.gpus:
            self.post_message(self.GpusFound(found.gpus))

    def on_run_options_screen_gpus_found(self, message: GpusFound) -> None:
        self._show_gpus(message.gpus)
        free = [g for g in message.gpus if not g.busy]
        if self.offer is not None and self.offer.preselect is None and len(free) > 1:
            from textual.widgets import Select

            # NVIDIA's automl_policy "auto": train goes through a sweep when the GPUs are there for one
            self.query_one("#opt-mode", Select).value = "sweep"
            self.notify(
                f"{len(free)} GPUs free: a sweep is offered first (choose one run to train once)", timeout=6
            )

    def _show_gpus(self, gpus: list[Any]) -> None:
        """NVML knows the GPUs: a list to tick instead of typing indices (busy ones marked)."""
        from textual.widgets import SelectionList

        typed = self.query_one("#opt-gpus", Input).value.strip()
        chosen = (
            {g.index for g in gpus}
            if typed == "all"
            else {int(x) for x in typed.split(",") if x.strip().isdigit()}
        )
        picker = self.query_one("#opt-gpu-list", SelectionList)
        picker.add_options([(g.label(), g.index, g.index in chosen) for g in gpus])
        picker.remove_class("hidden")
        self.query_one("#opt-gpus", Input).add_class("hidden")
        self.query_one("#opt-gpus-label", Label).update("GPUs [dim](space ticks; none ticked: CPU only)[/]")

    def on_select_changed(self, event: Any) -> None:
        if event.select.id == "opt-backend":
            self.query_one("#slurm-opts").set_class(event.value != "slurm", "hidden")
        elif event.select.id == "opt-mode":
            sweep = event.value == "sweep"
            self.query_one("#sweep-opts").set_class(not sweep, "hidden")
            self.query_one("#restart-opts").set_class(sweep, "hidden")
            self.query_one("#launch", Button).label = "Start sweep (enter)" if sweep else "Launch (enter)"
        elif event.select.id in ("opt-objective", "opt-direction"):
            self._show_direction()

    def _show_direction(self) -> None:
        """The direction the sweep will take, said beside the objective (δ maximised, abs_rel and losses
        minimised)."""
        from textual.widgets import Select

        from specgen.engine.sweep import direction_for

        objective = str(self.query_one("#opt-objective", Select).value)
        asked = str(self.query_one("#opt-direction", Select).value)
        found = asked or direction_for(objective) or "minimize"
        self.query_one("#opt-objective-label", Label).update(
            f"Objective · direction [dim](→ {found}{', as asked' if asked else ''})[/]"
        )

    def _sweep(self) -> SweepChoice | None:
        """The sweep fields read back, or None (said in a notification) when one cannot be used."""
        from textual.widgets import Select, TextArea

        from specgen.engine.sweep import MAX_PARALLEL, check_keys, parse_space

        def number(widget_id: str) -> int | None:
            text = self.query_one(widget_id, Input).value.strip()
            return int(text) if text.lstrip("-").isdigit() else None

        trials, parallel = number("#opt-trials"), number("#opt-parallel")
        problem = None
        if trials is None or trials < 1:
            problem = "Trials: give a whole number, at least 1"
        elif self.query_one("#opt-parallel", Input).value.strip() and (
            parallel is None or not 1 <= parallel <= MAX_PARALLEL
        ):
            problem = f"At once: give 1 to {MAX_PARALLEL}, or leave it empty for one trial per GPU"
        lines = self.query_one("#opt-space", TextArea).text.splitlines()
        if problem is None:
            try:
                check_keys(parse_space(lines))
            except ValueError as exc:
                problem = str(exc).replace("--param ", "search space: ", 1)
        if problem is not None or trials is None:
            self.notify(problem or "", title="Sweep", severity="error")
            return None
        return SweepChoice(
            trials,
            parallel or 0,
            str(self.query_one("#opt-objective", Select).value),
            str(self.query_one("#opt-direction", Select).value),
            [line.strip() for line in lines if line.strip()],
        )

    def _gpus(self) -> str:
        from textual.widgets import SelectionList

        picker = self.query_one("#opt-gpu-list", SelectionList)
        if not picker.has_class("hidden"):
            return ",".join(str(i) for i in sorted(picker.selected)) or "none"
        return self.query_one("#opt-gpus", Input).value.strip() or "0"

    def _result(self) -> RunChoice | None:
        from textual.widgets import Checkbox, Select

        from specgen.engine.records import MAX_RETRIES
        from specgen.engine.slurm import SlurmOptions

        backend = self.query_one("#opt-backend", Select).value
        backend_name = str(backend) if backend is not Select.BLANK else ""
        typed = self.query_one("#opt-retries", Input).value.strip() or "0"
        retries = int(typed) if typed.isdigit() else -1
        if not 0 <= retries <= MAX_RETRIES:
            self.notify(f"Retries: give 0 to {MAX_RETRIES}", title="Run options", severity="error")
            return None
        slurm = None
        if backend_name == "slurm":

            def text(widget_id: str) -> str:
                return self.query_one(widget_id, Input).value.strip()

            try:
                slurm = SlurmOptions(
                    partition=text("#opt-partition") or None,
                    time=text("#opt-time") or None,
                    nodes=int(text("#opt-nodes") or 1),
                    gpus_per_node=int(text("#opt-gpn") or 1),
                    container_runtime=str(self.query_one("#opt-runtime", Select).value),
                    image=text("#opt-image") or None,
                    requeue=any(box.value for box in self.query("#opt-requeue").results(Checkbox)),
                    retries=retries,
                )
                slurm.check()
            except Exception as exc:  # noqa: BLE001 - pydantic or LaunchError: one line, the dialog stays
                self.notify(str(exc).splitlines()[0], title="Slurm options", severity="error")
                return None
        sweep = None
        if self.offer is not None and self.query_one("#opt-mode", Select).value == "sweep":
            sweep = self._sweep()
            if sweep is None:
                return None
        return RunChoice(
            backend_name,
            self.query_one("#opt-image", Input).value.strip(),
            self._gpus(),
            self.query_one("#opt-network", Input).value.strip(),
            slurm,
            sweep,
            0 if sweep is not None else retries,
        )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        result = self._result()
        if result is not None:
            self.dismiss(result)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id != "launch":
            self.dismiss(None)
            return
        result = self._result()
        if result is not None:
            self.dismiss(result)

    def action_cancel(self) -> None:
        self.dismiss(None)


class NoEngineScreen(ModalScreen[str]):
    """No Docker engine answers: say where we looked and let the person choose — start it (the command) and retry,
    the local backend (when depth_net is here), or a run.sh to run elsewhere. Returns "retry", "local", "script" or
    "" (cancel)."""

    BINDINGS = [Binding("escape", "choose('')", "Cancel")]

    def __init__(self, where: str, fix: str, local: bool) -> None:
        super().__init__()
        self.where, self.fix, self.local = where, fix, local

    def compose(self) -> ComposeResult:
        from rich.text import Text

        with Vertical(classes="modal-box", id="no-engine"):
            yield Label("[b]No Docker engine[/b]")
            yield Static(Text(f"Nothing answers at {self.where}. Start it, then retry:"), classes="problem")
            yield Static(Text(self.fix, style="bold"), classes="problem")
            yield Static(
                Text(
                    "Or run without Docker: the local backend needs depth_net on PATH (inside the TAO "
                    "container or a TAO venv)" + ("" if self.local else " — not found here") + "; a run.sh "
                    "holds the exact docker command to run on a GPU machine (listed as not started)."
                ),
                classes="problem",
            )
            with Horizontal(classes="buttons"):
                yield Button("Retry (r)", id="retry", variant="primary")
                yield Button("Local depth_net (l)", id="local", variant="success", disabled=not self.local)
                yield Button("Write run.sh (w)", id="script", variant="default")
                yield Button("Cancel (esc)", id="cancel", variant="default")

    def on_mount(self) -> None:
        self.query_one("#retry", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss("" if event.button.id == "cancel" else str(event.button.id))

    def key_r(self) -> None:
        self.dismiss("retry")

    def key_l(self) -> None:
        if self.local:
            self.dismiss("local")

    def key_w(self) -> None:
        self.dismiss("script")

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)
