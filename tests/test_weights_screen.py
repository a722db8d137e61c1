"""The wizard's Weights step driven as a person would: a file of one's own inspected live, a refusal that keeps
you there, a fetched release (from a local hub) with its licence and max_depth, an earlier run, nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import settle
from textual.widgets import Input, Select

from tui.app import DepthnetApp
from tui.screens.recipe import RecipeScreen
from tui.screens.weights import WeightsScreen
from tui.state import WizardState

FIX = Path(__file__).parent / "fixtures" / "checkpoints"


def state(tmp_path, **kw) -> WizardState:
    base = dict(step="weights", data_root=str(tmp_path), output_dir=str(tmp_path / "out"))
    return WizardState(**(base | kw))


async def wait_for(pilot, cond, tries: int = 100) -> None:
    for _ in range(tries):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not met")


def info_text(app) -> str:
    return str(app.screen.query_one("#start-info").render())


async def test_a_file_of_ones_own_is_inspected_and_routed(tmp_path):
    app = DepthnetApp(state(tmp_path, model_type="RelativeDepthAnything", dataset_name="NYUDV2Relative"))
    async with app.run_test(size=(100, 32)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, WeightsScreen)
        assert "sanity run" in info_text(app)
        app.screen.query_one("#weights-source", Select).value = "file"
        await pilot.pause()
        field = app.screen.query_one("#weights-file", Input)
        field.focus()
        for ch in str(FIX / "dinov2_layout_vits.pth"):
            await pilot.press(ch)
        await wait_for(pilot, lambda: "goes to" in info_text(app))
        text = info_text(app)
        assert "bare DINOv2 backbone, vits" in text and "model.mono_backbone.pretrained_path" in text
        assert "learns from scratch" in text and app.state.encoder == "vits"
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert isinstance(app.screen, RecipeScreen)
        lr = next(r for r in app.screen.values() if r[0] == "train.optim.lr")
        assert lr[1] == 5e-6 and "head starts from scratch" in lr[2] and "died at 5e-5" in lr[2]
        seed = next(r for r in app.screen.values() if r[0] == "train.seed")
        assert seed[1] == 42 and "1234" in seed[2]
    saved = WizardState.load(tmp_path / "out")
    assert saved.weights_source == "file" and saved.weights_path == str(FIX / "dinov2_layout_vits.pth")
    from specgen.job.builders import build_data

    assert (
        build_data(app.build_request("train"))["model"]["mono_backbone"]["pretrained_path"]
        == saved.weights_path
    )


async def test_a_file_tao_would_refuse_keeps_you_on_the_step(tmp_path):
    app = DepthnetApp(
        state(tmp_path, weights_source="file", weights_path=str(FIX / "dinov2_layout_vitb.pth"))
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "✗" in info_text(app))
        assert "Missing key(s)" in info_text(app)  # a bare DINOv2 in a Metric model
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert isinstance(app.screen, WeightsScreen) and app.state.step == "weights"


async def test_a_relative_checkpoint_under_a_metric_model_is_said_as_nvidia_does(tmp_path):
    app = DepthnetApp(state(tmp_path, weights_source="file", weights_path=str(FIX / "tao_relative_vitb.pth")))
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_for(pilot, lambda: "goes to" in info_text(app))
        assert "metric from scratch on top of a relative backbone" in info_text(app)


async def test_a_fetched_metric_release_sets_max_depth(tmp_path, monkeypatch):
    """The release comes from a local hub (tests/test_weights_hub.py's server); the ProgressBar runs in a worker."""
    import http.server
    import threading

    from test_weights_hub import Hub, hub  # noqa: F401  (the fixture)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(Hub, "body", (FIX / "public_layout_vits.pth").read_bytes())
    import hashlib

    monkeypatch.setattr(Hub, "sha", hashlib.sha256(Hub.body).hexdigest())
    monkeypatch.setattr("test_weights_hub.REPO", "depth-anything/Depth-Anything-V2-Metric-Hypersim-Small")
    monkeypatch.setattr("test_weights_hub.FILE", "depth_anything_v2_metric_hypersim_vits.pth")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setattr(
        c, "HUGGINGFACE_CO_URL_TEMPLATE", c.ENDPOINT + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hf"))
    try:
        app = DepthnetApp(
            state(tmp_path, weights_source="release", weights_release="da2-metric-hypersim-vits")
        )
        async with app.run_test(size=(100, 32)) as pilot:
            await settle(pilot)
            assert "Hypersim" in str(app.screen.query_one("#release-info").render())
            assert "Apache-2.0" in str(app.screen.query_one("#release-info").render())
            await pilot.press("ctrl+g")
            await wait_for(pilot, lambda: "goes to" in info_text(app), tries=300)
            assert "train.pretrained_model_path" in info_text(app)
            assert app.state.max_depth == 20.0 and "trained with" in info_text(app)
            assert app.state.weights_path.endswith("depth_anything_v2_metric_hypersim_vits.pth")
    finally:
        server.shutdown()
        server.server_close()


async def test_an_earlier_run_is_offered(tmp_path, monkeypatch):
    from specgen.engine import registry
    from specgen.engine.backends import RunRecord

    train = tmp_path / "results" / "train"
    train.mkdir(parents=True)
    shutil.copy(FIX / "tao_metric_vits.pth", train / "model_epoch_000_step_00003.pth")
    (train / "dn_model_latest.pth").symlink_to("model_epoch_000_step_00003.pth")
    registry.save(
        RunRecord(
            run_id="20261201-100000-train-aaaa",
            backend="local",
            action="train",
            spec_path=str(tmp_path / "t.yaml"),
            results_dir=str(train),
            started="2026-12-01T10:00:00",
            verdict={"passed": True, "reason": "train finished"},
        )
    )
    app = DepthnetApp(state(tmp_path, weights_source="run"))
    async with app.run_test(size=(100, 32)) as pilot:
        select = app.screen.query_one("#run", Select)
        await wait_for(pilot, lambda: len(select._options) > 1)
        select.value = f"20261201-100000-train-aaaa|{train / 'model_epoch_000_step_00003.pth'}"
        await wait_for(pilot, lambda: "goes to" in info_text(app))
        assert "TAO (Lightning) checkpoint, vits, metric head" in info_text(app)
        assert "whole model" in info_text(app) and app.state.encoder == "vits"


SNAP = Path("/tmp/depthnet-snap-weights")  # a fixed path: the pictures are the same on every machine


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_weights_step_snapshot(snap_compare, size):
    SNAP.mkdir(exist_ok=True)
    shutil.copy(FIX / "tao_relative_vitb.pth", SNAP / "tao_relative_vitb.pth")
    s = WizardState(
        step="weights",
        data_root=str(SNAP),
        output_dir=str(SNAP / "out"),
        weights_source="file",
        weights_path=str(SNAP / "tao_relative_vitb.pth"),
    )

    async def shown(pilot) -> None:
        await wait_for(pilot, lambda: "goes to" in info_text(pilot.app))

    assert snap_compare(DepthnetApp(s), terminal_size=size, run_before=shown)
