"""The Run screen: live loss chart, epoch/step progress with ETA, kpi table, searchable log, honest verdict.

The monitor (specgen.engine) runs in this screen's worker; its events land on the UI thread, are folded into a
RunProgress and drawn on a 100 ms tick, so a log flood cannot stall the screen. Leaving the screen never stops
the run: the container or process is detached and ``depthnet attach`` / the Runs screen pick it up again.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.styles import RulesMap
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Header, Input, Label, Log, ProgressBar, Static

from specgen.engine import registry
from specgen.engine.backend import Backend
from specgen.engine.events import Alert, Event, JobState, LogLine, Verdict
from specgen.engine.launch import stop
from specgen.engine.logparse import display
from specgen.engine.progress import RunProgress
from specgen.engine.records import BY_SCREEN, LaunchError, RunRecord
from specgen.engine.retry import follow  # monitor.follow, with the restarts in the verdict
from tui.nav import OpenMetrics, OpenNext, OpenOutputs
from tui.screens.modals import ConfirmScreen
from tui.threads import FailuresToApp
from tui.widgets.charts import Chart
from tui.widgets.logpane import LogPane
from tui.widgets.plain import plain, plain_cell

LOG_LINES = 5000  # the log pane keeps the newest lines; the whole log is in the run folder
TICK = 0.1
CHART_EVERY = 0.1  # seconds between chart redraws: point → drawn ≤ tick + this + the watch latency (< 250 ms)
#: A redraw waits at least this many times the last one's build: a chart whose figures take long to build (a busy
#: box, a flood of points) is redrawn less often rather than keeping its thread (it shares the loop's GIL) and the
#: helper process busy. A build is ~60–80 ms asked to shown under a 20k lines/s flood on a 2-core box: redrawn
#: ~5 times a second instead of 10, the loop's largest stall 47 → 25 ms; an idle box's ~20 ms builds keep 0.1 s.
CHART_SHARE = 3
CHART_POINTS = 600


class RunScreen(FailuresToApp, Screen[None]):
    BINDINGS = [
        Binding("escape", "leave", "Back"),  # the run goes on (the screen says so when leaving)
        Binding("ctrl+x", "stop_run", "Stop"),
        Binding("slash", "search", "Search"),
        Binding("n", "next_match", "Next match", show=False),
        Binding("ctrl+n", "next_step", "Next"),
        Binding("m", "metrics", "Metrics"),
        Binding("v", "outputs", "Depths"),
        # the verdict's reasons and the log lines a failure was read from; above the focused table/log (priority)
        Binding("enter", "why", "Why", show=False, priority=True),
    ]

    class Telemetry(Message):
        """A thread worker's sample of the run's GPUs, for the telemetry line."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, record: RunRecord, backend: Backend | None) -> None:
        super().__init__()
        self.record, self.backend = record, backend
        self.progress = RunProgress()
        self._pending_log: list[str] = []
        self._dirty: set[str] = set()
        self._match = -1
        self._chart_due = 0.0
        self._kpi_rows: list[tuple[str, str]] | None = None  # what the kpi table shows now
        self._progress_text = "waiting for the first step…"  # what the progress line shows now
        self._settled = False  # frozen again, once the first events were drawn (see on_mount)
        self._gone = False
        self.stopping = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self._title(), id="run-title")
        with Horizontal(id="run-top"):
            yield Chart(id="chart")
            with Vertical(id="run-side"):
                yield Static(self._progress_text, id="run-progress-line")
                yield ProgressBar(id="run-progress", show_eta=False)
                yield DataTable(id="kpi", cursor_type="none", zebra_stripes=True)
                yield Static("", id="gpu-telemetry", classes="hidden")
        yield LogPane(id="log", max_lines=LOG_LINES, auto_scroll=True)
        yield Input(
            placeholder="search the log (Enter: next match, Esc: close)", id="search", classes="hidden"
        )
        yield Static("", id="verdict")
        yield Footer(compact=True)

    def _title(self) -> str:
        r = self.record
        where = (
            r.container_id[:12]
            if r.container_id
            else (f"pid {r.pid}" if r.pid else "replayed from its folder")
        )
        return f"[b]{r.action}[/] run [b]{r.run_id}[/] · {r.backend} ({where}) · results {r.results_dir}"

    def on_mount(self) -> None:
        table = self.query_one("#kpi", DataTable)
        table.add_column("kpi", width=12)  # fixed: auto widths raced with the first rows (flaky pictures)
        table.add_column("value", width=10)
        self.draw_chart()  # the titled empty axes until the first point
        self.set_interval(TICK, self.flush)
        # A full (generation 2) garbage collection walks every object of the app: 40–50 ms with a screen this size,
        # the largest stall under a log flood. What exists now lives as long as the screen: keep it out of those walks.
        # Frozen once more when the first events have been drawn (``flush``): by then the screen's first layout and
        # render caches and the follower's own objects (its modules, watchers, readers) exist too — ~20k objects,
        # which otherwise kept every later full collection at 30–40 ms (~1 µs an object on a 2-core box), held in
        # one stretch by whichever thread allocated last, the loop's or not; after that freeze a full collection
        # walks only what came since: 1–4 ms.
        gc.freeze()
        self.follow_run()
        if self.backend is not None and self.backend.gpus_here:
            self.telemetry()

    @work(thread=True, exclusive=True, group="gpu-telemetry")
    def telemetry(self) -> None:
        """The run's GPUs once a second from NVML: utilisation, memory, temperature, power. No NVML (or GPUs) here:
        the line stays hidden and the worker ends — nothing is said, nothing fails."""
        import time

        from textual.worker import get_current_worker

        from specgen.engine import nvml

        worker = get_current_worker()
        indices = nvml.run_gpus(self.record.gpus)
        while not worker.is_cancelled and self.progress.verdict is None:
            samples = nvml.sample(indices)
            if not samples:
                return
            self.post_message(self.Telemetry("\n".join(s.line() for s in samples)))
            time.sleep(1.0)

    def on_run_screen_telemetry(self, message: Telemetry) -> None:
        line = self.query_one("#gpu-telemetry", Static)
        line.update(message.text)
        line.remove_class("hidden")

    def on_unmount(self) -> None:
        self._gone = True  # a freeze still queued must not outlive the screen
        gc.unfreeze()  # objects of a closed screen may be collected again

    def _freeze_again(self) -> None:
        """See on_mount. Not once the screen has gone (its unfreeze already ran)."""
        if not self._gone:
            gc.freeze()

    # ------------------------------------------------------------------ the monitor

    @work(exclusive=True, group="monitor", exit_on_error=False)
    async def follow_run(self) -> None:
        """The engine's ``follow``: events arrive on this loop (``on_run_event``); it saves the verdict itself."""
        await follow(self.record, self.backend, self.on_run_event)
        if self.record.action == "train":
            from specgen.engine.tensorboard import logdir_command

            command = await asyncio.to_thread(logdir_command, self.record.results_dir)
            if command is not None:  # every curve Lightning logged, beyond the few drawn here
                self._pending_log.append(f"» curves: {command}")

    def on_run_event(self, event: Event) -> None:
        """Called on the UI thread for every event; drawing waits for the next tick."""
        part = self.progress.apply(event)
        if isinstance(event, LogLine) and not event.progress:
            self._pending_log.append(
                display(event.text)
            )  # no raw control bytes to the terminal, long lines cut
        elif isinstance(event, Alert):
            if event.code == "NOT_SAVED":
                self.notify(event.message, severity="warning")
            else:
                self.raise_alert(event)
        elif isinstance(event, JobState):  # a Slurm job: pending (with its reason), running, how it ended
            self._pending_log.append(f"» {event.words}")
            self.sub_title = event.words
        self._dirty.add(part)

    def flush(self) -> None:
        if self._pending_log:
            lines, self._pending_log = self._pending_log[-LOG_LINES:], []  # the pane keeps no more anyway
            self.query_one("#log", Log).write_lines(lines)
        dirty, self._dirty = self._dirty, set()
        if dirty & {"chart", "kpi", "status"}:
            # after the frame that draws this tick's log lines: a frame repaints every widget in the box around all
            # that is dirty, and the progress line (top right) with the log (the bottom rows) made that box the whole
            # screen — 15–20 ms of the loop's CPU a frame where each alone costs a few
            self.call_after_refresh(self.draw_progress)
        if "chart" in dirty:
            now = time.monotonic()
            if now < self._chart_due and self.progress.verdict is None:
                self._dirty.add("chart")  # drawn at the next allowed tick
            else:
                self._chart_due = now + max(
                    CHART_EVERY, CHART_SHARE * self.query_one("#chart", Chart).build_seconds
                )
                self.draw_chart()
        if dirty & {"kpi", "chart"}:
            self.draw_kpi()
        if "verdict" in dirty:
            self.draw_verdict()
            self.refresh_bindings()
        if dirty and not self._settled:
            self._settled = True
            self.call_after_refresh(self._freeze_again)

    # ------------------------------------------------------------------ drawing

    def draw_chart(self) -> None:
        """Hand the chart copies of the loss series (the loop goes on adding to them while the figure is built in
        the chart's thread); sorting and thinning them to CHART_POINTS happens there too."""
        p = self.progress
        step = dict(p.step_loss)
        epochs = ((dict(p.epoch_train), "train_loss (epoch)"), (dict(p.epoch_val), "val/loss"))

        def loss(plt: Any) -> None:
            plt.title("loss")
            plt.xlabel("step")
            xs, ys = RunProgress.finite_points(step, CHART_POINTS)
            if xs:
                plt.plot(xs, ys, label="train loss (step)", marker="braille")
            for series, label in epochs:
                ex, ey = RunProgress.finite_points(series)
                if ex:
                    plt.scatter(ex, ey, label=label)

        self.query_one("#chart", Chart).draw(loss)

    def draw_progress(self) -> None:
        """The progress line is updated only when its text changed, and the screen laid out again only when the line
        changed height: ``Static.update`` lays the whole screen out otherwise, every widget drawn afresh — 14–20 ms
        of the loop's CPU, the largest frames left under a log flood, for a line that only had a new step count."""
        p = self.progress
        text = plain(p.progress_line())  # it can be status.json's own message: TAO's text, shown as it is
        if text != self._progress_text:
            self._progress_text = text
            line = self.query_one("#run-progress-line", Static)
            width, rules = (
                line.content_size.width,
                cast(RulesMap, line.styles),
            )  # as Widget.get_content_height
            before = line.visual.get_height(rules, width) if width else None
            line.update(text, layout=False)
            if before is None or line.visual.get_height(rules, width) != before:
                line.refresh(layout=True)
        bar = self.query_one("#run-progress", ProgressBar)
        if p.total_steps:
            bar.update(total=p.total_steps, progress=min(p.step, p.total_steps))

    def draw_kpi(self) -> None:
        """The kpi table, refilled only when what it shows changed: a refill makes Textual lay the whole screen
        out again, which under a log flood (every tick) was the largest stall left once the chart moved off."""
        rows = []
        for key, value in self.progress.kpi.items():
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            rows.append((key, shown))
        if rows == self._kpi_rows:
            return
        self._kpi_rows = rows
        table = self.query_one("#kpi", DataTable)
        table.clear()
        for key, shown in rows:
            table.add_row(
                plain_cell(key), plain_cell(shown) if shown not in ("nan", "inf") else f"[red b]{shown}[/]"
            )

    def draw_verdict(self) -> None:
        v = self.progress.verdict
        if v is None:
            return
        banner = self.query_one("#verdict", Static)
        tao = f" [dim]{plain(v.tao_note.strip())}[/]" if v.tao_note else ""
        more = " [dim](Enter: why)[/]" if v.excerpt or len(v.reasons) > 1 else ""
        banner.update(f"[b]{v.word}[/] — {plain(v.reason)}{tao}{more}")
        banner.set_class(v.passed, "pass")
        banner.set_class(not v.passed, "fail")
        self.sub_title = "finished"

    # ------------------------------------------------------------------ alerts and stop

    @work(group="alert", exit_on_error=False)
    async def raise_alert(self, alert: Alert) -> None:
        self.notify(alert.message, title=alert.code, severity="error", timeout=30)
        if self.backend is None or self.progress.verdict is not None or self.stopping:
            return
        if await self.app.push_screen_wait(ConfirmScreen(f"{alert.message}\n\nStop the run now?")):
            self.stop_now()

    def action_why(self) -> None:
        """Enter on a finished run: every reason, and the log lines the failure's reason was read from."""
        if self.progress.verdict is not None:
            self.app.push_screen(VerdictScreen(self.progress.verdict))

    def action_stop_run(self) -> None:
        self.confirm_stop()

    @work(group="alert", exit_on_error=False)
    async def confirm_stop(self) -> None:
        if self.backend is None or self.progress.verdict is not None:
            self.notify("This run has finished.")
            return
        if await self.app.push_screen_wait(
            ConfirmScreen(f"Stop {self.record.run_id}? (SIGTERM, then kill after 10 s)")
        ):
            self.stop_now()

    def stop_now(self) -> None:
        self.stopping = True
        self.notify(f"stopping {self.record.run_id}…")
        self.stop_worker()

    @work(thread=True, exclusive=True, group="stop", exit_on_error=False)
    def stop_worker(self) -> None:
        """The stop blocks (SIGTERM, the grace period, SIGKILL; scancel and its wait): off the loop. A refusal (the
        run ended meanwhile, scancel refused) is one line; the verdict follows from the monitor."""
        if self.backend is None:
            return
        try:  # run.json says who stopped it: the verdict is "stopped by you", not "killed"
            stop(self.record, 10, by=BY_SCREEN, backend=self.backend)
        except LaunchError as exc:
            self.post_message(self.Stopped(str(exc)))

    class Stopped(Message):
        def __init__(self, refusal: str) -> None:
            super().__init__()
            self.refusal = refusal

    def on_run_screen_stopped(self, message: Stopped) -> None:
        self.stopping = False
        self.notify(message.refusal, severity="warning", title="Not stopped")

    def action_leave(self) -> None:
        search = self.query_one("#search", Input)
        if not search.has_class("hidden"):
            search.add_class("hidden")
            self.query_one("#log", Log).focus()
            return
        if self.progress.verdict is None:
            self.notify(f"{self.record.run_id} keeps running; reopen it from Runs (F2) or `depthnet attach`.")
        self.app.pop_screen()

    # ------------------------------------------------------------------ after the run

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer what this run leads to only once it has finished, and only what fits its action."""
        if action == "why":  # Enter belongs to the search box while it is open
            return self.progress.verdict is not None and self.query_one("#search", Input).has_class("hidden")
        if action in ("next_step", "metrics", "outputs"):
            if self.progress.verdict is None:
                return False
            fits = {"metrics": ("evaluate", "train"), "outputs": ("inference",)}.get(action)
            return fits is None or self.record.action in fits
        return True

    def action_next_step(self) -> None:
        self.post_message(OpenNext(self.record))

    def action_metrics(self) -> None:
        self.post_message(OpenMetrics([self.record.run_id]))

    def action_outputs(self) -> None:
        self.post_message(OpenOutputs(self.record))

    # ------------------------------------------------------------------ log search

    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        search.remove_class("hidden")
        search.focus()

    @on(Input.Submitted, "#search")
    def _search(self, event: Input.Submitted) -> None:
        self.action_next_match()

    def action_next_match(self) -> None:
        needle = self.query_one("#search", Input).value.lower()
        log = self.query_one("#log", Log)
        if not needle:
            return
        lines = log.lines
        for offset in range(1, len(lines) + 1):
            i = (self._match + offset) % len(lines)
            if needle in lines[i].lower():
                self._match = i
                log.auto_scroll = False
                log.scroll_to(y=max(0, i - 2), animate=False)
                self.query_one("#search", Input).border_subtitle = f"line {i + 1}"
                return
        self.notify(
            f"'{needle}' is not in the last {len(lines)} lines (the whole log: "
            f"{registry.log_path(self.record)})",
            severity="warning",
        )


class VerdictScreen(ModalScreen[None]):
    """The verdict in full (the banner's Enter): every reason, and the log excerpt the failure's reason was read
    from — the same words and lines as ``depthnet verdict --verbose``."""

    BINDINGS = [Binding("escape,enter,q", "dismiss", "Close")]

    def __init__(self, verdict: Verdict) -> None:
        super().__init__()
        self.verdict = verdict

    def compose(self) -> ComposeResult:
        v = self.verdict
        with VerticalScroll(id="verdict-box", classes="modal-box"):
            yield Label(f"[b]{v.word}[/] — {plain(v.reason)}", id="verdict-reason")
            for extra in v.reasons[1:]:
                yield Label(f"also: {plain(extra)}", classes="verdict-also")
            if v.excerpt:
                yield Label(f"[dim]from the log ({plain(v.code or 'no catalogue entry')}):[/]")
                shown = "\n".join(display(line) for line in v.excerpt.splitlines())
                yield Static(shown, id="verdict-excerpt", markup=False)
            yield Label("[dim]Esc to close[/]")
