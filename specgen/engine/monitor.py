"""Follow a run: its log stream, its status.json (watchfiles), its TensorBoard event file (Lightning's per-step
``train_loss_step`` and ``train/lr``: TAO 7.3.0 prints no live progress on the console), its exit — as events,
ending in the verdict.

``follow(record, backend, sink)`` is the one way to do it: ``depthnet run/attach``, the Run screen and every sweep
trial call it, so the polling choice, the release of the results folder and the verdict saved in run.json happen
in one place. Attaching again replays from the start (the container log and status.json hold everything), so a
chart is rebuilt exactly after an SSH drop.

Threads: the backend's streams and ``wait`` block, so they run in daemon threads (quitting never waits for a
container); the console is decoded and parsed there, and each parsed batch is handed to the event loop, which alone
folds events and calls the sink — one batch at a time, so a log flood queues one chunk, never thousands.
"""

from __future__ import annotations

import codecs
import contextlib
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from specgen.engine.events import Alert, Event, JobState, Metric, StatusLine, StepLoss, Verdict
from specgen.engine.logparse import LogParser
from specgen.engine.status import watch_status
from specgen.engine.tensorboard import EventDirReader, Scalar
from specgen.engine.verdict import RunFacts, judge_facts, latest_checkpoint, missing_output

if TYPE_CHECKING:  # what following a live run needs is imported there: judging a finished one (judge_results,
    # `depthnet verdict`) needs neither the event loop nor the backends, and reads the spec only when it must
    import asyncio

    from specgen.engine.backend import Backend
    from specgen.engine.records import RunRecord
    from specgen.engine.runspec import RunSpec

EventSink = Callable[[Event], None]
#: The complete log lags the live attach stream by at most Docker's 16 KiB line buffer (~100 progress updates).
SEEN_WINDOW = 20_000
#: How often the TensorBoard event file is read (Lightning flushes it every few seconds or 10 events).
TB_POLL = 0.5
#: Scalars folded on the loop at one stretch (~1 ms); the loop runs between two such turns.
SCALARS_PER_TURN = 100


def nan_hint(run: RunSpec) -> str | None:
    """Why a loss may be NaN, from the data itself: the data doctor on the spec's training data. "" when the doctor
    looked and found the data fine, None when it could not look."""
    try:
        from specgen.data.doctor import diagnose

        source = run.first_source
        if source is None or not Path(source[0]).is_file():
            return None
        report = diagnose(
            source[0],
            source[1],
            run.spec.model.model_type,
            min_depth=run.spec.dataset.min_depth,
            max_depth=run.spec.dataset.max_depth,
            sample=8,
        )
    except Exception:  # the hint is a courtesy: never let it break the verdict
        return None
    empty = next((f for f in report.findings if f.code in ("EMPTY_MASK", "ENCODING_MISMATCH")), None)
    if empty is None:
        return ""  # looked, and the data is not the cause
    fit = (empty.autofix or {}).get("dataset_name")
    enc = report.encoding.label if report.encoding else "these files"
    return (
        f"{report.dataset_name} reads {enc}, so the valid mask is empty" + (f"; use {fit}" if fit else "")
        if empty.code == "EMPTY_MASK"
        else empty.message + (f"; use {fit}" if fit else "")
    )


