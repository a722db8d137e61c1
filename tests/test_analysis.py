"""Per-image error analysis (``specgen.data.analysis``, ``depthnet analyze``, the sorted results browser).

The numbers are checked against values worked out by hand for tiny images, then on real evaluate / inference
outputs made by the TAO stand-in (``tests/emulator/depth_net``) from generated NYU-like data: its inference copies
one real depth map (metres) as every image's "prediction", so that image scores exactly 0 and the others do not.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import settle
from depthgen import write_pfm
from runkit import depthnet
from test_run_screen import wait_for

from specgen.data.analysis import Sample, Setup, analyse, samples_from_spec, sort_key, tao_valid_mask
from specgen.data.doctor.decode import decode
from specgen.data.doctor.readers import read_image_array

EMULATOR = Path(__file__).parent / "emulator" / "depth_net"


def sample(tmp: Path, name: str, gt: list[list[float]], pred: list[list[float]], cls: str) -> Sample:
    gt_path = write_pfm(tmp / f"{name}_gt.pfm", np.array(gt, np.float32))
    pred_path = write_pfm(tmp / f"{name}.pfm", np.array(pred, np.float32))
    return Sample(str(tmp / f"{name}.png"), str(gt_path), str(pred_path), cls)


# ---------------------------------------------------------------------------------------------- by hand


def test_two_tiny_metric_images_against_numbers_worked_out_by_hand(tmp_path):
    # MetricMonoDataset, PFM ground truth in metres, dataset.min_depth 0.001 / max_depth 10 (TAO clips to it).
    # A: truth [[1, 2], [4, 8]], prediction [[1.1, 2], [2, 12]] → 12 is clipped to 10; all four pixels valid.
    #    |p−g|/g = 0.1, 0, 0.5, 0.25 → AbsRel 0.85/4 = 0.2125
    #    (p−g)²  = 0.01, 0, 4, 4     → RMSE √(8.01/4) = √2.0025 = 1.41509717
    #    max(p/g, g/p) = 1.1, 1, 2, 1.25 → δ1 (strictly < 1.25) = 2/4 = 0.5
    # B: truth [[3, 6], [0, 20]] (0 and 20 lie outside 0.001–10: invalid), prediction [[1.5, 6.6], [5, 5]].
    #    |p−g|/g = 0.5, 0.1 → AbsRel 0.3;  (p−g)² = 2.25, 0.36 → RMSE √1.305 = 1.14236597;  ratios 2, 1.1 → δ1 0.5
    # Pooled over the 6 pixels, as TAO's evaluator pools: AbsRel 1.45/6 = 0.24166667, δ1 3/6 = 0.5,
    #    δ2 (< 1.5625): 1.1, 1, 1.25, 1.1 → 4/6; δ3 (< 1.953125): the same 4/6; RMSE √(10.62/6) = √1.77 = 1.33041347
    # Depth terciles of the truth 1, 2 | 3, 4 | 6, 8:
    #    near (1, 2): rel 0.1, 0 → 0.05; sq 0.01, 0 → RMSE √0.005 = 0.07071068; δ1 2/2 = 1
    #    mid  (3, 4): rel 0.5, 0.5 → 0.5; sq 2.25, 4 → RMSE √3.125 = 1.76776695; δ1 0
    #    far  (6, 8): rel 0.1, 0.25 → 0.175; sq 0.36, 4 → RMSE √2.18 = 1.47648231; δ1 1/2 = 0.5
    a = sample(tmp_path, "a", [[1, 2], [4, 8]], [[1.1, 2], [2, 12]], "MetricMonoDataset")
    b = sample(tmp_path, "b", [[3, 6], [0, 20]], [[1.5, 6.6], [5, 5]], "MetricMonoDataset")
    seen: list[tuple[int, int]] = []
    result = analyse(
        [a, b],
        Setup(relative=False, min_depth=0.001, max_depth=10.0),
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen == [(1, 2), (2, 2)]
    approx = lambda x: pytest.approx(x, rel=1e-6)  # noqa: E731 — the PFMs hold float32 (1.1, 6.6)
    first, second = result.images
    assert (first.pixels, first.abs_rel, first.rmse, first.d1) == (4, approx(0.2125), approx(1.41509717), 0.5)
    assert (second.pixels, second.abs_rel, second.rmse, second.d1) == (
        2,
        approx(0.3),
        approx(1.14236597),
        0.5,
    )
    assert result.pooled == {
        "abs_rel": approx(0.24166667),
        "d1": 0.5,
        "d2": approx(4 / 6),
        "d3": approx(4 / 6),
        "rmse": approx(1.33041347),
        "pixels": 6,
    }
    assert [i.image for i in result.worst(by="abs_rel")] == [b.image, a.image]
    assert [i.image for i in result.worst(1, by="rmse")] == [a.image]
    near, mid, far = result.bins
    assert [b.name for b in result.bins] == ["near", "mid", "far"]
    assert (near.pixels, near.abs_rel, near.rmse, near.d1) == (2, approx(0.05), approx(0.07071068), 1.0)
    assert (mid.pixels, mid.abs_rel, mid.rmse, mid.d1) == (2, approx(0.5), approx(1.76776695), 0.0)
    assert (far.pixels, far.abs_rel, far.rmse, far.d1) == (2, approx(0.175), approx(1.47648231), 0.5)
    assert near.lo == 1.0 and 2 < near.hi == mid.lo < 3 and 4 < mid.hi == far.lo < 6 and far.hi == 8.0


def test_relative_prediction_is_fitted_by_least_squares_first(tmp_path):
    # RelativeDepthAnything + RelativeMonoDataset (PFM disparity, valid < 1000). Truth g = 1, 2, 3, 4 for the
    # prediction p = 0, 1, 2, 4. TAO fits g ≈ s·p + t: n = 4, Σp = 7, Σg = 10, Σp² = 21, Σpg = 24 →
    #   s = (4·24 − 7·10) / (4·21 − 7²) = 26/35, t = (10 − 7·26/35) / 4 = 1.2 → aligned 6/5, 68/35, 94/35, 146/35
    #   |a−g|/g = 1/5, 1/35, 11/105, 3/70 → AbsRel = (79/210)/4 = 79/840 = 0.09404762
    #   (a−g)² = (49 + 4 + 121 + 36)/1225 = 6/35 → RMSE √(6/35/4) = √(3/70) = 0.20701967
    #   ratios 1.2, 70/68, 105/94, 146/140 → all < 1.25 → δ1 1
    c = sample(tmp_path, "c", [[1, 2], [3, 4]], [[0, 1], [2, 4]], "RelativeMonoDataset")
    (item,) = analyse([c], Setup(relative=True)).images
    assert item.abs_rel == pytest.approx(79 / 840) and item.rmse == pytest.approx(math.sqrt(3 / 70))
    assert item.d1 == 1.0 and item.pixels == 4


def test_nyudv2relative_scale_and_shift_are_undone_exactly(tmp_path):
    """A real NYU-like millimetre PNG read as NYUDV2Relative (1/d on the valid, boxed pixels): a prediction that is
    any affine map of the truth's disparity scores 0 after TAO's alignment."""
    from specgen.data.sample_data import depth_mm, save_png16

    gt = save_png16(tmp_path / "sync_depth_00000.png", depth_mm(seed=3))
    truth = decode("NYUDV2Relative", read_image_array(gt), str(gt))
    pred = write_pfm(tmp_path / "pred.pfm", (3.0 * truth.values + 0.25).astype(np.float32))
    (item,) = analyse([Sample("rgb.jpg", str(gt), str(pred), "NYUDV2Relative")], Setup(relative=True)).images
    assert item.abs_rel == pytest.approx(0.0, abs=1e-5) and item.d1 == 1.0
    assert item.pixels == int(tao_valid_mask("NYUDV2Relative", truth).sum())


def test_the_nyu_box_applies_to_any_size_as_in_tao(tmp_path):
    """TAO's NYUDV2 classes set rows 45–470 × cols 41–600 on whatever size the ground truth has."""
    mm = np.full((100, 120), 2000, np.uint16)
    decoded = decode("NYUDV2", mm, "d.png")
    valid = tao_valid_mask("NYUDV2", decoded)
    assert valid.sum() == (100 - 45) * (120 - 41) and not valid[:45].any() and not valid[:, :41].any()
    assert tao_valid_mask("MetricMonoDataset", decode("MetricMonoDataset", mm / 1000.0, "d.pfm")).all()


