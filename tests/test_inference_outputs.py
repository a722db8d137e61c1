"""TAO's inference output naming (mirrored paths, whole-path PFM replacement), the viewer's arrays from real RGB,
the metric table, and verdicts that check what an action should have written."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED, require
from depthgen import rgb, write_pfm
from PIL import Image

from specgen.data.doctor.readers import UnreadableFile
from specgen.data.inference_outputs import list_outputs, output_for, pfm_collisions, pfm_path_for, preview
from specgen.data.metrics import fmt_delta, metric_rows
from specgen.engine.verdict import judge, missing_output
from specgen.job.builders import BuildRequest, build_spec
from specgen.job.validate import check_spec


def test_pfm_name_replaces_the_extension_words_anywhere_in_the_path():
    pic = output_for("/data/jpg_scenes/png/img.jpeg", "/r/inference")
    assert pic == "/r/inference/inference_images/data/jpg_scenes/png/img.jpeg"
    assert pfm_path_for(pic) == "/r/inference/inference_pfm/data/pfm_scenes/pfm/img.pfm"
    assert pfm_collisions(["/d/png/a.png", "/d/pfm/a.png", "/d/x/b.jpg"], "/r/inference") == {
        "/r/inference/inference_pfm/d/pfm/a.pfm": ["/d/png/a.png", "/d/pfm/a.png"]
    }


def test_spec_check_warns_about_inputs_sharing_a_pfm(tmp_path):
    infer = tmp_path / "infer.txt"
    infer.write_text(f"{tmp_path}/png/a.png\n{tmp_path}/pfm/a.png\n")
    spec, _ = build_spec(
        BuildRequest(
            action="inference",
            data_file=str(infer),
            results_dir=str(tmp_path / "r"),
            checkpoint="/c.pth",
            overrides={"inference.save_raw_pfm": True},
        )
    )
    found = [p for p in check_spec(spec, "inference") if p.path == "inference.save_raw_pfm"]
    assert len(found) == 1 and found[0].severity == "warning"
    assert (
        "2 inputs share 1 PFM paths" in found[0].message
        and "later overwrites the earlier" in found[0].message
    )


def test_listing_and_preview_from_real_rgb_and_a_pfm(tmp_path):
    require(
        (SHARED / "realdata/redwood/scene_a/rgb_00000.jpg").is_file(),
        "shared/realdata is not beside the repo",
    )
    image = str(SHARED / "realdata/redwood/scene_a/rgb_00000.jpg")
    results = tmp_path / "inference"
    pic = output_for(image, str(results))
    os.makedirs(os.path.dirname(pic))
    with Image.open(image) as im:
        w, h = im.size
        Image.fromarray(np.zeros((h, 2 * w, 3), np.uint8)).save(pic)
    pred = np.linspace(1.0, 5.0, h * w, dtype=np.float32).reshape(h, w)
    pred[0, 0] = np.nan
    write_pfm(Path(pfm_path_for(pic)), pred)
    items = list_outputs(str(results))
    assert [(i.input, i.input_exists, i.pfm) for i in items] == [(image, True, pfm_path_for(pic))]
    shown = preview(items[0], width=64)
    assert shown.rgb.shape[1] == 64 and shown.rgb.mean() > 20  # the real input, not TAO's black left half
    assert shown.caption.startswith("predicted m: 1–5, median 3") and "0% not finite" in shown.caption
    assert sum(c for _, _, c in shown.histogram) == h * w - 1
    near, far = shown.depth_rgb[0, 1], shown.depth_rgb[-1, -1]
    assert near[0] > far[0] and near[2] < far[2]  # near (1 m) is warm red, far (5 m) cool
    rel = preview(items[0], relative=True, width=64)
    assert rel.caption.startswith("predicted disparity (relative)")
    assert rel.depth_rgb[0, 1][0] < rel.depth_rgb[-1, -1][0]  # large disparity = near = warm: reversed
    # Without the PFM: TAO's own picture, halves.
    os.remove(pfm_path_for(pic))
    plain = preview(list_outputs(str(results))[0], width=32)
    assert "no PFM: set inference.save_raw_pfm" in plain.caption and plain.histogram == []
    with open(pic, "wb") as f:
        f.write(b"not a png")
    with pytest.raises(UnreadableFile, match=f"{pic}: cannot be read"):
        preview(list_outputs(str(results))[0])


def test_metric_rows_best_and_deltas():
    rows = {
        r["key"]: r
        for r in metric_rows(
            [{"val/abs_rel": 0.12, "val/d1": 0.8}, {"val/abs_rel": 0.10, "val/d1": 0.7, "val/extra": 1.0}]
        )
    }
    assert list(rows) == ["val/abs_rel", "val/d1", "val/extra"]
    assert rows["val/abs_rel"]["best"] == 1 and rows["val/d1"]["best"] == 0
    assert math.isclose(rows["val/abs_rel"]["deltas"][1], -0.02)
    assert rows["val/extra"]["values"] == [None, 1.0] and rows["val/extra"]["best"] is None
    assert fmt_delta(-0.02, False) == "-0.0200▲" and fmt_delta(-0.1, True) == "-0.1000▼"
    nan = metric_rows([{"val/abs_rel": float("nan")}, {"val/abs_rel": 0.1}])[0]
    assert nan["best"] is None and nan["deltas"] == [None, None]


def test_verdict_requires_the_outputs_an_action_promises(tmp_path):
    from specgen.engine.runspec import RunSpec
    from specgen.spec.schema import ExperimentSpec

    run = RunSpec(
        action="export",
        path=str(tmp_path / "export.yaml"),
        spec=ExperimentSpec.model_validate({"export": {"onnx_file": f"{tmp_path}/m.onnx"}}),
    )
    missing = missing_output("export", run, str(tmp_path / "export"))
    assert missing == f"no export.onnx_file at {tmp_path}/m.onnx"
    v = judge("export", 0, [], {}, tao_status="PASS", missing=missing)
    assert (
        not v.passed
        and v.reason == f"export exited 0 but wrote nothing: no export.onnx_file at {tmp_path}/m.onnx"
    )
    (tmp_path / "m.onnx").write_text("x")
    assert missing_output("export", run, str(tmp_path)) is None
    assert missing_output("inference", run, str(tmp_path / "inference")).startswith("no image in")
    rgb(tmp_path / "inference" / "inference_images" / "x" / "a.jpg", 8, 8)
    assert missing_output("inference", run, str(tmp_path / "inference")) is None


def test_a_long_input_path_is_cut_at_folders_not_inside_a_name():
    from tui.screens.inference_results import fit_path

    path = "/tmp/depthnet-snap/infer/data/redwood/scene_a/rgb_00001.jpg"
    assert fit_path(path, 80) == path
    short = fit_path(path, 40)
    assert short.startswith("…/") and short.endswith("/redwood/scene_a/rgb_00001.jpg") and len(short) <= 40
    assert (
        fit_path("/a/" + "x" * 50 + ".jpg", 20) == "…/" + "x" * 50 + ".jpg"
    )  # a name longer than the pane stays whole