class Monitor:
    """Collects what the run reports and decides the verdict."""

    def __init__(
        self,
        record: RunRecord,
        backend: Backend | None,
        sink: EventSink,
        *,
        log_path: Path,
        force_polling: bool | None = None,
        run_spec: RunSpec | None = None,
    ) -> None:
        from specgen.engine.backend import ReplayBackend

        self.record = record
        self._run_spec = run_spec
        self.backend: Backend = backend if backend is not None else ReplayBackend()
        self.sink = sink
        self.log_path = log_path
        # A job writing from another node: inotify would see nothing on NFS/Lustre, so poll.
        self.force_polling = True if self.backend.remote_files else force_polling
        self.parser = LogParser()
        self.live_parser = LogParser()  # docker attach stream: only its step losses are used
        self._seen_steps: set[int] = set()  # global steps, pruned to a window: memory stays flat on long runs
        self._seen_max = 0
        self.received = 0  # bytes of the complete log seen
        self.facts = RunFacts()  # kpi merged by key, the first NaN step, epochs, failure, interruption
        self.alerted = False
        self.tb = EventDirReader(record.results_dir, since=_started(record))

    @property
    def kpi(self) -> dict[str, Any]:
        return self.facts.kpi

    @property
    def run_spec(self) -> RunSpec | None:
        """The launch's typed spec; for a run attached later, its file read once (None when unreadable now)."""
        if self._run_spec is None:
            from specgen.engine.runspec import try_load

            self._run_spec = try_load(self.record.spec_path, self.record.action)
        return self._run_spec

    @property
    def status_path(self) -> Path:
        return Path(self.record.results_dir) / "status.json"

    # ------------------------------------------------------------------ event intake

    def _emit(self, event: Event) -> None:
        if isinstance(event, StepLoss):
            if event.global_step in self._seen_steps or event.global_step <= self._seen_max - SEEN_WINDOW:
                return
            self._seen_steps.add(event.global_step)
            if event.global_step > self._seen_max:
                self._seen_max = event.global_step
                if len(self._seen_steps) > 2 * SEEN_WINDOW:
                    self._seen_steps = {g for g in self._seen_steps if g > self._seen_max - SEEN_WINDOW}
        alert = self.facts.add(event)
        self.sink(event)
        if alert is not None:
            self._alert(alert)

    def _alert(self, message: str) -> None:
        if not self.alerted:
            self.alerted = True
            self.sink(
                Alert(
                    code="NAN_LOSS",
                    message=message + " — the run will learn nothing; stop it "
                    f"(depthnet stop {self.record.run_id}) and check the data (depthnet doctor)",
                )
            )

    def emit_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self._emit(event)

    def feed_status(self, batch: list[dict[str, Any]]) -> None:
        for data in batch:
            self._emit(StatusLine(data=data))

    def feed_scalars(self, scalars: Iterable[Scalar]) -> None:
        """New TensorBoard scalars, each as a Metric, ``train_loss_step`` also as the chart's StepLoss. The follower
        reads them in a thread (``self.tb.read_new``) and folds them here, on its loop."""
        for scalar in scalars:
            metric = Metric(tag=scalar.tag, step=scalar.step + 1, value=scalar.value)
            self._emit(metric)
            step = self.facts.add_metric(metric)
            if step is not None:
                self._emit(step)

    # ------------------------------------------------------------------ the run

    async def run(self) -> Verdict:
        import asyncio

        from specgen.engine.backend import CHUNK

        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        exited = threading.Event()
        backend, record = self.backend, self.record

        def hand_over(events: Sequence[Event]) -> None:
            """Fold ``events`` on the loop and wait for it: a flood queues one chunk, never thousands."""
            done = threading.Event()

            def call() -> None:
                try:
                    self.emit_all(events)
                finally:
                    done.set()

            try:
                loop.call_soon_threadsafe(call)
            except RuntimeError:  # the loop closed: nobody listens any more
                return
            while not done.wait(0.5):
                if loop.is_closed():
                    return

        def pump() -> None:
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            for chunk in backend.output(record, self.log_path, exited.is_set):
                self.received += len(chunk)
                for i in range(0, len(chunk), CHUNK):
                    text = decoder.decode(chunk[i : i + CHUNK])
                    if text:
                        # Parsed here, in the reader's thread: the loop only folds the events (a flood of log
                        # lines must not stall the screen).
                        hand_over(self.parser.feed(text))

        def live_pump() -> None:
            live_decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            # live steps are a bonus; the complete log still has them all
            with contextlib.suppress(Exception):
                for chunk in backend.live(record) or ():
                    if text := live_decoder.decode(chunk):
                        hand_over([e for e in self.live_parser.feed(text) if isinstance(e, StepLoss)])

        def heard(state: JobState) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody listens any more
                loop.call_soon_threadsafe(self._emit, state)

        async def watch() -> None:
            async for batch in watch_status(self.status_path, stop, force_polling=self.force_polling):
                self.feed_status(batch)

        async def fold_scalars(scalars: list[Scalar]) -> None:
            # Folded SCALARS_PER_TURN at a time, the loop free between: half a second of a busy run is hundreds
            # of scalars (two events each), which folded at one stretch held the Run screen's loop for ~10 ms.
            for i in range(0, len(scalars), SCALARS_PER_TURN):
                if i:
                    await asyncio.sleep(0)
                self.feed_scalars(scalars[i : i + SCALARS_PER_TURN])

        async def watch_events() -> None:
            # Event files are read (CRC, protobuf) in a thread: only folding the scalars happens on the loop.
            while not stop.is_set():
                await fold_scalars(await asyncio.to_thread(self.tb.read_new))
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), TB_POLL)
            await fold_scalars(await asyncio.to_thread(self.tb.read_new))

        watcher = asyncio.create_task(watch())
        tb_watcher = asyncio.create_task(watch_events())
        threading.Thread(target=live_pump, name="depthnet-live", daemon=True).start()
        log_task = in_daemon_thread(pump)
        try:
            ending = await in_daemon_thread(backend.wait, record, heard)
        finally:
            exited.set()
        if ending.ended_by:
            self.facts.ended_by = ending.ended_by
        elif ending.failure:
            self.facts.failure = ending.failure
        # Who stopped it: `depthnet stop` (another process) writes run.json before its signal.
        from specgen.engine import registry

        self.facts.stopped_by = record.stopped_by = (
            await asyncio.to_thread(registry.stopped_by, record) or record.stopped_by
        )
        await log_task
        for event in self.parser.flush():
            self._emit(event)
        await asyncio.sleep(0.15)  # let the last status.json write be seen
        stop.set()
        await watcher
        await tb_watcher
        exit_code = ending.exit_code
        if exit_code is None or exit_code < 0:
            # Unknown (the process was not ours and left no exit file): TAO's entrypoint prints PASS exactly when
            # its child returned 0, so its last line stands in for the exit code.
            exit_code = (
                None if self.parser.tao_status is None else (0 if self.parser.tao_status == "PASS" else 1)
            )
            if exit_code is None and self.facts.failure is None:
                self.facts.failure = (
                    "the process ended without an exit code or a TAO verdict line (stopped or killed)"
                )
        # Judging reads the results folder (and, for a NaN or a failure, the spec and the data): in a thread.
        verdict = await asyncio.to_thread(
            verdict_for,
            self.record.action,
            self.facts,
            exit_code,
            self.parser,
            lambda: self.run_spec,
            self.record.results_dir,
        )
        self.sink(verdict)
        return verdict


