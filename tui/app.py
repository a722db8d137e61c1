"""``depthnet-tui``: the guided wizard from a data root to a saved, validated depth_net spec."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, cast

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.filter import LineFilter
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from specgen.spec.display import safe_text
from tui.nav import OpenMetrics, OpenNext, OpenOutputs, OpenRun
from tui.screens.base import STEP_TITLES, WizardScreen
from tui.screens.welcome import WelcomeScreen
from tui.state import WizardState
from tui.threads import WorkFailed
from tui.widgets.plain import SafeLines

if TYPE_CHECKING:
    from specgen.job.builders import BuildRequest
    from specgen.spec.actions import Action

#: The wizard's steps in order. Each screen is imported when first shown: start-up pays only for Welcome.
STEPS = tuple(STEP_TITLES)


def step_screen(step: str) -> WizardScreen:
    """A fresh screen for ``step`` (imports stay explicit, so the import graph shows every arrow)."""
    step_class: type[WizardScreen]
    if step == "data_root":
        from tui.screens.data_root import DataRootScreen

        step_class = DataRootScreen
    elif step == "convert":
        from tui.screens.convert import ConvertScreen

        step_class = ConvertScreen
    elif step == "data_check":
        from tui.screens.data_check import DataCheckScreen

        step_class = DataCheckScreen
    elif step == "model":
        from tui.screens.model import ModelScreen

        step_class = ModelScreen
    elif step == "weights":
        from tui.screens.weights import WeightsScreen

        step_class = WeightsScreen
    elif step == "recipe":
        from tui.screens.recipe import RecipeScreen

        step_class = RecipeScreen
    elif step == "spec":
        from tui.screens.spec import SpecScreen

        step_class = SpecScreen
    else:
        raise KeyError(step)
    return step_class()


class DepthnetApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "depthnet-tui"
    SUB_TITLE = "TAO depth_net wizard"
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("ctrl+l", "toggle_theme", "Light/dark", show=False),
        Binding("f2", "runs", "Runs"),
        Binding("f3", "sweep", "Sweeps", show=False),
    ]

    def __init__(self, state: WizardState | None = None, *, show_setup: bool = False) -> None:
        super().__init__()
        self.state = state or WizardState()
        self._initial = state
        self._show_setup = show_setup  # the first start: the environment check comes before anything else
        self._safe_lines = SafeLines()

    def get_line_filters(self) -> Sequence[LineFilter]:
        """Textual's filters, then ours: no control, C1 or bidi character drawn reaches the terminal."""
        return [*super().get_line_filters(), self._safe_lines]

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notification is plain text (engine lines quote file names and log lines): never markup, never a
        control character."""
        super().notify(
            safe_text(str(message), multiline=True),
            title=safe_text(str(title)),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def on_mount(self) -> None:
        self.theme = "textual-dark"
        if self._initial is not None:
            self.start(self._initial, resume=True)
        elif (
            not self._show_setup
        ):  # the first start opens on Setup alone: Welcome is built when Setup is left
            self.push_screen(WelcomeScreen())
        if self._show_setup:
            self.action_setup()

    # ------------------------------------------------------------------ navigation

    def start(self, state: WizardState, resume: bool = False) -> None:
        self.state = state
        step = (
            state.step if resume and state.step in STEPS else ("convert" if state.data_root else "data_root")
        )
        self.goto(step)

    def goto(self, step: str) -> None:
        self.state.step = step
        self._save()
        screen = step_screen(step)
        # the step's own title: an app-wide sub_title would also reach the header of the screen being torn down
        # (Textual's Header watches the app), which raises NoMatches when its title widget is already gone
        screen.sub_title = f"{STEP_TITLES[step]} — {self.state.data_root or 'no data root yet'}"
        if isinstance(self.screen, (WizardScreen, WelcomeScreen)):
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def _move(self, delta: int) -> None:
        keys = list(STEPS)
        i = keys.index(self.state.step) + delta
        if 0 <= i < len(keys):
            self.goto(keys[i])

    def next_step(self) -> None:
        self._move(1)

    def prev_step(self) -> None:
        self._move(-1)

    def _save(self) -> None:
        try:
            self.state.save()
        except OSError as exc:
            self.notify(f"Session not saved: {exc}", severity="warning")

    # ------------------------------------------------------------------ spec from state

    def build_request(self, action: str | None = None) -> BuildRequest:
        from specgen.job.builders import BuildRequest

        s = self.state
        act = action or s.action
        metric = s.model_type == "MetricDepthAnything"
        data_file = s.train_file if act in ("train", "quantize") else (s.test_file or s.val_file)
        return BuildRequest(
            action=cast("Action", act),  # the state's word, validated by the model
            model_type=s.model_type,
            dataset_name=s.dataset_name,
            data_file=data_file or None,
            val_data_file=s.val_file or None,
            results_dir=s.results_dir,
            encoder=s.encoder,
            recipe=s.recipe,
            checkpoint=(s.checkpoint or None) if act != "train" else s.start_file,
            min_depth=s.min_depth if metric else None,
            max_depth=s.max_depth if metric else None,
            calibration_images_dir=s.data_root if act == "quantize" else None,
            overrides=dict(s.overrides),
            allow_known_failure=s.allow_known_failure,
        )

    def build_spec(self, action: str | None = None):
        from specgen.job.builders import build_spec

        return build_spec(self.build_request(action))

    def check_override(self, key: str, value: Any) -> str | None:
        """The first problem an override would cause, or None."""
        from specgen.job.builders import SpecError, build_spec
        from specgen.spec.problems import Problem

        req = self.build_request("train")
        req.overrides = {**req.overrides, key: value}
        try:
            build_spec(req, check_files=False)
        except SpecError as exc:
            bad: list[Problem] = [
                p for p in exc.problems if p.path.startswith(key.split(".")[0])
            ] or exc.problems
            return bad[0].line()
        return None

    # ------------------------------------------------------------------ commands

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for step, title in STEP_TITLES.items():
            yield SystemCommand(f"Go to: {title}", f"Jump to the {title} step", lambda s=step: self.goto(s))
        yield SystemCommand(
            "Toggle light/dark theme", "Switch between light and dark", self.action_toggle_theme
        )
        yield SystemCommand("Runs", "Running and finished runs: re-attach, reopen (F2)", self.action_runs)
        yield SystemCommand(
            "Setup",
            "Check this machine: Docker, NVIDIA runtime, GPUs, NGC login, images; pull",
            self.action_setup,
        )
        yield SystemCommand(
            "Sweep", "A hyper-parameter sweep's trials, best so far, best spec (F3)", self.action_sweep
        )
        if isinstance(screen, WizardScreen):
            for binding in screen.BINDINGS:
                if isinstance(binding, Binding) and binding.description:
                    yield SystemCommand(
                        binding.description,
                        f"({binding.key})",
                        lambda a=binding.action, sc=screen: sc.run_action(a),
                    )

    def action_runs(self) -> None:
        from tui.screens.runs import RunsScreen

        if not isinstance(self.screen, RunsScreen):
            self.push_screen(RunsScreen())

    def action_setup(self) -> None:
        from tui.screens.setup import SetupScreen

        if not isinstance(self.screen, SetupScreen):
            self.push_screen(SetupScreen())

    def action_sweep(self) -> None:
        from tui.screens.sweep import SweepScreen

        if not isinstance(self.screen, SweepScreen):
            last = getattr(self.state, "last_sweep", None)
            self.push_screen(SweepScreen(last))

    # ------------------------------------------------------------------ navigation asked for by screens

    def on_open_run(self, message: OpenRun) -> None:
        from tui.screens.run import RunScreen

        screen = RunScreen(message.record, message.backend)
        self.switch_screen(screen) if message.replace else self.push_screen(screen)

    def on_open_next(self, message: OpenNext) -> None:
        from tui.screens.after_run import open_next

        self.run_worker(open_next(self, message.record), group="after", exit_on_error=False)

    def on_open_metrics(self, message: OpenMetrics) -> None:
        from tui.screens.after_run import open_metrics

        self.run_worker(open_metrics(self, message.run_ids), group="after", exit_on_error=False)

    def on_open_outputs(self, message: OpenOutputs) -> None:
        from tui.screens.after_run import open_outputs

        self.run_worker(open_outputs(self, message.record), group="after", exit_on_error=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The app's own workers (after a run: next step, metrics, depth maps) fail like a screen's."""
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.post_message(WorkFailed(event.worker.error))

    def on_work_failed(self, message: WorkFailed) -> None:
        """The one place a failed worker is said: every worker runs with ``exit_on_error=False``, so its error
        arrives here (harlequin's rule) as one line — the refusal itself for what the engine words for people, a
        short line and a saved crash report for anything else — and the app goes on."""
        self.notify(failure_line(message.error), severity="error", title="Not done", timeout=15)

    def _handle_exception(self, error: Exception) -> None:
        """An unexpected error: the app still exits (Textual's rule), with one line and a saved report instead of a
        traceback on the screen."""
        from rich.text import Text
        from textual.css.query import NoMatches

        from specgen.engine.crash import one_line

        if isinstance(error, NoMatches) and (self._exit or self._closing or not self._running):
            return  # quitting: a screen's handler ran after its widgets were torn down; nothing to save or report
        self._return_code = 1
        if self._exception is None:  # tests (Pilot) re-raise it
            self._exception = error
            self._exception_event.set()
        self.panic(Text(f"depthnet-tui stopped: {one_line(error, 'depthnet-tui')}"))

    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    async def action_quit(self) -> None:
        if self.state.output_dir:
            if isinstance(self.screen, WizardScreen):
                self.screen.commit()
            self._save()
        self.exit()


