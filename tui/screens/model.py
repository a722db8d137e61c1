"""Step 4: model_type and dataset_name (only valid pairs), the doctor-backed warning, the encoder."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Label, Select, Static

from specgen.data.doctor import DoctorReport
from specgen.job.validate import KNOWN_FAILURES
from specgen.spec.catalog import classes_for, lookup_dataset
from tui.screens.base import WizardScreen
from tui.screens.doctoring import ALERT_CODES, annotation_file, findings_markup, run_doctor
from tui.screens.modals import TypedConfirmScreen

ENCODER_NOTES = {
    "vits": "ViT-S, ~25M params: fits any GPU; fastest, least accurate",
    "vitb": "ViT-B, ~98M params: ~12 GB for training at batch 1–2",
    "vitl": "ViT-L, ~335M params (default): 24 GB+ for training at 518×518",
    "vitg": "ViT-G, ~1.3B params: 80 GB-class GPUs only",
}
MODEL_NOTES = {
    "MetricDepthAnything": "predicts depth in metres; needs ground truth in a known unit",
    "RelativeDepthAnything": "predicts relative disparity; works with ground truth of unknown scale",
}


class ModelScreen(WizardScreen):
    STEP = "model"
    HELP_TOPIC = "finetuning.md#Relative or metric"
    BINDINGS = [Binding("ctrl+f", "apply_fix", "Apply fix")]

    report: DoctorReport | None = None
    #: The newest check asked for, and the newest one answered: the door (``action_next``) judges only an answered
    #: check of the current choice. A ctrl+n while the files are still being read waits for their answer: before,
    #: it went through on no report (or on the last class's report) — a NaN run let past the door by a quick key.
    _check_asked = 0
    _check_answered = 0
    _next_when_checked = False

    def compose_body(self) -> ComposeResult:
        s = self.state
        with VerticalScroll(id="model-body"):
            yield Label("Model type")
            yield Select(
                [(m, m) for m in MODEL_NOTES],
                value=s.model_type,
                allow_blank=False,
                id="model-type",
                compact=True,
            )
            yield Static("", id="model-info")
            yield Label("Dataset class (only those that pair with the model type)")
            yield Select(
                self._class_options(s.model_type),
                value=self._valid_class(s.model_type, s.dataset_name),
                allow_blank=False,
                id="dataset-name",
                compact=True,
            )
            yield Static("", id="class-info")
            yield Static("", id="nyu-warning")
            yield Label("Encoder")
            yield Select(
                [(k, k) for k in ENCODER_NOTES],
                value=s.encoder,
                allow_blank=False,
                id="encoder",
                compact=True,
            )
            yield Static(ENCODER_NOTES[s.encoder], id="encoder-info", classes="dim")

    @staticmethod
    def _class_options(model_type: str) -> list[tuple[str, str]]:
        return [(f"{d.name} ({d.kind})", d.name) for d in classes_for(model_type)]

    @staticmethod
    def _valid_class(model_type: str, name: str) -> str:
        names = [d.name for d in classes_for(model_type)]
        ds = lookup_dataset(name)
        return ds.name if ds and ds.name in names else names[0]

    def on_mount(self) -> None:
        self.state.dataset_name = self._valid_class(self.state.model_type, self.state.dataset_name)
        self._describe()
        self.check()

    @on(Select.Changed, "#model-type")
    def _model_changed(self, event: Select.Changed) -> None:
        if event.value == self.state.model_type:
            return
        self.state.model_type = str(event.value)
        choice = self.query_one("#dataset-name", Select)
        new = self._valid_class(
            self.state.model_type,
            self.state.dataset_name.replace("Relative", "")
            if self.state.model_type == "MetricDepthAnything"
            else self.state.dataset_name + "Relative",
        )
        choice.set_options(self._class_options(self.state.model_type))
        choice.value = new
        self.state.dataset_name = new
        if self.state.model_type == "RelativeDepthAnything":
            self.state.min_depth = self.state.max_depth = None
        self._describe()
        self.check()

    @on(Select.Changed, "#dataset-name")
    def _class_changed(self, event: Select.Changed) -> None:
        if event.value == Select.NULL or event.value == self.state.dataset_name:
            return
        self.state.dataset_name, self.state.dataset_chosen = str(event.value), True
        self._describe()
        self.check()

    @on(Select.Changed, "#encoder")
    def _encoder_changed(self, event: Select.Changed) -> None:
        self.state.encoder = str(event.value)
        self.query_one("#encoder-info", Static).update(ENCODER_NOTES[self.state.encoder])

    def _describe(self) -> None:
        self.query_one("#model-info", Static).update(f"[dim]{MODEL_NOTES[self.state.model_type]}[/]")
        ds = lookup_dataset(self.state.dataset_name)
        if ds:
            self.query_one("#class-info", Static).update(
                f"[b]{ds.name}[/]: {ds.explanation}\nexpects: {ds.ground_truth}"
            )

    def check(self) -> None:
        """Read the files against the current choice (in a worker); the door waits for the answer."""
        self._check_asked += 1
        self._check(self._check_asked)

    @work(thread=True, exclusive=True, group="doctor", exit_on_error=False)
    def _check(self, asked: int) -> None:
        report: DoctorReport | None = None
        try:
            if annotation_file(self.state):
                report = run_doctor(self.state)
        except (OSError, ValueError) as exc:
            self.call_ui(self.notify, str(exc), severity="error", title="Data check")
        finally:  # answered, whatever happened: a failed check must not hold the door shut for ever
            self.call_ui(self._answered, asked, report)

    def _answered(self, asked: int, report: DoctorReport | None) -> None:
        if asked != self._check_asked:
            return  # a newer check is running: its answer is the one that counts
        self._check_answered = asked
        if report is not None:
            self._show(report)
        else:  # no annotation file, or the check failed: no report of another class judges this one
            self.report = None
        if self._next_when_checked:
            self._next_when_checked = False
            self.action_next()

    def _show(self, report: DoctorReport) -> None:
        if report.dataset_name != self.state.dataset_name or report.model_type != self.state.model_type:
            return  # a newer choice is being checked
        self.report = report
        text = findings_markup(report, ALERT_CODES)
        warning = self.query_one("#nyu-warning", Static)
        warning.set_class(bool(text), "alert")
        warning.update(
            f"[b]From your files:[/]\n{text}" if text else "[green]✓ the files match this class[/]"
        )

    def _known_failure(self) -> str | None:
        """The doctor's finding that this run's loss will be NaN (None when the data is fine or not checked yet)."""
        if self.report is None:
            return None
        found = next(
            (f for f in self.report.findings if f.code in KNOWN_FAILURES and f.severity == "error"), None
        )
        return f"{found.code}: {found.message}" if found else None

    def action_next(self) -> None:
        """The door holds: a class the data says gives a NaN loss needs the fix (ctrl+f) or a typed override. While
        the files are being read, the step goes on (or asks) once they are."""
        if self._check_answered != self._check_asked:
            if not self._next_when_checked:
                self.notify("Reading your files against this class first…", title="Data check")
            self._next_when_checked = True
            return
        why = self._known_failure()
        if why and not self.state.allow_known_failure:
            self.confirm_known_failure(why)
            return
        super().action_next()

    @work(exclusive=True, group="door", exit_on_error=False)
    async def confirm_known_failure(self, why: str) -> None:
        question = (
            f"{why}\n\nThis run's loss will be NaN and TAO will still print PASS. Fix it with ctrl+f "
            "(the class that reads your files), or go on knowingly."
        )
        if await self.app.push_screen_wait(TypedConfirmScreen(question, "NAN")):
            self.state.allow_known_failure = True  # remembered in the session
            self.notify("Going on with a run the data says will produce NaN.", severity="warning")
            super().action_next()

    def _fix(self) -> dict | None:
        if not self.report:
            return None
        return next((f.autofix for f in self.report.findings if f.code in ALERT_CODES and f.autofix), None)

    def action_apply_fix(self) -> None:
        fix = self._fix()
        if not fix:
            self.notify("Nothing to fix: the files match this class.")
            return
        if "model_type" in fix and fix["model_type"] != self.state.model_type:
            self.query_one("#model-type", Select).value = fix["model_type"]
            self.state.model_type = fix["model_type"]
            self.query_one("#dataset-name", Select).set_options(self._class_options(self.state.model_type))
        name = fix.get("dataset_name", self.state.dataset_name)
        self.state.dataset_name, self.state.dataset_chosen = name, True
        self.state.allow_known_failure = False  # fixed: no override stands for a later choice
        self.query_one("#dataset-name", Select).value = name
        self._describe()
        self.notify(f"dataset_name → {name}", title="Fixed")
        self.check()
