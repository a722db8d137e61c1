"""Real TAO 7.3.0 output (tests/fixtures/tao-7.3.0, captured on an H100 from NVIDIA's public code) through our code
path: offline (`depthnet verdict`), and live — the emulator replays each capture at its recorded timing, the local
backend streams it, the monitor parses console + status.json + TensorBoard, and the verdict is given."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import wait_until
from runkit import FIXTURES, depthnet, events, make_project, step_losses, verdict

from specgen.engine.backends import group_members
from specgen.engine.events import ConsoleMetrics, LogLine
from specgen.engine.logparse import LogParser, display
from specgen.engine.tensorboard import EventFileReader

CASES = [
    "train_healthy",
    "train_nan",
    "train_tb",
    "train_tty",
    "train_ddp2",
    "evaluate",
    "inference",
    "spec_error/misspelt_key",
    "spec_error/wrong_type",
    "spec_error/empty_mandatory_checkpoint",
]


def test_plans_are_made_from_the_fixtures_as_they_are():
    sys.path.insert(0, str(Path(__file__).parent / "emulator"))
    import make_plans

    for name in CASES:
        plan = (make_plans.PLANS / (name.replace("/", "__") + ".plan")).read_text()
        assert plan == make_plans.plan(name), f"{name}: run python tests/emulator/make_plans.py"


def test_tensorboard_reader_follows_a_growing_file(tmp_path):
    """Appended a few bytes at a time (a record cut anywhere), read as it grows: every scalar once, none torn."""
    (src,) = (FIXTURES / "train_tb" / "lightning_logs" / "version_1").glob("events.out.tfevents.*")
    data = src.read_bytes()
    whole = EventFileReader(src).read_new()
    growing = tmp_path / src.name
    reader, got = EventFileReader(growing), []
    for i in range(0, len(data), 37):
        with open(growing, "ab") as f:
            f.write(data[i : i + 37])
        got += reader.read_new()
    assert got == whole and reader.corrupt == 0
    losses = [s for s in whole if s.tag == "train_loss_step"]
    assert [s.step for s in losses] == list(range(1, 24, 2)) and round(losses[0].value, 4) == 0.7806
    assert {s.tag for s in whole} >= {"train/lr", "epoch", "val/loss", "val/abs_rel", "train_loss_epoch"}


def _parse(case: str) -> tuple[LogParser, list]:
    parser = LogParser()
    text = (FIXTURES / case / "console.log").read_bytes().decode("utf-8")
    return parser, [*parser.feed(text), *parser.flush()]


def test_glued_tao_lines_are_split_and_are_not_progress():
    parser, evs = _parse("train_healthy")
    lines = [e for e in evs if isinstance(e, LogLine)]
    assert not any(e.progress for e in lines)  # Rich prints no live bar in a pipe
    assert any(e.text.startswith("LOCAL_RANK: 0 - CUDA_VISIBLE_DEVICES: [0]") for e in lines)
    assert parser.tao_status == "PASS" and parser.results_dir == "/results/train_healthy/train"
    glued = LogParser().feed(
        "\r\x1b[38;20m2026-11-25 17:51:46,882 - [TAO Toolkit] - INFO - Input batch size: 1 "
        "(export.py:440)\x1b[0mInput batch size: 1\n"
    )
    assert [display(e.text) for e in glued] == [
        "2026-11-25 17:51:46,882 - [TAO Toolkit] - INFO - Input batch size: 1 (export.py:440)",
        "Input batch size: 1",
    ]


def test_rich_final_frame_and_test_metric_table_are_read():
    _, evs = _parse("train_healthy")
    (frame,) = [e for e in evs if isinstance(e, ConsoleMetrics)]
    assert (frame.epoch, frame.max_epoch, frame.step, frame.steps) == (1, 1, 12, 12)
    assert frame.values == {"train_loss_step": 0.045, "val/loss": 0.1, "train_loss_epoch": 0.169}
    _, evs = _parse("evaluate")
    table = {
        k: v
        for e in evs
        if isinstance(e, ConsoleMetrics) and e.source == "table"
        for k, v in e.values.items()
    }
    assert table == {
        "test/abs_rel": 0.28098368644714355,
        "test/d1": 0.2643404006958008,
        "test/d2": 0.6726092100143433,
        "test/d3": 0.9566268920898438,
    }


def _results_like(case: str, tmp_path: Path) -> Path:
    """The results folder the capture left (checkpoints and pictures as empty files: only their names matter)."""
    action = "evaluate" if case == "evaluate" else "inference" if case == "inference" else "train"
    folder = tmp_path / case.replace("/", "_") / action
    folder.mkdir(parents=True)
    src = FIXTURES / case
    if (src / "status.json").exists():
        shutil.copy(src / "status.json", folder)
    if (src / "lightning_logs").exists():
        shutil.copytree(src / "lightning_logs", folder / "lightning_logs")
    if action == "train" and not case.startswith("spec_error"):
        (folder / "model_epoch_001_step_00024.pth").touch()
    if action == "inference":
        (folder / "inference_images").mkdir()
        (folder / "inference_images" / "rgb_00000.jpg").touch()
    return folder


EXPECTED = {  # verdict, words in the first reason, epochs_completed, nan
    "train_healthy": ("PASS", "train finished with val/loss 0.1005", 2, False),
    "train_tb": ("PASS", "train finished with val/loss 0.09538", 2, False),
    "train_tty": ("PASS", "train finished", 2, False),
    "train_ddp2": ("PASS", "train finished with val/loss 0.2143", 2, False),
    "train_nan": (  # status.json's first NaN epoch (judge_metrics), then val/loss named as itself
        "FAIL",
        "train_loss is NaN at epoch 0 although TAO printed PASS: ",
        2,
        True,
    ),
    "evaluate": ("PASS", "evaluate finished with val/d1 0.2643", None, False),
    "inference": ("PASS", "inference finished", None, False),
    "spec_error/misspelt_key": (
        "FAIL",
        "train failed with exit code 1: spec error at train.num_epoch: Key "
        "'num_epoch' not in 'DepthNetTrainExpConfig'",
        None,
        False,
    ),
    "spec_error/wrong_type": (
        "FAIL",
        "spec error at train.num_epochs: Value 'two' of type 'str' could not be converted to Integer",
        None,
        False,
    ),
    "spec_error/empty_mandatory_checkpoint": (
        "FAIL",
        "spec error at evaluate.checkpoint: Incompatible value 'None' for field of type 'str'",
        None,
        False,
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_depthnet_verdict_on_every_capture(case, tmp_path):
    folder = _results_like(case, tmp_path)
    src = FIXTURES / case
    done = depthnet(
        "verdict",
        str(folder),
        "--log",
        str(src / "console.log"),
        "--exit-code",
        (src / "exit_code.txt").read_text().strip(),
        "--json",
    )
    want, words, epochs, nan = EXPECTED[case]
    assert done.returncode == (0 if want == "PASS" else 1), done.stderr
    out = json.loads(done.stdout)
    assert out["verdict"] == want and words in out["reasons"][0], out
    assert out["epochs_completed"] == epochs and out["nan"] is nan and out["interrupted"] is False
    if case.startswith("train_") and case != "train_nan":
        assert {"train_loss", "val/loss", "val/abs_rel"} <= set(out["kpi"])  # merged by key, val/* kept


def test_depthnet_verdict_usage_errors(tmp_path):
    assert depthnet("verdict", str(tmp_path / "nope")).returncode == 2
    odd = tmp_path / "somewhere"
    odd.mkdir()
    done = depthnet("verdict", str(odd))
    assert done.returncode == 2 and "pass --action" in done.stderr


@pytest.fixture()
def project(tmp_path, depth_net_on_path):
    return make_project(tmp_path)


LIVE = {  # case → (action, per-step chart points, epochs done, verdict)
    "train_healthy": ("train", 0, 2, True),
    "train_tb": ("train", 12, 2, True),
    "train_tty": ("train", 0, 2, True),
    "train_ddp2": ("train", 6, 2, True),
    "train_nan": ("train", 0, 2, False),
    "evaluate": ("evaluate", 0, None, True),
    "inference": ("inference", 0, None, True),
    "spec_error/misspelt_key": ("train", 0, None, False),
}


@pytest.mark.parametrize("case", list(LIVE))
def test_live_replay_through_the_local_backend(case, project):
    action, points, epochs, passed = LIVE[case]
    extra = (
        []
        if action == "train"
        else [
            "--checkpoint",
            str(project.out / "results" / "x.pth"),
            "--data-file",
            str(project.out / "ann" / "val.txt"),
        ]
    )
    (project.out / "results").mkdir(exist_ok=True)
    (project.out / "results" / "x.pth").touch()
    spec = project.spec(action, f"{action}.yaml", *extra)
    done = depthnet(
        "run",
        action,
        "-e",
        str(spec),
        "--backend",
        "local",
        "--json-events",
        "--force",
        "--env",
        f"EMU_CASE={case}",
        "--env",
        "EMU_SPEED=0.005",
    )
    evs = events(done.stdout)
    v = verdict(evs)
    assert v["passed"] is passed and done.returncode == (0 if passed else 1), (v, done.stderr[-2000:])
    assert len(step_losses(evs)) == points and v["epochs_completed"] == epochs
    lrs = [e for e in evs if e["kind"] == "metric" and e["tag"] == "train/lr"]
    assert len(lrs) == points  # the learning rate comes with each logged step
    if action == "train" and passed:
        epoch_lines = [e["data"] for e in evs if e["kind"] == "status" and "epoch" in e["data"]]
        assert [d["epoch"] for d in epoch_lines] == [0, 1] and all(
            "val/loss" in d["kpi"] for d in epoch_lines
        )
        assert math.isfinite(v["kpi"]["train_loss"]) and "val/abs_rel" in v["kpi"]
    log = [e["text"] for e in evs if e["kind"] == "log"]
    assert any(
        str(project.out / "results") in line for line in log if "results will be saved at" in line
    ) or case.startswith("spec_error")


def _spawn(project, *env: str) -> tuple[subprocess.Popen, str]:
    spec = project.spec("train", "train.yaml")
    # A runner started as a background job of a script (`cmd &`, no job control: CI, a nohup) has SIGINT ignored,
    # which every child inherits and no shell can trap again: give the run SIGINT as a terminal's session has it.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = _launch(spec, env)
    finally:
        signal.signal(signal.SIGINT, previous)
    _, err = proc.communicate(timeout=60)
    return proc, err.split("run ", 1)[1].split()[0]


def _launch(spec: Path, env: tuple[str, ...]) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "specgen.cli",
            "run",
            "train",
            "-e",
            str(spec),
            "--backend",
            "local",
            "--detach",
            *[a for e in env for a in ("--env", e)],
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _pid(run_id: str) -> int:
    home = Path(os.environ["XDG_DATA_HOME"]) / "depthnet-tui" / "runs" / run_id / "run.json"
    return json.loads(home.read_text())["pid"]


def _wait_until_tao_prints(run_id: str) -> None:
    """The stand-in has printed its first console bytes: it is running and has set its SIGINT trap (before any
    output). A fixed wait could end before that on a loaded machine."""
    log = Path(os.environ["XDG_DATA_HOME"]) / "depthnet-tui" / "runs" / run_id / "log.txt"
    wait_until(lambda: log.is_file() and log.stat().st_size > 0, what="the stand-in's first console line")


def test_ctrl_c_is_reported_as_interrupted_although_tao_prints_pass(project):
    # 15 s of replay, cut short by the signal: on a loaded machine `run --detach` alone can outlast a 7 s replay
    _, run_id = _spawn(project, "EMU_SPEED=0.1")
    _wait_until_tao_prints(run_id)
    os.killpg(_pid(run_id), signal.SIGINT)  # what a terminal's Ctrl-C does to the foreground group
    done = depthnet("attach", run_id, "--json-events")
    v = verdict(events(done.stdout))
    assert done.returncode == 1 and v["interrupted"] and v["tao_status"] == "PASS" and v["exit_code"] == 0
    assert v["reason"].startswith(
        "the run was interrupted (Ctrl-C) before it finished although TAO printed PASS"
    )


def test_stop_ends_the_whole_process_group(project):
    _, run_id = _spawn(project, "EMU_SPEED=0.2")
    pid = _pid(run_id)
    wait_until(lambda: len(group_members(pid)) >= 3, what="the wrapper, the stand-in and its child")
    done = depthnet("stop", run_id)
    assert done.returncode == 0 and "nothing of it is left running" in done.stdout
    assert group_members(pid) == []


@pytest.mark.parametrize("action", ["train", "evaluate", "inference", "export", "quantize", "gen_trt_engine"])
def test_builders_never_write_a_mandatory_key_empty(action, tmp_path):
    """TAO 7.3.0 dies on `evaluate.checkpoint:` present but empty — for every action, train included (captured in
    spec_error/empty_mandatory_checkpoint). Our specs leave such keys out or fill them."""
    import yaml

    from specgen.job.builders import BuildRequest, build_spec
    from specgen.spec.render import TAO_MISSING_KEYS, render

    # a real TAO metric checkpoint (keys and shapes): train routes its start by what the file holds
    shutil.copy(
        Path(__file__).parent / "fixtures" / "checkpoints" / "tao_metric_vits.pth", tmp_path / "m.pth"
    )
    req = BuildRequest(
        action=action,
        data_file=str(tmp_path / "t.txt"),
        val_data_file=str(tmp_path / "v.txt"),
        results_dir=str(tmp_path / "r"),
        checkpoint=str(tmp_path / "m.pth"),
        onnx_file=str(tmp_path / "m.onnx"),
        trt_engine=str(tmp_path / "m.engine"),
        calibration_images_dir=str(tmp_path),
    )
    spec, _ = build_spec(req, check_files=False)
    for full in (False, True):
        data = yaml.safe_load(render(spec, full=full))
        for key in TAO_MISSING_KEYS:
            node = data
            for part in key.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            assert node != "" and not (node is None and _present(data, key)), (action, full, key)


def _present(data: dict, key: str) -> bool:
    *parents, last = key.split(".")
    for part in parents:
        data = data.get(part) if isinstance(data, dict) else None
    return isinstance(data, dict) and last in data