def failure_line(error: BaseException) -> str:
    """What a person reads about a failed worker: a refusal worded by the engine (LaunchError, a missing run, a
    file the system refused) as it is; anything else as "unexpected error: …" with its crash report's path."""
    from specgen.engine.crash import one_line
    from specgen.engine.records import LaunchError

    if isinstance(error, (LaunchError, OSError)) and str(error):
        return str(error).splitlines()[0]
    return one_line(error, "depthnet-tui")


def main() -> None:
    import argparse

    from specgen.spec.names import package_version

    parser = argparse.ArgumentParser(prog="depthnet-tui", description="The TAO depth_net wizard.")
    parser.add_argument("--version", action="version", version=f"depthnet-tui {package_version()}")
    parser.add_argument(
        "--resume", metavar="OUTPUT_DIR", help="resume the session saved in this output folder"
    )
    web = parser.add_argument_group("in a browser (one app per browser tab, behind a random access token)")
    web.add_argument("--serve", action="store_true", help="serve the app over HTTP instead of this terminal")
    web.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    web.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 = any free one)")
    web.add_argument("--public", action="store_true", help="allow a --host that is not loopback")
    args = parser.parse_args()
    if args.serve:
        from tui.serve import serve

        raise SystemExit(
            serve(
                host=args.host,
                port=args.port,
                public=args.public,
                app_args=["--resume", args.resume] if args.resume else [],
            )
        )
    state = None
    if args.resume:
        try:
            state = WizardState.load(args.resume)
        except (OSError, ValueError) as exc:
            parser.exit(1, f"depthnet-tui: {safe_text(str(exc))}\n")  # a path may hold escapes
    DepthnetApp(state, show_setup=first_start()).run()


def first_start() -> bool:
    """True once per user: the Setup screen greets a first start (a marker in the config folder remembers it)."""
    from specgen.spec.atomicio import write_text_atomic
    from tui.state import config_dir

    marker = config_dir() / "setup-seen"
    if marker.exists():
        return False
    try:
        write_text_atomic(marker, "")
    except OSError:
        return False  # a read-only home: no greeting rather than one on every start
    return True


if __name__ == "__main__":
    main()
