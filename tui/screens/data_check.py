"""Step 3: the doctor's findings in plain words, and pictures: RGB beside its depth, histogram, valid ratio."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from specgen.data.doctor import DoctorReport
from specgen.data.doctor.preview import PreviewImages, UnreadableFile, UnsupportedExtension, preview_images
from tui.screens.base import WizardScreen
from tui.screens.doctoring import annotation_file, findings_markup, run_doctor
from tui.widgets.depth_preview import DepthPreview

BAR = "█"


def histogram_markup(p: PreviewImages, width: int = 30) -> str:
    if not p.histogram:
        return "[red]no valid depth values to plot[/]"
    top = max(c for _lo, _hi, c in p.histogram) or 1
    rows = [
        f"{lo:8.3g}–{hi:<8.3g} {BAR * max(1 if c else 0, round(c / top * width)):<{width}} {c}"
        for lo, hi, c in p.histogram
    ]
    return f"[b]valid values ({p.unit})[/]\n" + "\n".join(rows)


class DataCheckScreen(WizardScreen):
    STEP = "data_check"
    HELP_TOPIC = "troubleshooting.md"
    BINDINGS = [Binding("ctrl+f", "apply_suggestion", "Apply fix"), Binding("ctrl+r", "rerun", "Re-check")]

    report: DoctorReport | None = None

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="check-body"):
            yield Static("Reading a sample of your depth files …", id="summary")
            yield Static("", id="findings")
            yield Static("", id="pictures-slot")
            yield Static("", id="histogram")

    def on_mount(self) -> None:
        if not annotation_file(self.state):
            self.query_one("#summary", Static).update(
                "[red]No annotation file yet: go back (ctrl+b) and write them.[/]"
            )
            return
        self.check()

    def action_rerun(self) -> None:
        self.check()

    @work(thread=True, exclusive=True, group="doctor", exit_on_error=False)
    def check(self) -> None:
        try:
            report = run_doctor(self.state)
        except (OSError, ValueError) as exc:
            self.call_ui(self.notify, str(exc), severity="error", title="Data check")
            return
        pictures = None
        first = next((s for s in report.samples if s.depth and not s.error), None)
        if first is not None:
            try:
                pictures = preview_images(
                    first.image,
                    first.depth or "",
                    report.dataset_name,
                    min_depth=self.state.min_depth,
                    max_depth=self.state.max_depth,
                )
            except (UnreadableFile, UnsupportedExtension):
                pictures = None
        self.call_ui(self.show, report, pictures)

    def show(self, report: DoctorReport, pictures: PreviewImages | None) -> None:
        self.report = report
        enc = report.encoding
        lines = [
            f"[b]{report.lines}[/] pairs in {report.data_file}; {len(report.samples)} sampled across scenes",
            f"class [b]{report.dataset_name}[/] ({report.model_type})",
        ]
        if enc:
            lines.append(
                f"files hold: [b]{enc.label}[/] (confidence {enc.confidence:.0%}) — "
                + "; ".join(enc.evidence[2:])
            )
        if report.valid_ratio is not None:
            colour = "red" if report.valid_ratio == 0 else "yellow" if report.valid_ratio < 0.05 else "green"
            lines.append(
                f"valid pixels as {report.dataset_name} sees them: [b {colour}]{report.valid_ratio:.1%}[/]"
            )
        s = report.suggestion
        if s and s.dataset_name:
            rng = f", depth {s.min_depth}–{s.max_depth} m" if s.min_depth is not None else ""
            lines.append(f"suggestion: [b]{s.dataset_name}[/] / {s.model_type}{rng} — ctrl+f applies it")
        elif s:
            lines.append(f"suggestion: {s.reason}")
        lines.append(
            "[red b]verdict: this run would fail or learn the wrong thing[/]"
            if report.fails
            else "[green b]verdict: healthy[/]"
        )
        self.query_one("#summary", Static).update("\n".join(lines))
        self.query_one("#findings", Static).update(findings_markup(report) or "[green]✓ no findings[/]")
        slot = self.query_one("#pictures-slot", Static)
        for old in self.query(DepthPreview):
            old.remove()
        if pictures is not None:
            self.query_one("#check-body").mount(
                DepthPreview(pictures.rgb, pictures.depth_rgb, pictures.caption), after=slot
            )
            self.query_one("#histogram", Static).update(histogram_markup(pictures))

    def action_apply_suggestion(self) -> None:
        s = self.report.suggestion if self.report else None
        if not s or not s.dataset_name:
            self.notify("No class to suggest for these files; see the findings.", severity="warning")
            return
        st = self.state
        st.dataset_name, st.model_type, st.dataset_chosen = (
            s.dataset_name,
            s.model_type or st.model_type,
            True,
        )
        if s.min_depth is not None:
            st.min_depth, st.max_depth = s.min_depth, s.max_depth
        self.notify(f"dataset_name {s.dataset_name}, model_type {st.model_type}", title="Suggestion applied")
        self.check()
