"""A thread that computes in Python, giving an event loop of the same process its turn at the GIL.

A thread and the loop share one GIL. A thread computing in pure Python keeps it until the interpreter makes it
switch, ``sys.getswitchinterval()`` (5 ms) after the loop asked; and a loop lets it go many times a frame (each
``select``, each read of its wake-up pipe), waiting each time up to that long to get it back. A thread that lets
it go itself between small pieces of its work (``yield_gil``: a sleep of zero, a system call that releases the
GIL) hands it to a loop that is waiting at once, and costs one system call when none is.

Measured on the 2-core box the Run screen's targets are set on: an 8 ms computation on the loop took up to 41 ms
beside a thread computing 20 ms at a stretch, and up to 20–26 ms beside the same work done in 1 ms pieces with a
``yield_gil`` between them; the loop's 5 ms sleeps overshot by up to 19 ms, then by up to 6–9 ms.
"""

from __future__ import annotations

import time


def yield_gil() -> None:
    """Let the GIL go for a moment: a waiting thread (the event loop) takes it now rather than at the next switch."""
    time.sleep(0)
