from __future__ import annotations

import json


def test_spec_writes_validated_yaml_and_refuses_overwrite(cli, tmp_path):
    args = [
        "spec",
        "train",
        "--data-file",
        "/d/train.txt",
        "--val-data-file",
        "/d/val.txt",
        "--results-dir",
        "/r",
        "-o",
        "train.yaml",
    ]
    first = cli(*args)
    assert first.returncode == 0, first.stderr
    text = (tmp_path / "train.yaml").read_text()
    assert "dataset_name: MonoDataset" in text and "lr_scheduler: LambdaLR" in text
    again = cli(*args)
    assert again.returncode == 1
    assert "already exists; pass --force" in again.stderr
    assert (tmp_path / "train.yaml").read_text() == text
    assert cli(*args, "--force", "--full").returncode == 0
    assert "wandb:" in (tmp_path / "train.yaml").read_text()


def test_spec_set_overrides_and_bad_keys(cli):
    ok = cli(
        "spec",
        "train",
        "--data-file",
        "/d/t.txt",
        "--val-data-file",
        "/d/v.txt",
        "--results-dir",
        "/r",
        "--set",
        "train.num_epochs=3",
        "--set",
        "train.optim.lr=2e-5",
        "-o",
        "-",
    )
    assert ok.returncode == 0 and "num_epochs: 3" in ok.stdout and "lr: 2.0e-05" in ok.stdout
    bad = cli(
        "spec",
        "train",
        "--data-file",
        "/d/t.txt",
        "--val-data-file",
        "/d/v.txt",
        "--results-dir",
        "/r",
        "--set",
        "model.mono_backbone.encoder=vits",
        "-o",
        "-",
    )
    assert bad.returncode == 1
    assert (
        bad.stderr.strip()
        == "depthnet: model.mono_backbone.encoder: unknown key: encoder belongs under model (model.encoder)"
    )
    assert "Traceback" not in bad.stderr


def test_wrong_pair_and_missing_data_file_are_one_line_errors(cli):
    pair = cli(
        "spec",
        "train",
        "--model-type",
        "RelativeDepthAnything",
        "--dataset-name",
        "NYUDV2",
        "--data-file",
        "/d/t.txt",
        "--val-data-file",
        "/d/v.txt",
        "--results-dir",
        "/r",
        "-o",
        "-",
    )
    assert (
        pair.returncode == 1
        and "pairs with MetricDepthAnything" in pair.stderr
        and "Traceback" not in pair.stderr
    )
    missing = cli("spec", "evaluate", "--results-dir", "/r", "--checkpoint", "/c.pth", "-o", "-")
    assert missing.returncode == 1
    assert "dataset.test_dataset.data_sources: evaluate needs data here" in missing.stderr


def test_usage_errors_exit_2(cli):
    assert cli("spec", "fly", "--results-dir", "/r", "-o", "-").returncode == 2
    bad_set = cli("spec", "train", "--results-dir", "/r", "--set", "novalue", "-o", "-")
    assert bad_set.returncode == 2 and "expected key.path=value" in bad_set.stderr


def test_validate_prints_one_problem_per_line(cli, tmp_path):
    (tmp_path / "s.yaml").write_text(
        "model:\n  mono_backbone:\n    encoder: vitl\ntrain:\n  precision: fp33\n"
    )
    out = cli("validate", "s.yaml")
    assert out.returncode == 1
    assert out.stdout.splitlines() == [
        "model.mono_backbone.encoder: unknown key: encoder belongs under model (model.encoder)",
        "train.precision: 'fp33' is not a valid value: use one of bf16, fp32, fp16",
    ]
    js = json.loads(cli("validate", "s.yaml", "--json").stdout)
    assert js["ok"] is False and js["problems"][0]["path"] == "model.mono_backbone.encoder"


def test_validate_a_written_spec_for_its_action(cli, tmp_path):
    assert (
        cli(
            "spec", "export", "--results-dir", "/r", "--checkpoint", "/r/train/m.pth", "-o", "e.yaml"
        ).returncode
        == 0
    )
    ok = cli("validate", "e.yaml", "--action", "export")
    assert ok.returncode == 0 and ok.stdout.strip() == "e.yaml: ok for export"
    wrong = cli("validate", "e.yaml", "--action", "train")
    assert (
        wrong.returncode == 1 and "dataset.train_dataset.data_sources: train needs data here" in wrong.stdout
    )


def test_validate_unreadable_or_broken_yaml(cli, tmp_path):
    missing = cli("validate", "nope.yaml")
    assert missing.returncode == 1 and "nope.yaml: no such file" in missing.stderr
    (tmp_path / "b.yaml").write_text("train: [1\n")
    broken = cli("validate", "b.yaml")
    assert broken.returncode == 1 and "line" in broken.stderr and "Traceback" not in broken.stderr


def test_pairs_json(cli):
    rows = json.loads(cli("pairs", "--json").stdout)
    names = {r["dataset_name"]: r["model_type"] for r in rows}
    assert len(names) == 10
    assert names["NYUDV2"] == names["MetricMonoDataset"] == "MetricDepthAnything"
    assert names["NYUDV2Relative"] == names["FSD"] == "RelativeDepthAnything"


def test_spec_convert(cli, tmp_path):
    out = cli(
        "spec",
        "convert",
        "--data-root",
        "/data/nyu",
        "--image-pattern",
        "rgb_",
        "--depth-pattern",
        "sync_depth_",
        "--results-dir",
        "/data/nyu",
        "-o",
        "-",
    )
    assert out.returncode == 0
    assert "image_extension: .jpg" in out.stdout and "split_ratio: 0.8" in out.stdout


def test_version_and_recipe_list(cli):
    done = cli("--version")
    assert done.returncode == 0 and done.stdout.startswith("depthnet ")
    listing = cli("recipes")
    assert listing.returncode == 0 and [line.split()[0] for line in listing.stdout.splitlines()] == [
        "finetune",
        "sanity",
        "plain",
    ]
