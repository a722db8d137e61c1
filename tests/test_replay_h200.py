"""Real TAO 7.3.0 failures (tests/fixtures/tao-7.3.0-h200, one H200, and the first set tests/fixtures/tao-7.3.0)
through the failure catalogue: what went wrong, in one line, with the cause and the fix.

Three levels:
- the pure level (``diagnose``, ``judge_metrics`` on a capture's console + exit code + status.json);
- the verdict level: ``depthnet verdict --json``'s verdict and first reason (the catalogue's one line, or the NaN
  finding), with ``--verbose``'s excerpt;
- the live level: the stand-in replays every H200 capture through ``depthnet run --backend local``; the verdict the
  monitor gives (what the Run screen, ``attach`` and ``runs`` say) has the same words.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from runkit import FIXTURES, depthnet, events, make_project, verdict

from specgen.engine.failures import ONE_LINE_MAX, diagnose, judge_metrics, short_path
from specgen.engine.runspec import try_load
from specgen.engine.status import parse_status_line

H200 = Path(__file__).parent / "fixtures" / "tao-7.3.0-h200"
SHARED_H200 = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "tao-7.3.0-h200"
CASES_H200 = sorted(p.name for p in H200.iterdir() if p.is_dir())
CASES_OLD = sorted(str(p.parent.relative_to(FIXTURES)) for p in FIXTURES.rglob("exit_code.txt"))
GONE = "/data/ho/rw/train/scene/gone_rgb_30.jpg"


def _folder(case: str) -> Path:
    return H200 / case[5:] if case.startswith("h200/") else FIXTURES / case


def _action(case: str) -> str:
    folder = _folder(case)
    meta = json.loads((folder / "meta.json").read_text())
    if "action" in meta:
        return meta["action"]
    return folder.name if folder.name in ("evaluate", "inference") else "train"


def _status(folder: Path) -> list[dict]:
    path = folder / "status.json"
    lines = path.read_text().splitlines() if path.is_file() else []
    return [d for d in map(parse_status_line, lines) if d is not None]


def _missing_txt(tmp_path: Path) -> Path:
    """c_missing_file's annotation file, rebuilt (the capture kept its spec, not /tmp/cap/ann/missing.txt): the
    12 train lines of the H200 README, then the line naming the file that is not there."""
    ann = tmp_path / "missing.txt"
    rows = [
        f"/data/ho/rw/train/scene/rgb_{i:05d}.jpg /data/ho/rw/train/scene/depth_{i:05d}.png"
        for i in range(12)
    ]
    ann.write_text("\n".join([*rows, f"{GONE} /data/ho/rw/train/scene/gone_depth_30.png"]) + "\n")
    return ann


# case → None (nothing failed) or (catalogue code, words of the cause, words of the fix)
DIAGNOSIS: dict[str, tuple[str, str, str] | None] = {
    "h200/c_missing_file": (
        "rgb_unreadable",
        f"RGB image not found: {GONE} (annotation line 13 of ",
        "`depthnet validate` checks every line's files before launch",
    ),
    "h200/c_eval_wrong_encoder": (
        "size_mismatch",
        "the checkpoint holds a vitb model; the spec says model.encoder: vits",
        "set model.encoder: vitb, or give a vits checkpoint in evaluate.checkpoint",
    ),
    "spec_error/misspelt_key": (
        "hydra_config",
        "spec error at train.num_epoch: Key 'num_epoch' not in 'DepthNetTrainExpConfig'",
        "did you mean train.num_epochs?",
    ),
    "spec_error/wrong_type": (
        "hydra_config",
        "spec error at train.num_epochs: Value 'two' of type 'str' could not be converted to Integer",
        "give train.num_epochs a value of type Integer",
    ),
    "spec_error/empty_mandatory_checkpoint": (
        "hydra_config",
        "spec error at evaluate.checkpoint: Incompatible value 'None' for field of type 'str'",
        "evaluate.checkpoint is present but empty",
    ),
}
# case → (key, severity, words) of the first NaN/inf finding; absent: the metrics are finite
METRICS = {
    "h200/c_ft_rel_backbone_dino": (
        "val/abs_rel",
        "fail",
        "val/abs_rel is NaN and δ1 = 0: the model predicts no valid depth — its fresh head is dead: set train.seed: 42 "
        "(it died at TAO's 1234) or start from a whole model (train.pretrained_model_path)",
    ),
    "train_nan": ("train_loss", "fail", "train_loss is NaN at epoch 0: the weights are not usable"),
}
ALL = [f"h200/{c}" for c in CASES_H200] + CASES_OLD


def test_every_capture_has_an_expectation():
    assert set(DIAGNOSIS) <= set(ALL) and set(METRICS) <= set(ALL)
    assert len(CASES_H200) == 8 and len(CASES_OLD) == 10


@pytest.mark.skipif(not SHARED_H200.is_dir(), reason="../shared is not here (a fresh clone)")
def test_the_copy_is_the_shared_capture_byte_for_byte():
    ours = {p.relative_to(H200): p.read_bytes() for p in H200.rglob("*") if p.is_file()}
    theirs = {p.relative_to(SHARED_H200): p.read_bytes() for p in SHARED_H200.rglob("*") if p.is_file()}
    assert ours == theirs


def test_h200_plans_are_made_from_the_fixtures_as_they_are():
    sys.path.insert(0, str(Path(__file__).parent / "emulator"))
    import make_plans

    assert [c[5:] for c in make_plans.CASES_H200] == sorted(
        CASES_H200, key=[c[5:] for c in make_plans.CASES_H200].index
    )
    for name in make_plans.CASES_H200:
        plan = (make_plans.PLANS / (name.replace("/", "__") + ".plan")).read_text()
        assert plan == make_plans.plan(name), f"{name}: run python tests/emulator/make_plans.py"


@pytest.mark.parametrize("case", ALL)
def test_diagnosis_of_every_capture(case, tmp_path):
    folder = _folder(case)
    log = (folder / "console.log").read_bytes().decode("utf-8", errors="replace")
    spec = try_load(str(folder / "spec.yaml"), _action(case))
    annotation = [_missing_txt(tmp_path)] if case == "h200/c_missing_file" else []
    d = diagnose(
        log,
        exit_code=int((folder / "exit_code.txt").read_text()),
        status_lines=_status(folder),
        spec=spec,
        annotation_files=annotation,
    )
    want = DIAGNOSIS.get(case)
    if want is None:
        assert d is None, d
        return
    assert d is not None, case
    code, cause, fix = want
    assert d.code == code and cause in d.cause and fix in d.fix, d
    line = d.one_line()
    assert len(line) <= ONE_LINE_MAX and "\n" not in line and "dist-packages" not in line
    assert d.source and d.excerpt  # what `depthnet verdict --verbose` will show


@pytest.mark.parametrize("case", ALL)
def test_nan_metrics_of_every_capture(case):
    folder = _folder(case)
    action = _action(case)
    findings = judge_metrics(_status(folder), action, spec=try_load(str(folder / "spec.yaml"), action))
    want = METRICS.get(case)
    if want is None:
        assert findings == []
        return
    key, severity, words = want
    assert (findings[0].key, findings[0].severity) == (key, severity) and words in findings[0].reason, (
        findings
    )


# ------------------------------------------------------------------------------------------------ verdict level

#: What `depthnet verdict --json` says: (verdict, words in the first reason).
VERDICT = {
    "c_rel_vitb_train": ("PASS", "train finished"),
    "c_eval_rel": ("PASS", "evaluate finished"),
    "c_infer_nogt": ("PASS", "inference finished"),
    "c_ft_rel_full_public": ("PASS", "train finished"),
    "c_ft_met_full_public": ("PASS", "train finished"),
    "c_missing_file": ("FAIL", f"RGB image not found: {GONE}"),
    "c_eval_wrong_encoder": ("FAIL", "the checkpoint holds a vitb model; the spec says model.encoder: vits"),
    "c_ft_rel_backbone_dino": ("FAIL", "val/abs_rel is NaN and δ1 = 0: the model predicts no valid depth"),
}


def _verdict_json(case: str, tmp_path: Path, *more: str) -> dict:
    src = H200 / case
    action = _action(f"h200/{case}")
    folder = tmp_path / case / action
    folder.mkdir(parents=True)
    shutil.copy(src / "status.json", folder)
    for row in (src / "tree.txt").read_text().splitlines():  # the outputs the run left, as empty files
        parts = row.split()
        if len(parts) >= 3 and parts[0] in "fl" and f"/{action}/" in parts[2]:
            rel = parts[2].split(f"/{action}/", 1)[1]
            if rel.endswith((".pth", ".jpg")):
                (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                (folder / rel).touch()
    done = depthnet(
        "verdict", str(folder), "--log", str(src / "console.log"), "--exit-code",
        (src / "exit_code.txt").read_text().strip(), "--spec", str(src / "spec.yaml"), *more,
    )  # fmt: skip
    assert done.returncode == (0 if VERDICT[case][0] == "PASS" else 1), done.stderr
    return json.loads(done.stdout) if "--json" in more else {"text": done.stdout}


@pytest.mark.parametrize("case", CASES_H200)
def test_depthnet_verdict_says_the_cause_and_the_fix(case, tmp_path):
    """The first reason is the catalogue's one line (or the NaN finding); a failure keeps its log excerpt."""
    want, words = VERDICT[case]
    out = _verdict_json(case, tmp_path, "--json")
    assert out["verdict"] == want and words in out["reasons"][0], out
    assert all(len(r) <= ONE_LINE_MAX and "\n" not in r for r in out["reasons"])
    if case in ("c_missing_file", "c_eval_wrong_encoder"):
        assert out["code"] == DIAGNOSIS[f"h200/{case}"][0] and out["excerpt"], out  # type: ignore[index]
    else:
        assert out["code"] is None and out["excerpt"] is None