def test_broken_files_are_one_line_each_and_a_nan_prediction_ranks_worst(tmp_path):
    good = sample(tmp_path, "good", [[1, 2], [4, 8]], [[1, 2], [4, 8]], "MetricMonoDataset")
    nan = sample(tmp_path, "nan", [[1, 2], [4, 8]], [[float("nan"), 2], [4, 8]], "MetricMonoDataset")
    small = sample(tmp_path, "small", [[1, 2, 3], [4, 5, 6]], [[1, 2], [4, 8]], "MetricMonoDataset")
    bad = sample(tmp_path, "bad", [[1, 2], [4, 8]], [[1, 2], [4, 8]], "MetricMonoDataset")
    Path(bad.pfm).write_bytes(b"Pf\n2 2\n-1.0\n\x00\x00")  # truncated
    gone = Sample(good.image, good.gt, str(tmp_path / "missing.pfm"), "MetricMonoDataset")
    result = analyse([good, nan, small, bad, gone], Setup(relative=False, min_depth=0.001, max_depth=10.0))
    assert [i.image for i in result.worst()] == [nan.image, good.image]
    assert math.isnan(result.images[1].abs_rel) and result.images[0].abs_rel == 0.0
    assert result.problems == [
        f"{small.pfm}: prediction 2×2 but ground truth {small.gt} is 3×2: TAO compares them pixel by pixel",
        f"{bad.pfm}: truncated PFM (0 of 4 values)",
        f"{tmp_path / 'missing.pfm'}: file does not exist",
    ]
    assert all("\n" not in p for p in result.problems)
    assert sort_key(result.images[3], "abs_rel") > sort_key(result.images[0], "abs_rel")


