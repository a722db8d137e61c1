"""Issue #25, class 10: inputs that crashed or were refused for the wrong reason — YAML merge keys (TAO's
OmegaConf reads them), crop sizes TAO cannot use, and the doctor's reading of an annotation line."""

from __future__ import annotations

import pytest
from fastcli import DEPTHNET
from pydantic import ValidationError

from specgen.spec.render import SpecFileError, load_spec, parse_yaml


def test_a_merge_key_is_read_as_omegaconf_reads_it():
    data = parse_yaml("base: &b {batch_size: 2, workers: 1}\ntrain:\n  <<: *b\n  workers: 4\n")
    assert data["train"] == {"batch_size": 2, "workers": 4}  # an own key overrides the merged one
    data = parse_yaml("a: &a {x: 1}\nb: &b {y: 2}\nc:\n  <<: [*a, *b]\n")
    assert data["c"] == {"x": 1, "y": 2}


@pytest.mark.parametrize(
    "text, words",
    [
        ("m:\n  <<: 5\n", "merge key"),
        ("m:\n  x: 1\n  x: 2\n", "duplicate"),  # duplicates among the mapping's own keys stay an error
    ],
)
def test_a_bad_merge_is_one_clear_line(text, words):
    with pytest.raises(SpecFileError, match=words):
        parse_yaml(text)


def test_a_merge_bomb_is_refused_like_an_alias_bomb():
    levels = "".join(
        f"a{i}: &a{i}\n  <<: [*a{i - 1}]\n  p{i}: [*a{i - 1}, *a{i - 1}]\n" for i in range(1, 40)
    )
    with pytest.raises(SpecFileError):
        parse_yaml("a0: &a0 {k: 1}\n" + levels)


@pytest.mark.parametrize("crop", ["[0, -14]", "[518]", "[518, 518, 518]", "[500, 518]", "[-518, 518]"])
def test_a_crop_size_tao_cannot_use_is_refused(crop):
    with pytest.raises(ValidationError, match="crop_size"):
        load_spec(f"dataset:\n  train_dataset:\n    augmentation:\n      crop_size: {crop}\n")


def test_a_good_crop_size_passes():
    spec = load_spec("dataset:\n  train_dataset:\n    augmentation:\n      crop_size: [518, 700]\n")
    assert spec.dataset.train_dataset.augmentation.crop_size == [518, 700]


def test_the_doctor_reads_the_depth_where_tao_does(tmp_path):
    """A 4-column stereo line ``image right depth mask``: TAO's depth is column 2, not the mask at the end."""
    from depthgen import sample_dataset

    from specgen.data.doctor.report import diagnose, read_annotation

    data = sample_dataset(tmp_path / "data", per_scene=1)
    rgb = next(data.rglob("rgb_*.jpg"))
    depth = rgb.with_name(rgb.name.replace("rgb_", "sync_depth_").replace(".jpg", ".png"))
    ann = tmp_path / "train.txt"
    ann.write_text(f"{rgb} {rgb} {depth} {tmp_path / 'mask.png'}\n", encoding="utf-8")
    assert read_annotation(str(ann)) == [(str(rgb), str(depth))]
    report = diagnose(str(ann), "NYUDV2")
    assert not [f.code for f in report.findings if f.code == "UNREADABLE"] and report.samples[0].depth == str(
        depth
    )
    ann.write_text(f"{rgb}  {depth}\n", encoding="utf-8")  # two spaces: TAO's split gives '' in column 1
    assert read_annotation(str(ann)) == [(str(rgb), str(depth))]


