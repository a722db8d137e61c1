"""The Sweep screen: a sweep folder's trials as Optuna records them, refreshed every second from study.db — the
trial table, the best value so far, the objective against one parameter; the best spec one key away (ctrl+s) and
each trial's run in the normal Run screen (enter). The sweep itself runs in ``depthnet sweep`` (a terminal, tmux, a
Slurm login node) or, started from the Spec step (ctrl+r), in a ``depthnet sweep resume`` of its own session whose
last line (``sweep.log``) is shown here: this screen only reads, so it can be opened, closed and reopened while
trials go on."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Static

from specgen.engine.records import LaunchError
from tui.nav import OpenRun
from tui.threads import FailuresToApp
from tui.widgets.charts import Chart
from tui.widgets.tables import fill_table

if TYPE_CHECKING:
    from specgen.engine.records import RunRecord
    from specgen.engine.sweep import SweepInfo

TRIAL_COLUMNS = ("#", "state", "epochs", "objective", "parameters", "why")

POLL = 1.0


class SweepScreen(FailuresToApp, Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("ctrl+s", "save_best", "Save best spec"),
        Binding("p", "next_param", "Next parameter"),
        Binding("enter", "open_trial", "Open trial", show=False),
    ]

    class Read(Message):
        """One look at study.db: the sweep, or why it cannot be read now."""

        def __init__(self, info: SweepInfo | str, said: str = "") -> None:
            super().__init__()
            self.info = info
            self.said = said  # the runner's last line (sweep.log), when the app started it

    def __init__(self, folder: str | None = None) -> None:
        super().__init__()
        self.folder = Path(folder) if folder else None
        self.info: SweepInfo | None = None
        self.said = ""
        self.param_index = 0

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="sweep-body"):
            yield Input(
                str(self.folder or ""),
                placeholder="sweep folder (holds study.db), Enter to open",
                id="sweep-folder",
                compact=True,
            )
            yield Static("", id="sweep-summary")
            yield DataTable(id="trials", cursor_type="row", zebra_stripes=True)
            with Horizontal(id="sweep-charts"):
                yield Chart(id="best-chart")
                yield Chart(id="param-chart")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.title = "Sweep"
        table = self.query_one("#trials", DataTable)
        fill_table(table, TRIAL_COLUMNS, [])
        if self.folder is not None:
            table.focus()
            self.poll()
        else:
            self.query_one("#sweep-folder", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.folder = Path(event.value.strip()).expanduser() if event.value.strip() else None
        self.info = None
        if self.folder is not None:
            self.query_one("#trials", DataTable).focus()
            self.poll()

    @work(thread=True, exclusive=True, group="sweep-poll", exit_on_error=False)
    def poll(self) -> None:
        """One reader of study.db (SQLite, read-only here), once a second while the screen is open."""
        import time

        from textual.worker import get_current_worker

        from specgen.engine.sweep import trial_rows

        worker = get_current_worker()
        folder = self.folder
        while not worker.is_cancelled and folder is not None and folder == self.folder:
            try:
                info: SweepInfo | str = trial_rows(folder)
            except LaunchError as exc:
                info = str(exc)
            except Exception as exc:  # noqa: BLE001 - a database being written: say so, look again
                info = f"{folder}/study.db cannot be read now ({exc.__class__.__name__}); trying again"
            self.post_message(self.Read(info, _last_line(folder / "sweep.log")))
            time.sleep(POLL)

    def on_sweep_screen_read(self, message: Read) -> None:
        self.show(message.info, message.said)

    # ------------------------------------------------------------------ drawing

    def show(self, info: SweepInfo | str, said: str = "") -> None:
        from rich.markup import escape

        from specgen.engine.sweep import format_params

        summary = self.query_one("#sweep-summary", Static)
        if isinstance(info, str):
            summary.update(f"[b red]{escape(info)}[/]")
            return
        if info == self.info and said == self.said:
            return
        self.info, self.said = info, said
        trials = info.trials
        best = info.best
        best_text = f"best: trial {best.number} {info.objective} {best.value:.5g}" if best else "no best yet"
        summary.update(
            f"[b]{escape(info.study)}[/]  {len(trials)}/{info.trials_asked} trials  "
            + "  ".join(f"{info.count(s)} {s.lower()}" for s in ("COMPLETE", "RUNNING", "PRUNED", "FAIL"))
            + f"  —  {best_text} ({info.direction})"
            + (f"\n[dim]{escape(said)}[/]" if said else "")
        )
        table = self.query_one("#trials", DataTable)
        row = table.cursor_row
        cells = []
        for t in trials:
            value = f"{t.value:.5g}" if isinstance(t.value, float) else "-"
            params = format_params(t.params, digits=3, short=True)
            why = (t.reason or "") if t.state in ("FAIL", "PRUNED") else ""
            cells.append((str(t.number), t.state, str(t.epochs), value, params, why[:60]))
        fill_table(table, TRIAL_COLUMNS, cells, [t.number for t in trials])
        if trials:
            table.move_cursor(row=min(row, len(trials) - 1))
        self.draw_charts()

    def draw_charts(self) -> None:
        info = self.info
        if info is None:
            return
        done = [t for t in info.trials if t.state == "COMPLETE" and isinstance(t.value, float)]
        minimize = info.direction == "minimize"

        def best_so_far(plt: Any) -> None:
            plt.title(f"best {info.objective} so far")
            xs: list[int] = []
            ys: list[float] = []
            best: float | None = None
            for t in sorted(done, key=lambda t: t.number):
                value = float(t.value or 0.0)
                best = value if best is None else (min(best, value) if minimize else max(best, value))
                xs.append(t.number)
                ys.append(best)
            if xs:
                plt.plot(xs, ys, marker="braille")

        self.query_one("#best-chart", Chart).draw(best_so_far)
        keys = sorted({k for t in info.trials for k in t.params})
        if not keys:
            self.query_one("#param-chart", Chart).draw(lambda plt: None)
            return
        key = keys[self.param_index % len(keys)]
        points = [(t.params[key], t.value) for t in done if isinstance(t.params.get(key), (int, float))]

        def against_param(plt: Any) -> None:
            plt.title(f"{info.objective} vs {key.rsplit('.', 1)[-1]} (p: next)")
            log = key.endswith(("lr", "weight_decay", "min_lr")) and all(p[0] > 0 for p in points)
            plt.xscale("log" if points and log else "linear")
            if points:
                plt.scatter([p[0] for p in points], [p[1] for p in points])

        self.query_one("#param-chart", Chart).draw(against_param)

    # ------------------------------------------------------------------ actions

    def action_next_param(self) -> None:
        self.param_index += 1
        self.draw_charts()

    def action_open_trial(self) -> None:
        """The highlighted trial's run, live or replayed, in the Run screen."""
        from specgen.engine import registry

        if self.info is None or not self.info.trials:
            return
        table = self.query_one("#trials", DataTable)
        trial = self.info.trials[min(table.cursor_row, len(self.info.trials) - 1)]
        if not trial.run_id:
            self.notify(f"trial {trial.number} has no run ({trial.reason or 'not started'})")
            return
        try:
            record = registry.load(trial.run_id)
        except (FileNotFoundError, LaunchError) as exc:
            self.notify(str(exc), severity="error")
            return
        self.open_run(record)

    @work(thread=True, exclusive=True, group="sweep-open", exit_on_error=False)
    def open_run(self, record: RunRecord) -> None:
        from specgen.engine.launch import backend_for

        try:
            backend = backend_for(record)
        except LaunchError:
            backend = None
        self.post_message(OpenRun(record, backend))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_open_trial()

    def action_save_best(self) -> None:
        self.save_best()

    @work(exclusive=True, group="sweep-save", exit_on_error=False)
    async def save_best(self) -> None:
        import asyncio

        from specgen.engine.sweep import best_spec_text
        from tui.screens.modals import save_confirmed

        if self.folder is None:
            return
        try:
            text = await asyncio.to_thread(best_spec_text, self.folder)
        except LaunchError as exc:
            self.notify(str(exc), severity="warning", title="No best spec yet")
            return
        path = self.folder / "best.yaml"
        if await save_confirmed(self.app, path, text):
            self.notify(
                f"best trial's spec → {path} (run it as it is: its results go to a fresh folder)",
                title="Saved",
            )


def _last_line(log: Path) -> str:
    """The last line of the runner's log (its end only is read: a long sweep's log stays cheap to look at)."""
    import os
    import stat

    from specgen.engine.logparse import display

    try:
        fd = os.open(log, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return ""
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""  # a FIFO or device put there is never read
        size = f.seek(0, 2)
        f.seek(max(0, size - 4096))
        tail = f.read().decode("utf-8", errors="replace")
    lines = [line for line in tail.splitlines() if line.strip()]
    return display(lines[-1])[:200] if lines else ""