def test_samples_come_from_the_inference_spec_with_gt_lines_only(tmp_path):
    ann = tmp_path / "infer.txt"
    ann.write_text(
        f"{tmp_path}/png/a.png {tmp_path}/a_depth.png\n{tmp_path}/pfm/a.png {tmp_path}/b.png\n/x/c.jpg\n"
    )
    spec = {
        "dataset": {"infer_dataset": {"data_sources": [{"data_file": str(ann), "dataset_name": "NYUDV2"}]}}
    }
    samples, notes = samples_from_spec(spec, "/r/inference")
    assert [(s.image, s.gt, s.pfm) for s in samples] == [
        (
            f"{tmp_path}/png/a.png",
            f"{tmp_path}/a_depth.png",
            f"/r/inference/inference_pfm{tmp_path}/pfm/a.pfm",
        ),
        (f"{tmp_path}/pfm/a.png", f"{tmp_path}/b.png", f"/r/inference/inference_pfm{tmp_path}/pfm/a.pfm"),
    ]
    assert notes == [
        f"{ann}: 1 of 3 lines name no ground truth (image only); skipped",
        f"/r/inference/inference_pfm{tmp_path}/pfm/a.pfm holds the prediction of {tmp_path}/pfm/a.png only: "
        "TAO wrote 2 inputs to it",
    ]


# ---------------------------------------------------------------------------------------------- on the stand-in