async def follow(
    record: RunRecord,
    backend: Backend | None,
    sink: EventSink,
    *,
    force_polling: bool | None = None,
) -> Verdict:
    """Follow a run to its verdict; every event (the verdict last) goes to ``sink``, on the calling loop.

    ``backend`` is the live one — from ``launch.start`` (it holds the typed spec the run was prepared with, judged
    with at the end, and a container's results-folder lock, given back when the run ends or this follower is
    cancelled) or ``launch.backend_for`` — or None to replay a finished run's folder. Polling follows the settings
    (``DEPTHNET_FORCE_POLLING`` for network filesystems) unless ``force_polling`` says otherwise. The verdict is
    saved in the run's run.json; when that write fails the sink hears an Alert (``NOT_SAVED``), the verdict stands.
    """
    from specgen.engine import registry
    from specgen.engine.backend import Held

    if force_polling is None:
        from specgen.engine.settings import settings

        force_polling = settings().force_polling
    held = backend.take(record.run_id) if backend is not None else Held()
    monitor = Monitor(
        record,
        backend,
        sink,
        log_path=registry.log_path(record),
        force_polling=force_polling,
        run_spec=held.run_spec,
    )
    try:
        verdict = await monitor.run()
    finally:
        held.release()  # the results folder is free again (a container run held it while followed)
    record.verdict = verdict
    import asyncio

    try:
        await asyncio.to_thread(registry.save, record)
    except OSError as exc:
        sink(Alert(code="NOT_SAVED", message=f"verdict not saved: {exc}"))
    return verdict


