"""The run services' readers: TAO's relayed log stream, status.json JSON lines, the verdict — on real bytes/files."""

from __future__ import annotations

import asyncio
import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from specgen.engine.events import StepLoss
from specgen.engine.logparse import LineSplitter, LogParser, parse_step
from specgen.engine.status import StatusReader, parse_status_line, watch_status
from specgen.engine.verdict import judge

# What TAO's entrypoint prints for two epochs of two steps: each progress update is "\r" + line, no newline,
# until the next ordinary line (tao-depth-net-traps.md, "Entry point").
TAO_STDOUT = (
    "Train results will be saved at: /out/results/train\n"
    "\rEpoch 0:  50%|#####     | 1/2 [00:01<00:01,  1.00it/s, v_num=0, train_loss_step=0.912]"
    "\rEpoch 0: 100%|##########| 2/2 [00:02<00:00,  1.00it/s, v_num=0, train_loss_step=0.804]"
    "\rValidation DataLoader 0: 100%|##########| 1/1 [00:00<00:00]"
    "\nEpoch 1 finished\n"
    "\rEpoch 1:  50%|#####     | 1/2 [00:01<00:01,  1.00it/s, v_num=0, train_loss_step=nan]"
    "\rEpoch 1: 100%|##########| 2/2 [00:02<00:00,  1.00it/s, v_num=0, train_loss_step=3.5e-01]"
    "\nExecution status: PASS\n"
)


def parse_all(text: str, chunk: int) -> tuple[LogParser, list]:
    parser = LogParser()
    events = []
    for i in range(0, len(text), chunk):
        events += parser.feed(text[i : i + chunk])
    events += parser.flush()
    return parser, events


@pytest.mark.parametrize("chunk", [1, 7, 64, 10_000])
def test_log_parser_finds_every_step_whatever_the_chunking(chunk):
    parser, events = parse_all(TAO_STDOUT, chunk)
    steps = [e for e in events if isinstance(e, StepLoss)]
    assert [(s.epoch, s.step, s.steps) for s in steps] == [(0, 1, 2), (0, 2, 2), (1, 1, 2), (1, 2, 2)]
    assert [s.global_step for s in steps] == [1, 2, 3, 4]
    assert steps[0].loss == 0.912 and math.isnan(steps[2].loss) and steps[3].loss == 0.35
    assert parser.tao_status == "PASS"
    assert parser.results_dir == "/out/results/train"
    ordinary = [e.text for e in events if e.kind == "log" and not e.progress]
    assert ordinary == [
        "Train results will be saved at: /out/results/train",
        "Epoch 1 finished",
        "Execution status: PASS",
    ]


def test_a_step_is_reported_before_the_next_carriage_return_arrives():
    """TAO holds a progress update without newline until the next step: the chart must not lag one step."""
    parser = LogParser()
    events = parser.feed("\rEpoch 0:  25%|##  | 1/4 [00:01<00:03, v_num=0, train_loss_step=0.5]")
    assert [(e.global_step, e.loss) for e in events if isinstance(e, StepLoss)] == [(1, 0.5)]
    later = parser.feed("\rEpoch 0:  50%|##  | 2/4 [00:02<00:02, v_num=0, train_loss_step=0.4]")
    assert [e.global_step for e in later if isinstance(e, StepLoss)] == [2]  # step 1 is not counted twice


def test_crlf_and_bare_lines_are_ordinary_lines():
    split = LineSplitter()
    out = list(split.feed("a\r\nb\nc\rd\n"))
    assert out == [("a", False), ("b", False), ("c", False), ("d", True)]


@given(st.lists(st.sampled_from(["x", "y", "\r", "\n", "\r\n", "Epoch"]), max_size=40), st.integers(1, 9))
def test_splitter_loses_no_text(parts, chunk):
    text = "".join(parts)
    split = LineSplitter()
    got = []
    for i in range(0, len(text), chunk):
        got += [p for p, _ in split.feed(text[i : i + chunk])]
    got += [p for p, _ in split.flush()]
    assert "".join(got) == text.replace("\r", "").replace("\n", "")


def test_parse_step_ignores_validation_bars_and_other_lines():
    assert parse_step("Validation DataLoader 0: 100%|####| 1/1 [00:00<00:00]") is None
    assert parse_step("Epoch 3: 10%|#| 5/50 [00:01<00:09, train_loss_step=inf]") == (3, 5, 50, math.inf)


# ----------------------------------------------------------------------------------------------- status.json


