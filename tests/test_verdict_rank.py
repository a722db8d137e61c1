"""Several ranks print into one console under DDP: the verdict names the root cause, whichever rank printed it."""

from __future__ import annotations

from specgen.engine.events import LogLine
from specgen.engine.verdict import RunFacts, judge_facts


def test_the_rank_that_ran_out_of_memory_is_the_reason_not_the_rank_that_followed():
    facts = RunFacts()
    for text in (
        "[rank1]: Traceback (most recent call last):",
        '[rank1]:   File "train.py", line 3, in <module>',
        "[rank1]: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB",
        "[rank0]: RuntimeError: something later",
    ):
        facts.add(LogLine(text=text))
    v = judge_facts("train", facts, 1, tao_status="FAIL", interrupted=False, hint=None, missing=None)
    assert v.reason.startswith(
        "train failed with exit code 1: CUDA out of memory on the GPU (tried to allocate 2.00"
    )
    assert v.code == "cuda_oom" and "torch.OutOfMemoryError" in (v.excerpt or "")