@pytest.fixture(scope="module")
def stand_in_runs(snap_dir: Path) -> dict[str, Path]:
    """An evaluate run and an inference run (derived from it with `depthnet next`) made by the TAO stand-in through
    `depthnet run --backend local`, on 3 generated NYU-like validation pairs, in this module's own snapshot folder
    (each xdist worker builds its own; the pictures show it as conftest's SNAP_SHOWN)."""
    from depthgen import sample_dataset

    BASE = snap_dir
    (BASE / "bin").mkdir(parents=True)
    (BASE / "bin" / "depth_net").symlink_to(EMULATOR)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PATH", f"{BASE / 'bin'}{os.pathsep}{os.environ['PATH']}")
        env.setenv("XDG_DATA_HOME", str(BASE / "xdg"))
        env.setenv("XDG_CONFIG_HOME", str(BASE / "xdg"))
        data = sample_dataset(BASE / "data", per_scene=2)
        ann = BASE / "ann"
        done = depthnet(
            "convert", "--data-root", str(data), "--image-pattern", "rgb_", "--depth-pattern", "sync_depth_",
            "--split-ratio", "0.5", "--out", str(ann),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        results = BASE / "results"
        results.mkdir()
        (results / "model.pth").write_bytes(b"")
        spec = BASE / "evaluate.yaml"
        done = depthnet(
            "spec", "evaluate", "--dataset-name", "NYUDV2", "--data-file", str(ann / "val.txt"),
            "--checkpoint", str(results / "model.pth"), "--results-dir", str(results), "-o", str(spec),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        done = depthnet("run", "evaluate", "-e", str(spec), "--backend", "local")
        assert done.returncode == 0, done.stderr
        done = depthnet("next", str(results / "evaluate"), "inference")
        assert done.returncode == 0, done.stderr
        infer_spec = done.stdout.split("wrote ", 1)[1].split()[0]
        first_gt = (ann / "val.txt").read_text().split()[1]
        truth = read_image_array(first_gt).astype(np.float32) / 1000.0  # NYUDV2: millimetres → metres
        pred = write_pfm(results / "prediction.pfm", truth)
        done = depthnet(
            "run", "inference", "-e", infer_spec, "--backend", "local", "--env", f"EMU_PFM={pred}"
        )
        assert done.returncode == 0, done.stderr
    return {"evaluate": results / "evaluate", "inference": results / "inference", "ann": ann / "val.txt"}


def test_an_evaluate_run_is_told_how_to_get_per_image_predictions(stand_in_runs):
    done = depthnet("analyze", str(stand_in_runs["evaluate"]))
    assert done.returncode == 1 and done.stdout == "" and done.stderr.count("\n") == 1
    assert "TAO's evaluate writes no per-image prediction" in done.stderr
    assert f"`depthnet next {stand_in_runs['evaluate']} inference`" in done.stderr


def test_analyze_an_inference_run_of_the_stand_in(stand_in_runs):
    done = depthnet("analyze", str(stand_in_runs["inference"]), "--json", "--worst", "2")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    lines = [line.split() for line in stand_in_runs["ann"].read_text().splitlines()]
    assert [i["image"] for i in out["images"]] == [image for image, _ in lines]
    exact, *others = out["images"]  # the first line's own depth map is every image's "prediction"
    assert (exact["abs_rel"], exact["rmse"], exact["d1"]) == (0.0, 0.0, 1.0)
    assert all(i["abs_rel"] > 0.01 and i["problem"] is None for i in others)
    assert [i["image"] for i in out["worst"]] == [
        i["image"] for i in sorted(others, key=lambda i: -i["abs_rel"])
    ]  # worst 2 of 3: the exact one is not among them
    # Each image's pixels are TAO's valid mask for NYUDV2: 0.001 < d < 10 m inside rows 45–470 × cols 41–600.
    for item, (_, gt) in zip(out["images"], lines, strict=True):
        metres = read_image_array(gt) / 1000.0
        box = np.zeros(metres.shape, bool)
        box[45:471, 41:601] = True
        assert item["pixels"] == int(((metres > 0.001) & (metres < 10.0) & box).sum())
    pixels = sum(i["pixels"] for i in out["images"])
    assert out["pooled"]["pixels"] == pixels
    assert out["pooled"]["abs_rel"] == pytest.approx(
        sum(i["abs_rel"] * i["pixels"] for i in out["images"]) / pixels
    )
    assert [b["name"] for b in out["bins"]] == ["near", "mid", "far"]
    assert all(abs(b["pixels"] / pixels - 1 / 3) < 0.02 for b in out["bins"])  # terciles
    assert out["setup"]["relative"] is False and out["unit"] == "m"

    text = depthnet("analyze", str(stand_in_runs["inference"]), "--worst", "1")
    assert text.returncode == 0, text.stderr
    worst = out["worst"][0]
    assert f"  1  {worst['abs_rel']:>8.4f}" in text.stdout
    for path in (worst["image"], worst["gt"], worst["pfm"]):
        assert path in text.stdout
    assert "by ground-truth depth (terciles of the run's valid pixels" in text.stdout
    assert all(f"\n  {name} " in text.stdout for name in ("near", "mid", "far"))


def test_a_malformed_pfm_is_one_line_and_the_rest_is_scored(stand_in_runs, tmp_path):
    copy = tmp_path / "inference"
    shutil.copytree(stand_in_runs["inference"], copy)
    pfms = sorted(copy.rglob("*.pfm"))
    assert len(pfms) == 3
    pfms[1].write_bytes(b"P6\nnot a depth map\n")
    done = depthnet("analyze", str(copy))
    assert done.returncode == 0
    assert f"depthnet: {pfms[1]}: not a PFM file (header b'P6', expected PF or Pf)\n" == done.stderr
    assert "2 of 3 images scored" in done.stdout
    # Only image lines (no ground truth): said in one line, exit 1.
    images = tmp_path / "images.txt"
    images.write_text(
        "".join(line.split()[0] + "\n" for line in stand_in_runs["ann"].read_text().splitlines())
    )
    spec = (copy / "experiment.yaml").read_text().replace(str(stand_in_runs["ann"]), str(images))
    (copy / "experiment.yaml").write_text(spec)
    done = depthnet("analyze", str(copy))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines()[-1].endswith(
        "no annotation line of dataset.infer_dataset names ground truth (`image depth` lines are needed; "
        "an image-only list can be viewed, not scored)"
    )


# ---------------------------------------------------------------------------------------------- in the app


async def scored_screen(pilot, results: Path):
    from tui.screens.inference_results import InferenceResultsScreen

    pilot.app.push_screen(InferenceResultsScreen(str(results), title="Inference 20261201-analysis"))
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, InferenceResultsScreen))
    screen = pilot.app.screen
    await wait_for(pilot, lambda: screen.analysis is not None and bool(screen.query("#infer-panels")))
    await settle(pilot, 0.2)
    return screen