def test_depthnet_verdict_verbose_shows_the_log_lines_it_read(tmp_path):
    text = _verdict_json("c_eval_wrong_encoder", tmp_path, "--verbose")["text"]
    head, _, excerpt = text.partition("from the log (size_mismatch):")
    assert head.startswith("FAIL — evaluate failed with exit code 1: the checkpoint holds a vitb model")
    assert "size mismatch for model." in excerpt and "dist-packages" not in excerpt
    # the block's first line (cls_token: 768 from the checkpoint, 384 in the model) and the error above it
    assert "Error(s) in loading state_dict" in excerpt and "model.pretrained.cls_token" in excerpt
    assert "\x1b" not in text


# ----------------------------------------------------------------------------------------------- live level


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """One project (sample data, annotation files) for every live case: each run gets its own results folder."""
    return make_project(tmp_path_factory.mktemp("h200"))


@pytest.fixture()
def on_path(project, monkeypatch):
    """The stand-in as ``depth_net`` on PATH (conftest's depth_net_on_path, for a module-wide project)."""
    bin_dir = project.root / "bin"
    if not bin_dir.is_dir():
        bin_dir.mkdir()
        (bin_dir / "depth_net").symlink_to(Path(__file__).parent / "emulator" / "depth_net")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


LIVE = {  # case → (action, verdict, the catalogue's words on the relayed console; None: nothing failed)
    "c_rel_vitb_train": ("train", True, None),
    "c_eval_rel": ("evaluate", True, None),
    "c_infer_nogt": ("inference", True, None),
    "c_ft_rel_full_public": ("train", True, None),
    "c_ft_met_full_public": ("train", True, None),
    "c_ft_rel_backbone_dino": ("train", False, None),  # exit 0: the NaN finding, not the catalogue
    "c_missing_file": ("train", False, f"RGB image not found: {GONE}"),
    "c_eval_wrong_encoder": (
        "evaluate",
        False,
        "the checkpoint holds a vitb model; the spec says model.encoder: vits",
    ),
}