def verdict_for(
    action: str,
    facts: RunFacts,
    exit_code: int | None,
    parser: LogParser,
    spec: Callable[[], RunSpec | None],
    results_dir: str,
) -> Verdict:
    """The verdict from what was seen (the typed spec: for the failure's fix, the NaN metric's cause, the epochs),
    with the data doctor's reason when a loss went NaN. ``spec`` gives the run's typed spec and is asked only when
    the verdict needs it (a NaN's cause, a failure's words, an export's file): a healthy train is judged without
    reading its spec or building the schema (``depthnet verdict`` stays quick)."""
    run = spec() if facts.nan else None  # read once: missing_output below reuses it
    hint = nan_hint(run) if run is not None else None
    if hint == "" and run is not None and run.action == "train":
        # the data check knows these files and finds no cause there: the optimiser, not the data
        hint = (
            f"the data check finds nothing wrong with the depth files, so training most likely diverged: lower "
            f"train.optim.lr (now {run.spec.train.optim.lr:g}) or keep train.precision fp32"
        )
    missing = (
        missing_output(action, run if run is not None else spec, results_dir) if exit_code == 0 else None
    )

    def judged(run: RunSpec | None) -> Verdict:
        return judge_facts(
            action,
            facts,
            exit_code,
            tao_status=parser.tao_status,
            interrupted=parser.interrupted,
            hint=hint,
            missing=missing,
            spec=run,
            resumable=latest_checkpoint(results_dir) if facts.stopped_by and action == "train" else None,
        )

    verdict = judged(run)
    if not verdict.passed and run is None:  # the spec words a failure's fix: read it now, judge again
        run = spec()
        if run is not None:
            verdict = judged(run)
    return verdict


def _started(record: RunRecord) -> float | None:
    """The run's start as a timestamp: event files older than that belong to an earlier run in the same folder."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(record.started).timestamp() - 5
    except (TypeError, ValueError):
        return None


def in_daemon_thread(fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
    """Like ``asyncio.to_thread`` but on a daemon thread: a log stream or ``wait`` blocks until the container ends,
    and quitting the app (the run goes on, detached) must not wait for that."""
    import asyncio

    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any = None, error: BaseException | None = None) -> None:
        if not future.done():
            future.set_exception(error) if error is not None else future.set_result(result)

    def target() -> None:
        try:
            result = fn(*args)
        except BaseException as exc:  # handed to the awaiting task
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, None, exc)
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody is waiting
            loop.call_soon_threadsafe(settle, result)

    threading.Thread(target=target, name=f"depthnet-{getattr(fn, '__name__', 'io')}", daemon=True).start()
    return future


def judge_results(
    results_dir: str,
    action: str,
    *,
    log_bytes: bytes | None = None,
    exit_code: int | None = None,
    spec_path: str | None = None,
) -> Verdict:
    """The verdict the Run screen would give for a run made anywhere (CI, Slurm, by hand), from what it left:
    status.json, the TensorBoard event files, the console log if kept, the exit code if known. Without an exit code,
    TAO's own last line stands in — but never for an interruption, which TAO reports as PASS."""
    from specgen.engine.status import StatusReader, drain

    facts, parser = RunFacts(), LogParser()
    if log_bytes is not None:
        for event in [*parser.feed(log_bytes.decode("utf-8", errors="replace")), *parser.flush()]:
            facts.add(event)
    for batch in drain(StatusReader(Path(results_dir) / "status.json")):
        for data in batch:
            facts.add(StatusLine(data=data))
    for scalar in EventDirReader(results_dir).read_new():
        step = facts.add_metric(Metric(tag=scalar.tag, step=scalar.step + 1, value=scalar.value))
        if step is not None:
            facts.add(step)
    if exit_code is None:
        if parser.tao_status is not None:
            exit_code = 0 if parser.tao_status == "PASS" else 1
        elif facts.failure is None and log_bytes is None:
            last = facts.status.last_message
            if last and last.endswith("finished successfully."):
                exit_code = 0
            elif facts.failure is None:
                facts.failure = (
                    "no exit code, no console log and no final status line: pass --exit-code and --log, "
                    "or the run has not finished"
                )
    if spec_path is None and (Path(results_dir) / "experiment.yaml").is_file():
        spec_path = str(
            Path(results_dir) / "experiment.yaml"
        )  # what TAO resolved, written into the results folder

    def spec() -> RunSpec | None:
        from specgen.engine.runspec import try_load

        return try_load(spec_path, action)

    return verdict_for(action, facts, exit_code, parser, spec, results_dir)
