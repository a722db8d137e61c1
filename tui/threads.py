"""Handing results from thread workers back to the UI thread, for screens that may be gone by then."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual._context import NoActiveAppError
from textual.dom import DOMNode


def call_ui(node: DOMNode, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run ``fn`` on the UI thread unless ``node`` (a screen or widget) has left the DOM meanwhile or the app is
    closing: a worker that outlives its screen must not raise into a closed one."""
    try:
        app = node.app
    except NoActiveAppError:
        return

    def guarded() -> None:
        # a screen being popped or an app closing is still attached while its children are already gone
        if node.is_attached and not (node._closing or node._closed or app._closing or app._closed):
            fn(*args, **kwargs)

    try:
        app.call_from_thread(guarded)
    except RuntimeError:  # the app is shutting down
        pass
