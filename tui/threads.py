"""Handing a thread worker's result back to the UI thread, for the few places where a typed message would only
wrap one call (a progress update, a notification).

``call_ui(node, fn, …)`` posts ``fn`` to ``node``'s own message queue with Textual's public ``call_later``: posting
is thread-safe, a node that is closing or closed refuses the message, and the call runs in the node's loop — so a
worker that outlives its screen never touches a closed one. Results worth naming (a listing, a plan, a sample of the
GPUs) travel as ``Message`` subclasses posted with ``post_message`` instead; failures as the worker's error, which
the app says in one line (``FailuresToApp`` below carries them to ``DepthnetApp.on_work_failed``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.message import Message
from textual.message_pump import MessagePump
from textual.worker import Worker, WorkerState


def call_ui(node: MessagePump, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
    """Run ``fn(*args, **kwargs)`` in ``node``'s loop, unless the node (or the app) is gone or going; False then."""
    try:
        return node.call_later(fn, *args, **kwargs)
    except RuntimeError:  # no active app any more (Textual's NoActiveAppError), or its loop has closed
        return False


class WorkFailed(Message):
    """A worker of some screen failed: carried to the app, which says it in one line."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error


class FailuresToApp:
    """Mixed into every screen: Textual tells a worker's state only to the node that started it (its StateChanged
    does not bubble), so a failed worker's error is passed to the app's one handler here — with
    ``exit_on_error=False`` on the worker, the app goes on."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        error = event.worker.error
        if event.state == WorkerState.ERROR and error is not None and isinstance(self, MessagePump):
            self.app.post_message(WorkFailed(error))