@pytest.mark.parametrize("case", CASES_H200)
def test_live_replay_of_every_h200_capture(case, project, on_path):
    """The stand-in replays the capture (console chunks, status.json lines, checkpoints, at their times); the
    local backend streams it; the monitor relays it. The catalogue reads what the monitor relayed."""
    action, passed, words = LIVE[case]
    results = project.out / f"results_{case}"
    extra = []
    if action != "train":  # the checkpoint inside the results folder: a path the container can see
        results.mkdir(exist_ok=True)
        (results / "x.pth").touch()
        extra = ["--checkpoint", str(results / "x.pth"), "--data-file", str(project.out / "ann" / "val.txt")]
    spec = project.spec(action, f"{case}.yaml", *extra, results=results.name)
    done = depthnet(
        "run", action, "-e", str(spec), "--backend", "local", "--json-events", "--force",
        "--env", f"EMU_CASE=h200/{case}", "--env", "EMU_SPEED=0.005",
    )  # fmt: skip
    evs = events(done.stdout)
    v = verdict(evs)
    assert v["passed"] is passed and done.returncode == (0 if passed else 1), (v, done.stderr[-2000:])
    log = "\n".join(e["text"] for e in evs if e["kind"] == "log")
    status = [e["data"] for e in evs if e["kind"] == "status"]
    d = diagnose(log, exit_code=v["exit_code"], status_lines=status, action=action)
    if words is None:
        assert d is None, d
    else:
        assert d is not None and words in d.cause, d
    assert VERDICT[case][1] in v["reason"] and len(v["reason"]) <= ONE_LINE_MAX, v  # the monitor's verdict
    saved = [line for line in log.splitlines() if "results will be saved at" in line]
    assert saved and str(results) in saved[0]  # the capture's path became the spec's
    if case == "c_missing_file":  # TAO's exception checkpoint is replayed too
        assert (results / "train" / "model_epoch_000_step_00005.pth").exists()
        assert short_path(GONE) in d.one_line()  # type: ignore[union-attr]