def first_column(screen) -> list[str]:
    from textual.widgets import DataTable

    table = screen.query_one("#infer-list", DataTable)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


async def test_results_browser_sorts_by_error_and_shows_four_pictures(stand_in_runs):
    from textual.widgets import DataTable, Static

    from tui.app import DepthnetApp
    from tui.state import WizardState

    app = DepthnetApp(WizardState(step="spec"))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await scored_screen(pilot, stand_in_runs["inference"])
        scores = {i.image: i for i in screen.analysis.images}
        table = screen.query_one("#infer-list", DataTable)
        assert [c.label.plain for c in table.columns.values()] == ["AbsRel", "RMSE", "δ1", "input"]
        by_abs_rel = sorted(scores.values(), key=lambda i: -i.abs_rel)
        assert first_column(screen) == [f"{i.abs_rel:.3f}" for i in by_abs_rel]
        assert "worst AbsRel first" in str(screen.query_one("#infer-title", Static).render())
        # The worst is shown: RGB | truth | prediction | |error|, its numbers, the run's error by depth.
        assert screen.items[screen.current].input == by_abs_rel[0].image
        labels = [str(label.render()) for label in screen.query("#infer-panels DepthPreview Label")]
        assert labels == ["RGB", "truth", "prediction", "|error|"]
        assert len(screen.query("#infer-panels .preview-image")) == 4
        caption = str(screen.query_one("#infer-caption", Static).render())
        assert by_abs_rel[0].image in caption and f"AbsRel {by_abs_rel[0].abs_rel:.4f}" in caption
        hist = str(screen.query_one("#infer-hist", Static).render())
        assert all(f"\n{name} " in hist for name in ("near", "mid", "far"))
        # s: worst RMSE first, then δ1 (lowest first), then path order, then AbsRel again.
        await pilot.press("s")
        assert first_column(screen)[0] == f"{max(scores.values(), key=lambda i: i.rmse).abs_rel:.3f}"
        assert "worst RMSE first" in str(screen.query_one("#infer-title", Static).render())
        await pilot.press("s", "s")
        assert "in path order" in str(screen.query_one("#infer-title", Static).render())
        assert [screen.items[int(k.value)].input for k in table.rows] == sorted(scores)
        # The cursor follows a person: down shows the next image's numbers.
        await pilot.press("s", "down")
        await wait_for(pilot, lambda: by_abs_rel[1].image in str(screen.query_one("#infer-caption").render()))


def test_sorted_results_browser_snapshot(stand_in_runs, snap_compare, monkeypatch):
    from tui.app import DepthnetApp
    from tui.state import WizardState

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")

    async def open_it(pilot) -> None:
        await scored_screen(pilot, stand_in_runs["inference"])

    assert snap_compare(DepthnetApp(WizardState(step="spec")), terminal_size=(80, 24), run_before=open_it)
