"""The data doctor on generated files of every encoding and on the real samples in shared/realdata."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import SHARED, require
from depthgen import annotation, depth_metres, depth_mm, nyu_like_dataset, png16, rgb, write_pfm
from PIL import Image

from specgen.data.doctor import diagnose
from specgen.data.doctor.readers import UnreadableFile, read_pfm
from specgen.data.doctor.report import spread_sample


def codes(report) -> list[str]:
    return [f.code for f in report.findings]


@pytest.fixture()
def raw_nyu(tmp_path):
    root = nyu_like_dataset(tmp_path / "nyu")
    pairs = [
        (p, p.with_name(p.name.replace("rgb_", "sync_depth_")).with_suffix(".png"))
        for p in sorted(root.rglob("rgb_*.jpg"))
    ]
    return annotation(tmp_path / "train.txt", pairs)


def test_raw_nyu_with_generic_metric_class_predicts_nan(raw_nyu):
    r = diagnose(str(raw_nyu), "MetricMonoDataset")
    assert r.encoding.code == "uint16_mm" and r.valid_ratio == 0.0
    empty = r.findings[0]
    assert empty.code == "EMPTY_MASK" and "loss will be NaN" in empty.message and "PASS" in empty.message
    assert empty.autofix == {"dataset_name": "NYUDV2"}
    assert "ENCODING_MISMATCH" in codes(r) and r.fails
    assert (
        r.suggestion.dataset_name == "NYUDV2"
        and 0.4 < r.suggestion.min_depth < 0.6
        and r.suggestion.max_depth >= 10
    )


def test_raw_nyu_with_nyudv2_is_healthy(raw_nyu):
    r = diagnose(str(raw_nyu), "NYUDV2")
    assert not r.fails and not [f for f in r.findings if f.severity == "error"]
    # 0.5–10 m inside (0.001, 10), minus 10 % holes, inside the crop (426×560 of 480×640)
    assert r.valid_ratio == pytest.approx(0.9 * 426 * 560 / (480 * 640), abs=0.02)


def test_raw_nyu_with_relative_generic_class_is_wrong_targets(raw_nyu):
    r = diagnose(str(raw_nyu), "RelativeMonoDataset")
    assert "ENCODING_MISMATCH" in codes(r) and r.fails
    fix = next(f for f in r.findings if f.code == "ENCODING_MISMATCH").autofix
    assert fix == {"dataset_name": "NYUDV2Relative", "model_type": "RelativeDepthAnything"}
    assert diagnose(str(raw_nyu), "NYUDV2Relative").fails is False


def test_pairing_mismatch(raw_nyu):
    r = diagnose(str(raw_nyu), "NYUDV2", "RelativeDepthAnything")
    assert "PAIRING" in codes(r) and r.fails


def _one(tmp_path, depth_path, h=480, w=640):
    return annotation(tmp_path / "a.txt", [(rgb(tmp_path / "rgb.jpg", h, w), depth_path)])


@pytest.mark.parametrize("little", [True, False])
def test_pfm_metres_either_endianness(tmp_path, little):
    d = depth_metres()
    p = write_pfm(tmp_path / "d.pfm", d, little=little)
    np.testing.assert_array_equal(read_pfm(p), d)
    r = diagnose(str(_one(tmp_path, p)), "MetricMonoDataset")
    assert r.encoding.code == "float_metres" and not r.fails and r.valid_ratio > 0.99


def test_pfm_colour_and_flip(tmp_path):
    arr = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    p = write_pfm(tmp_path / "c.pfm", arr)
    np.testing.assert_array_equal(read_pfm(p), arr)
    assert read_pfm(p)[0, 0, 0] == 0.0  # top-down after TAO's flip


def test_pfm_disparity(tmp_path):
    p = write_pfm(tmp_path / "disp.pfm", depth_metres(lo=30, hi=250))
    r = diagnose(str(_one(tmp_path, p)), "Middlebury")
    assert r.encoding.code == "float_disparity" and not r.fails


@pytest.mark.parametrize(
    "encoding,make,klass",
    [
        ("uint16_x5000", lambda: (depth_metres(lo=1.5, hi=9.0) * 5000).astype(np.uint16), "NYUDV2"),
        (
            "uint16_cm",
            lambda: np.where(
                np.random.default_rng(1).random((480, 640)) < 0.1, 65535, (depth_metres(lo=3, hi=60) * 100)
            ).astype(np.uint16),
            "NYUDV2",
        ),
        (
            "uint16_x256",
            lambda: np.where(
                np.random.default_rng(2).random((480, 640)) < 0.85, 0, (depth_metres(lo=5, hi=80) * 256)
            ).astype(np.uint16),
            "MetricMonoDataset",
        ),
    ],
)
def test_uint16_encodings_no_class_reads(tmp_path, encoding, make, klass):
    r = diagnose(str(_one(tmp_path, png16(tmp_path / "d.png", make()))), klass)
    assert r.encoding.code == encoding
    mismatch = next(f for f in r.findings if f.code == "ENCODING_MISMATCH")
    assert "no TAO mono class reads" in mismatch.message and mismatch.fix
    assert r.fails and r.suggestion.dataset_name is None


def test_rgb_encoded_depth_for_fsd(tmp_path):
    mm = depth_mm(zeros=0.05).astype(np.int64)
    enc = np.stack([mm // (255 * 255), (mm // 255) % 255, mm % 255], axis=-1).astype(np.uint8)
    p = tmp_path / "d.png"
    Image.fromarray(enc).save(p)
    r = diagnose(str(_one(tmp_path, p)), "FSD")
    assert r.encoding.code == "rgb24_mm" and not r.fails


def test_npy_metres_for_threedvlm_and_unsupported_ext_for_nyu(tmp_path):
    p = tmp_path / "d.npy"
    np.save(p, depth_metres())
    r = diagnose(str(_one(tmp_path, p)), "ThreeDVLM")
    assert r.encoding.code == "float_metres" and not r.fails
    bad = diagnose(str(_one(tmp_path, p)), "NYUDV2")
    assert "UNSUPPORTED_EXT" in codes(bad)


def test_uint8_grey_is_relative(tmp_path):
    p = tmp_path / "d.png"
    Image.fromarray(np.random.default_rng(0).integers(1, 255, (480, 640), dtype=np.uint8)).save(p)
    r = diagnose(str(_one(tmp_path, p)), "RelativeMonoDataset")
    assert r.encoding.code == "uint8_relative"


def test_crop_and_size_mismatch(tmp_path):
    p = png16(tmp_path / "d.png", depth_mm(h=240, w=320))
    r = diagnose(str(annotation(tmp_path / "a.txt", [(rgb(tmp_path / "rgb.jpg"), p)])), "NYUDV2")
    assert "CROP_SIZE_MISMATCH" in codes(r) and "RGB_DEPTH_SIZE_MISMATCH" in codes(r)


def test_range_clips_and_low_valid(tmp_path):
    p = write_pfm(tmp_path / "d.pfm", depth_metres(lo=5, hi=40))
    r = diagnose(str(_one(tmp_path, p)), "MetricMonoDataset")
    assert "RANGE_CLIPS" in codes(r) and r.suggestion.max_depth > 40
    far = write_pfm(tmp_path / "f.pfm", depth_metres(lo=9.8, hi=60))
    r2 = diagnose(str(_one(tmp_path, far)), "MetricMonoDataset")
    assert "LOW_VALID" in codes(r2)


def test_normalize_depth_with_holes_is_nan(raw_nyu):
    r = diagnose(str(raw_nyu), "RelativeMonoDataset", normalize_depth=True)
    assert "NORMALIZE_NAN" in codes(r)


def test_corrupt_and_truncated_files_are_unreadable(tmp_path):
    good = png16(tmp_path / "good.png", depth_mm())
    trunc = tmp_path / "trunc.png"
    trunc.write_bytes(good.read_bytes()[:2000])
    pfm = write_pfm(tmp_path / "t.pfm", depth_metres())
    short = tmp_path / "short.pfm"
    short.write_bytes(pfm.read_bytes()[:5000])
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not a png at all")
    for bad, klass in ((trunc, "NYUDV2"), (short, "MetricMonoDataset"), (junk, "NYUDV2")):
        r = diagnose(str(_one(tmp_path, bad)), klass)
        un = next(f for f in r.findings if f.code == "UNREADABLE")
        assert un.severity == "error" and str(bad) in un.examples[0] and r.fails
    with pytest.raises(UnreadableFile, match=r"truncated PFM \(\d+ of 307200 values\)"):
        read_pfm(short)


def test_sample_spreads_across_scenes():
    rows = [(f"/d/s{s}/rgb_{i}.jpg", f"/d/s{s}/d_{i}.png") for s in range(4) for i in range(100)]
    picked = spread_sample(rows, 8)
    assert len(picked) == 8 and len({p[1].split("/")[2] for p in picked}) == 4


def test_real_samples_from_shared(tmp_path):
    real = SHARED / "realdata"
    require(real.is_dir(), "shared/realdata is not beside the repo")
    red = annotation(
        tmp_path / "red.txt",
        [
            (real / f"redwood/scene_a/rgb_0000{i}.jpg", real / f"redwood/scene_a/sync_depth_0000{i}.png")
            for i in range(3)
        ],
    )
    assert "EMPTY_MASK" in codes(diagnose(str(red), "MetricMonoDataset"))
    ok = diagnose(str(red), "NYUDV2")
    assert not ok.fails and ok.encoding.code == "uint16_mm" and ok.valid_ratio > 0.5
    tum = annotation(
        tmp_path / "tum.txt", [(real / "tum/fr1/rgb_00000.png", real / "tum/fr1/depth_00000.png")]
    )
    assert diagnose(str(tum), "NYUDV2").encoding.code == "uint16_x5000"
    sun = annotation(
        tmp_path / "sun.txt", [(real / "sun/scene_0/rgb_00000.jpg", real / "sun/scene_0/depth_00000.png")]
    )
    assert diagnose(str(sun), "NYUDV2").encoding.code == "uint16_sun_rotated"


def test_cli_exit_codes_and_json(cli, raw_nyu, tmp_path):
    bad = cli("doctor", "--data-file", str(raw_nyu), "--dataset-name", "MetricMonoDataset")
    assert bad.returncode == 1 and "EMPTY_MASK" in bad.stdout and "Traceback" not in bad.stderr
    good = cli("doctor", "--data-file", str(raw_nyu), "--dataset-name", "NYUDV2", "--json")
    assert good.returncode == 0
    doc = json.loads(good.stdout)
    assert doc["encoding"]["code"] == "uint16_mm" and doc["fails"] is False
    missing = cli("doctor", "--data-file", str(tmp_path / "none.txt"), "--dataset-name", "NYUDV2")
    assert missing.returncode == 1 and "no such annotation file" in missing.stderr
    unknown = cli("doctor", "--data-file", str(raw_nyu), "--dataset-name", "NYU")
    assert unknown.returncode == 1 and "unknown dataset class 'NYU'" in unknown.stderr