def test_status_line_with_bare_nan_is_parsed_not_dropped():
    line = '{"date": "11/24/2026", "time": "6:5:9", "status": "RUNNING", "kpi": {"train_loss": NaN, "val/loss": Infinity}}'
    data = parse_status_line(line)
    assert data is not None and math.isnan(data["kpi"]["train_loss"]) and data["kpi"]["val/loss"] == math.inf
    assert parse_status_line("not json") is None and parse_status_line("[1, 2]") is None


def test_status_reader_partial_garbage_truncate_recreate(tmp_path):
    path = tmp_path / "status.json"
    reader = StatusReader(path)
    assert reader.read_new() == []  # not there yet
    path.write_bytes(b'{"status": "STARTED"}\n{"status": "RUN')
    assert [d["status"] for d in reader.read_new()] == ["STARTED"]
    with open(path, "ab") as f:
        f.write(b'NING", "kpi": {"train_loss": NaN}}\n<<garbage>>\n')
    batch = reader.read_new()
    assert [d["status"] for d in batch] == ["RUNNING"] and math.isnan(batch[0]["kpi"]["train_loss"])
    assert reader.garbage == 1 and reader.lines == 2
    path.write_bytes(b'{"status": "A"}\n')  # truncated and rewritten (shorter)
    assert [d["status"] for d in reader.read_new()] == ["A"]
    path.unlink()
    path.write_bytes(b'{"status": "B"}\n{"status": "C"}\n{"status": "D"}\n')  # recreated: a new inode
    assert [d["status"] for d in reader.read_new()] == ["B", "C", "D"]


@pytest.mark.parametrize("force_polling", [False, True])
async def test_watch_status_follows_real_filesystem_events(tmp_path, force_polling):
    """watchfiles (inotify, or polling for network filesystems) sees the folder appear and each appended line."""
    path = tmp_path / "results" / "train" / "status.json"
    stop = asyncio.Event()
    seen: list[dict] = []

    async def consume() -> None:
        async for batch in watch_status(path, stop, force_polling=force_polling, poll_delay_ms=50):
            seen.extend(batch)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.3)
    path.parent.mkdir(parents=True)
    with open(path, "a", encoding="utf-8") as f:
        for i in range(3):
            f.write(
                json.dumps(
                    {"status": "RUNNING", "epoch": i, "kpi": {"train_loss": float("nan") if i == 2 else i}}
                )
                + "\n"
            )
            f.flush()
            for _ in range(40):
                await asyncio.sleep(0.05)
                if len(seen) == i + 1:
                    break
            assert len(seen) == i + 1, f"line {i} not seen within 2 s"
    stop.set()
    await asyncio.wait_for(task, 5)
    assert [d["epoch"] for d in seen] == [0, 1, 2] and math.isnan(seen[2]["kpi"]["train_loss"])


# ----------------------------------------------------------------------------------------------- verdict


def _steps(*losses: float) -> list[StepLoss]:
    return [
        StepLoss(epoch=0, step=i + 1, steps=len(losses), loss=v, global_step=i + 1)
        for i, v in enumerate(losses)
    ]


def test_verdict_nan_with_tao_pass_is_fail_in_one_sentence():
    v = judge(
        "train",
        0,
        _steps(math.nan, math.nan),
        {"train_loss": math.nan},
        tao_status="PASS",
        hint="MetricMonoDataset reads raw NYU millimetres, so the valid mask is empty; use NYUDV2",
    )
    assert not v.passed
    assert v.reason == (
        "train_loss is NaN from step 1 although TAO printed PASS: MetricMonoDataset reads raw NYU "
        "millimetres, so the valid mask is empty; use NYUDV2"
    )


def test_verdict_cases():
    assert judge("train", 0, _steps(0.5, 0.4), {"train_loss": 0.45}).passed
    assert "at step 2 (epoch 0)" in judge("train", 0, _steps(0.5, math.inf), {"train_loss": 0.4}).reason
    killed = judge("train", 137, _steps(0.5), {})
    assert (
        not killed.passed
        and "killed by the system (SIGKILL, exit 137)" in killed.reason
        and "out of memory" in killed.reason
    )
    assert "stopped" in judge("train", 143, _steps(0.5), {}).reason
    no_kpi = judge("train", 0, [], {}, tao_status="PASS")
    assert not no_kpi.passed and "reported no train_loss" in no_kpi.reason
    failed = judge("export", 1, [], {}, failure_message="Default onnx file /o/m.onnx already exists")
    assert failed.reason == "export failed with exit code 1: Default onnx file /o/m.onnx already exists"
    assert judge("evaluate", 0, [], {"val/abs_rel": 0.1}).passed
    assert not judge("evaluate", 0, [], {}).passed
    assert judge("export", 0, [], {}).passed  # export reports no kpi
    assert not judge("train", None, [], {}).passed
