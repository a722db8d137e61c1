"""The machine's settings (config.yaml + DEPTHNET_*), the XDG folders, and the one ~/.tao_mounts.json reader."""

from __future__ import annotations

import json

import pytest

from specgen.engine.records import LaunchError
from specgen.engine.settings import Settings, settings
from specgen.engine.tao_mounts import TaoMountsError, read_tao_mounts
from specgen.spec import locations


@pytest.fixture(autouse=True)
def _fresh(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("DEPTHNET_CONFIG_FILE", raising=False)
    for name in ("BACKEND", "IMAGE", "GPUS", "NETWORK", "FORCE_POLLING"):
        monkeypatch.delenv(f"DEPTHNET_{name}", raising=False)
    settings.cache_clear()
    yield
    settings.cache_clear()


def test_without_a_file_or_a_variable_every_setting_is_what_the_tool_did_before():
    s = settings()
    assert (s.backend, s.image, s.gpus, s.network, s.force_polling) == (None, None, "0", None, None)


def test_the_file_is_read_and_a_variable_wins(monkeypatch):
    path = locations.config_file()
    assert path == locations.config_dir() / "config.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("backend: local\ngpus: 0,1\nforce_polling: true\n")
    monkeypatch.setenv("DEPTHNET_GPUS", "all")
    s = Settings()
    assert (s.backend, s.gpus, s.force_polling) == ("local", "all", True)


@pytest.mark.parametrize(
    ("word", "polls"), [("1", True), ("yes", True), ("0", False), ("false", False), ("", False)]
)
def test_depthnet_force_polling_keeps_its_rule(monkeypatch, word, polls):
    monkeypatch.setenv("DEPTHNET_FORCE_POLLING", word)
    assert Settings().force_polling is polls


def test_a_broken_setting_is_one_line_naming_the_key_and_the_file():
    path = locations.config_file()
    path.parent.mkdir(parents=True)
    path.write_text("gpus: [0, 1]\n")
    with pytest.raises(LaunchError) as caught:
        settings()
    assert str(caught.value).startswith("setting gpus: ") and str(path) in str(caught.value)


def test_every_folder_follows_its_xdg_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "d"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "s"))
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert locations.runs_dir() == tmp_path / "d" / "depthnet-tui" / "runs"
    assert locations.crash_dir() == tmp_path / "s" / "depthnet-tui" / "crashes"
    assert locations.cache_dir() == tmp_path / "home" / ".cache" / "depthnet-tui"  # empty: the default


def test_tao_mounts_strict_names_the_first_rule_broken_and_lenient_skips_it(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    path = tmp_path / "tao_mounts.json"
    path.write_text(
        json.dumps(
            {
                "Mounts": [{"source": str(data), "destination": "/data"}, {"source": "/nonexistent/x"}],
                "Envs": [{"variable": "A", "value": "1"}, {"variable": "B"}],
            }
        )
    )
    with pytest.raises(TaoMountsError) as caught:
        read_tao_mounts(path)
    assert caught.value.detail == f"{path}: Mounts[1] needs source and destination"
    lenient = read_tao_mounts(path, strict=False)
    assert [(m.source, m.destination) for m in lenient.mounts] == [(str(data), "/data")]
    assert lenient.envs == {"A": "1"}
    assert read_tao_mounts(tmp_path / "absent.json").present is False
    path.write_text("{not json")
    with pytest.raises(LaunchError, match="not valid JSON"):
        read_tao_mounts(path, strict=False)


def test_depthnet_run_takes_the_backend_from_the_settings_and_names_a_bad_one(tmp_path, monkeypatch):
    from runkit import depthnet, make_project

    project = make_project(tmp_path)
    spec = project.spec("train", "train.yaml")
    path = locations.config_file()
    path.parent.mkdir(parents=True)
    path.write_text("backend: script\n")
    done = depthnet("run", "train", "-e", str(spec))
    assert done.returncode == 0, done.stderr
    assert "wrote " in done.stdout and "run.sh" in done.stdout
    monkeypatch.setenv("DEPTHNET_BACKEND", "kubernetes")
    done = depthnet("run", "train", "-e", str(spec))
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == "depthnet: setting backend 'kubernetes': use one of docker, local, script, slurm here"
    )