def test_thousands_of_flow_levels_are_refused_before_parsing():
    """PyYAML recurses per ``[`` level: 5000 of them took seconds to unwind; the text scan answers at once."""
    with pytest.raises(SpecFileError, match="nesting deeper than 64 levels"):
        parse_yaml("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert parse_yaml("a: [[1], {b: [2]}]\n") == {"a": [[1], {"b": [2]}]}


def _npy_header(header: str) -> bytes:
    h = header.encode("latin1")
    h += b" " * (64 - (10 + len(h) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h


@pytest.mark.parametrize(
    "kind, words",
    [
        ("strings", "not numbers"),
        ("structured", "not numbers"),
        ("298 GiB", "header declares shape"),
        ("header is code", "not a readable .npy"),
    ],
)
def test_a_npy_depth_that_is_not_a_depth_array_is_one_line(kind, words, tmp_path):
    """String, structured and object dtypes crashed the doctor (a TypeError); a header declaring 298 GiB allocated
    it first (a MemoryError). Both are now read from the header alone."""
    import numpy as np

    from specgen.data.doctor.readers import UnreadableFile, read_depth_raw

    p = tmp_path / "depth.npy"
    if kind == "strings":
        np.save(p, np.array([["a", "b"], ["c", "d"]]))
    elif kind == "structured":
        np.save(p, np.zeros((4, 4), dtype=[("a", "f4"), ("b", "i4")]))
    elif kind == "298 GiB":
        p.write_bytes(_npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (280000, 280000), }"))
    else:
        p.write_bytes(_npy_header("__import__('os').system('touch PWNED')"))
    with pytest.raises(UnreadableFile, match=words):
        read_depth_raw(p)
    assert not (tmp_path / "PWNED").exists()
    np.save(p, np.ones((4, 6), dtype=np.float32))
    assert read_depth_raw(p).shape == (4, 6)


def test_an_annotation_file_of_zeros_is_refused_at_once(tmp_path):
    """A sparse 3 GiB file (or /dev/zero's copy) is not read whole: its first line holds a NUL byte."""
    from specgen.data.doctor.report import read_annotation

    p = tmp_path / "train.txt"
    with open(p, "wb") as f:
        f.truncate(3 << 30)
    with pytest.raises(OSError, match="line 1 is binary"):
        read_annotation(str(p))
    p.write_text("a.jpg " + "x" * 100_000 + "\n")
    with pytest.raises(OSError, match="longer than"):
        read_annotation(str(p))
    p.write_text(
        "a.jpg a.png\r\nb.jpg b.png\rc.jpg\n\n"
    )  # CR and CRLF end lines, as in TAO's text-mode reading
    assert read_annotation(str(p)) == [("a.jpg", "a.png"), ("b.jpg", "b.png"), ("c.jpg", None)]


@pytest.mark.parametrize(
    "param",
    ["train.optim.lr=uniform:-inf:inf", "train.optim.lr=uniform:nan:1", "train.num_epochs=int:1.5:3"],
)
def test_a_sweep_range_that_cannot_be_sampled_is_refused(param):
    from specgen.engine.sweep import Param

    with pytest.raises(ValueError, match="--param"):
        Param.parse(param)


@pytest.mark.parametrize(
    "extra", [["--trials", "0"], ["--trials", "-5"], ["--trials", "2", "--parallel", "-1"]]
)
def test_sweep_counts_are_checked_before_anything_starts(extra, tmp_path):
    import subprocess
    import sys

    spec = tmp_path / "spec.yaml"
    spec.write_text("results_dir: /tmp/x\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "specgen.cli",
            "sweep",
            "-e",
            str(spec),
            "--out",
            str(tmp_path / "sw"),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "unexpected error" not in done.stderr, done.stderr
    assert ("--trials" in done.stderr or "--parallel" in done.stderr) and not (tmp_path / "sw").exists()


@pytest.mark.parametrize("kind", ["fifo", "huge", "nested"])
def test_resume_on_a_file_that_is_no_session_is_one_line(kind, tmp_path):
    """``depthnet-tui --resume`` read a FIFO forever, a 2 GiB file whole, and deep nesting as a RecursionError."""
    import os

    from tui.state import WizardState

    p = tmp_path / ".depthnet" / "session.json"
    p.parent.mkdir()
    if kind == "fifo":
        os.mkfifo(p)
    elif kind == "huge":
        with open(p, "wb") as f:
            f.truncate(2 << 30)
    else:
        p.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="session"):
        WizardState.load(tmp_path)


@pytest.mark.parametrize("shape", [(1, 1), (0, 0), (5, 640)])
def test_a_depth_map_smaller_than_a_patch_is_not_healthy(shape, tmp_path):
    """0×0 and 1×1 depth maps were called healthy (the size check skipped a height of 0; a mismatch only warned)."""
    import numpy as np
    from depthgen import sample_dataset

    from specgen.data.doctor.report import diagnose

    data = sample_dataset(tmp_path / "data", per_scene=1)
    rgb = next(data.rglob("rgb_*.jpg"))
    depth = tmp_path / "depth.pfm"
    h, w = shape
    depth.write_bytes(f"Pf\n{w} {h}\n-1.0\n".encode() + np.ones((h, w), dtype="<f4").tobytes())
    ann = tmp_path / "train.txt"
    ann.write_text(f"{rgb} {depth}\n", encoding="utf-8")
    report = diagnose(str(ann), "NYUDV2")
    assert report.fails and "DEPTH_TOO_SMALL" in [f.code for f in report.findings]


def test_a_sweep_of_an_unknown_key_is_refused_before_any_trial(tmp_path):
    import subprocess

    spec = tmp_path / "spec.yaml"
    spec.write_text("results_dir: /tmp/x\n")
    done = subprocess.run(
        [*DEPTHNET, "sweep", "-e", str(spec), "--out", str(tmp_path / "sw")]
        + ["--trials", "2", "--param", "train.optim.lrr=uniform:0:1", "--backend", "local"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (  # create_sweep's refusal (1: a problem in the input), the one check the wizard's sweeps share
        done.returncode == 1
        and "train.optim.lrr" in done.stderr
        and "did you mean train.optim.lr" in done.stderr
    )
    assert not (tmp_path / "sw").exists()


def test_a_gpu_index_no_host_has_is_refused():
    from specgen.job.gpus import parse_gpus

    with pytest.raises(ValueError, match="a GPU index is 0 to 1023"):
        parse_gpus("99999999999999999999")
    assert parse_gpus("0,3") == [0, 3]
