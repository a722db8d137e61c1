"""Several ranks print into one console under DDP: a rank's error is named with its rank."""

from __future__ import annotations

from specgen.engine.events import LogLine
from specgen.engine.verdict import RunFacts


def test_rank_error_lines_are_named_with_their_rank():
    facts = RunFacts()
    for text in (
        "[rank1]: Traceback (most recent call last):",
        '[rank1]:   File "train.py", line 3, in <module>',
        "[rank1]: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
        "[rank0]: RuntimeError: something later",
    ):
        facts.add(LogLine(text=text))
    assert facts.failure == "rank 1: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"
