"""plotext's figures built in a helper process, so that building one never takes the GIL from the app's loop.

A ``Chart`` (``tui/widgets/charts.py``) builds its figure in a thread, off the event loop — but a thread shares
the loop's GIL: plotext's build is ~20–25 ms of pure Python at one stretch (a 120×40 braille figure), and while
the Run screen follows a log flood each build ran beside the loop's frames, which then took twice their time and
more (issue #26: most of the stalls over 33 ms by the clock had a plotext build under way). Built in another
process it costs this one a pipe write and a read.

How: the chart's drawing runs, in the chart's build thread as ever, against a ``Recording`` instead of plotext's
``plt``: it keeps the calls the drawing makes (``plot``, ``title``, ``xscale``…). The calls go to one helper
process (this file run as a script: plotext alone is imported there, ~0.2 s to start, on first use), which replays
them on a figure kept for that chart — as the chart's own figure would have had them: ``clear_data()``, the
calls, the size, the theme (sent along, as the app registered it) — and sends plotext's text back. The chart lays
that text out in its thread as before; the picture is the same text.

What cannot be done there is done in the chart's thread, as before: a drawing that asks plotext for anything
other than the calls a figure is drawn with (``Recording`` refuses it), a call plotext rejects (replayed in the
thread, where it raises as it always did), or a helper that cannot be started or has died (``build`` answers
None; the chart then builds its own figures from then on).
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import pickle
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

#: plotext's figure methods a drawing may call: each sets something on the figure and returns nothing.
RECORDED = frozenset(
    {
        "axes_color",
        "bar",
        "canvas_color",
        "frame",
        "grid",
        "hist",
        "hline",
        "horizontal_line",
        "multiple_bar",
        "plot",
        "scatter",
        "stacked_bar",
        "text",
        "ticks_color",
        "ticks_style",
        "title",
        "vertical_line",
        "vline",
        "xaxes",
        "xfrequency",
        "xlabel",
        "xlim",
        "xscale",
        "xticks",
        "yaxes",
        "yfrequency",
        "ylabel",
        "ylim",
        "yscale",
        "yticks",
    }
)

Call = tuple[str, tuple[Any, ...], dict[str, Any], frozenset[int | str]]
_LENGTH = struct.Struct("<I")


class NotRecordable(Exception):
    """The drawing asked plotext for something ``Recording`` does not keep: it is drawn in the thread instead."""


class Recording:
    """Stands in for plotext's ``plt`` while a drawing runs: each allowed call is kept, to be replayed."""

    def __init__(self) -> None:
        self.calls: list[Call] = []

    def __getattr__(self, name: str) -> Any:
        if name not in RECORDED:
            raise NotRecordable(name)

        def call(*args: Any, **kwargs: Any) -> None:
            self.calls.append((name, args, kwargs, _interned(args, kwargs)))

        return call


def _interned(args: tuple[Any, ...], kwargs: dict[str, Any]) -> frozenset[int | str]:
    """Which string arguments are the interpreter's interned strings (by position or keyword). plotext tells a
    setting by identity (``xscale[s] is self.default.xscale[1]``: the literal "log"), and a string comes out of a
    pickle as a new object, so the helper interns exactly these again: a literal "log" sets a log axis there as
    here, and a "log" made at run time (not plotext's literal, so no log axis here) stays none there too."""

    def interned(value: Any) -> bool:
        return type(value) is str and sys.intern(value) is value

    return frozenset(
        [i for i, value in enumerate(args) if interned(value)]
        + [key for key, value in kwargs.items() if interned(value)]
    )


def _replay(plt: Any, calls: list[Call]) -> None:
    for name, args, kwargs, interned in calls:
        args = tuple(sys.intern(a) if i in interned else a for i, a in enumerate(args))
        kwargs = {k: sys.intern(v) if k in interned else v for k, v in kwargs.items()}
        getattr(plt, name)(*args, **kwargs)


def _send(stream: IO[bytes], message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("the figure process closed its pipe")
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the figure process closed its pipe")
    return pickle.loads(data)  # our own helper's answer (or our own request), over a pipe only we hold


class FigureProcess:
    """The helper process, started on first use; one request at a time (a lock), from any chart's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._broken = not sys.executable
        self._tokens = itertools.count(1)
        self._gone: list[int] = []  # charts unmounted since the last request

    def token(self) -> int:
        """A chart's own key: the helper keeps one figure per chart, as each chart keeps its own ``plt``."""
        return next(self._tokens)

    def build(
        self, token: int, calls: list[Call], width: int, height: int, theme: str, palette: Any
    ) -> str | None:
        """plotext's text for ``calls`` on chart ``token``'s figure at this size and theme (``palette``: the
        theme's entry in plotext's table, None for one plotext has built in); None when the helper cannot
        answer, or could not replay the calls (the caller then draws in its own thread, where the same call
        raises the same error)."""
        with self._lock:
            if self._broken:
                return None
            try:
                proc = self._started()
                assert proc.stdin is not None and proc.stdout is not None
                gone, self._gone = self._gone, []
                _send(proc.stdin, (token, calls, width, height, theme, palette, gone))
                status, value = _receive(proc.stdout)
            except (OSError, EOFError, ValueError, pickle.PickleError, AttributeError, TypeError):
                self._close()
                self._broken = True
                return None
        return value if status == "ok" else None

    def forget(self, token: int) -> None:
        """Chart ``token`` is gone: the helper drops its figure with the next request (nothing is written now,
        so a chart unmounted on the loop never waits for a build under way)."""
        self._gone.append(token)

    def _started(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            self._proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve())],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # never on the app's terminal
                start_new_session=True,  # the terminal's signals are the app's, not the helper's
            )
            atexit.register(self.close)
        return self._proc

    def _close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            if proc.stdin is not None:
                proc.stdin.close()  # the helper ends at the end of its input
        try:
            proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    def close(self) -> None:
        with self._lock:
            self._close()


#: The app's one helper.
FIGURES = FigureProcess()


def serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    """The helper's loop: replay each request's calls on that chart's figure, answer plotext's text."""
    from plotext._dict import themes  # type: ignore[import-untyped]
    from plotext._figure import _figure_class  # type: ignore[import-untyped]

    figures: dict[int, Any] = {}
    while True:
        try:
            request = _receive(requests)
        except EOFError:
            return
        token, calls, width, height, theme, palette, gone = request
        for chart in gone:
            figures.pop(chart, None)
        plt = figures.get(token)
        if plt is None:
            plt = figures[token] = _figure_class()
        plt.clear_data()
        try:
            _replay(plt, calls)
        except Exception as exc:  # the chart replays them in its thread, where the same call raises
            figures.pop(token, None)
            _send(answers, ("failed", repr(exc)))
            continue
        if palette is not None:
            themes[theme] = palette
        try:
            # as Chart._make does on its own figure (textual-plotext's belt and braces for a resize included)
            plt.plotsize(width, height)
            plt._set_size(width, height)
            plt.theme(theme)
            text = plt.build()
        except (ValueError, ZeroDivisionError, IndexError):  # plotext at a size it cannot lay out
            text = ""
        _send(answers, ("ok", text))


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
