from __future__ import annotations

import pytest

from specgen.job.validate import validate_data
from specgen.spec.render import load_spec, parse_yaml, render
from specgen.spec.schema import ExperimentSpec


def lines(data, action=None):
    _spec, problems = validate_data(data, action, check_files=False)
    return [p.line() for p in problems]


def test_misplaced_key_names_where_it_belongs():
    out = lines({"model": {"mono_backbone": {"encoder": "vitl"}}})
    assert out == ["model.mono_backbone.encoder: unknown key: encoder belongs under model (model.encoder)"]


def test_misspelt_key_suggests_the_spelling():
    assert lines({"train": {"num_epoch": 3}}) == [
        "train.num_epoch: unknown key: did you mean train.num_epochs?"
    ]


def test_unknown_top_level_section_lists_what_is_allowed():
    (line,) = lines({"trainer": {}})
    assert line.startswith("trainer: unknown key: ")
    assert "train" in line


def test_enumerations_are_checked_with_options_listed():
    assert lines({"train": {"precision": "fp33"}}) == [
        "train.precision: 'fp33' is not a valid value: use one of bf16, fp32, fp16"
    ]
    (line,) = lines({"model": {"encoder": "vith"}})
    assert "vits, vitb, vitl, vitg" in line


def test_wrong_type_names_the_key_and_the_expected_type():
    assert lines({"train": {"num_epochs": "ten"}}) == [
        "train.num_epochs: 'ten' has the wrong type: give an integer"
    ]


def test_data_source_needs_both_keys_and_a_known_class():
    out = lines(
        {
            "dataset": {
                "train_dataset": {
                    "data_sources": [{"data_file": "a.txt"}, {"data_file": "b.txt", "dataset_name": "nyu"}]
                }
            }
        }
    )
    assert (
        out[0]
        == "dataset.train_dataset.data_sources[0].dataset_name: missing: this key is required here; add it"
    )
    assert out[1].startswith(
        "dataset.train_dataset.data_sources[1].dataset_name: unknown dataset class 'nyu'"
    )
    assert "NYUDV2" in out[1]


def test_dataset_name_is_case_insensitive_like_tao():
    spec, problems = validate_data(
        {
            "dataset": {
                "dataset_name": "MonoDataset",
                "train_dataset": {"data_sources": [{"data_file": "t.txt", "dataset_name": "nyudv2"}]},
            }
        },
        check_files=False,
    )
    assert spec is not None and problems == []


def test_mono_spec_must_choose_the_mono_pipeline():
    out = lines({})
    assert any(
        x.startswith("dataset.dataset_name: 'StereoDataset' builds the stereo data pipeline") for x in out
    )


def errors_of(out: list[str]) -> list[str]:
    """The errors alone (a Relative spec at TAO's defaults also gets the fresh-head warning: lr and seed)."""
    return [line for line in out if not line.startswith("warning:")]


def test_wrong_pair_is_an_error_with_the_fix():
    out = errors_of(
        lines(
            {
                "model": {"model_type": "RelativeDepthAnything"},
                "dataset": {
                    "dataset_name": "MonoDataset",
                    "train_dataset": {"data_sources": [{"data_file": "t.txt", "dataset_name": "NYUDV2"}]},
                },
            }
        )
    )
    assert out == [
        "dataset.train_dataset.data_sources[0].dataset_name: NYUDV2 is a metric class and pairs with "
        "MetricDepthAnything, not RelativeDepthAnything: set model_type MetricDepthAnything, or pick a class "
        "for RelativeDepthAnything: NYUDV2Relative, RelativeMonoDataset, ThreeDVLM, FSD, NvCLIP, IssacStereo, "
        "Crestereo, Middlebury"
    ]


def test_relative_run_must_not_set_depth_range():
    out = errors_of(
        lines(
            {
                "model": {"model_type": "RelativeDepthAnything"},
                "dataset": {"dataset_name": "MonoDataset", "min_depth": 0.1, "max_depth": 10},
            }
        )
    )
    assert len(out) == 1 and out[0].startswith(
        "dataset.min_depth: a relative run must not set min_depth/max_depth"
    )


def test_stereo_only_keys_are_accepted_but_never_emitted():
    spec, problems = validate_data(
        {"dataset": {"dataset_name": "MonoDataset", "max_disparity": 416}, "model": {"corr_radius": 4}},
        check_files=False,
    )
    assert spec is not None
    assert [p.path for p in problems] == ["dataset.max_disparity", "model.corr_radius"]
    assert all(p.severity == "warning" for p in problems)
    for full in (False, True):
        text = render(spec, full=full)
        assert "max_disparity" not in text and "corr_radius" not in text


def test_missing_marker_round_trips_as_unset():
    spec = load_spec("evaluate:\n  checkpoint: ???\n")
    assert spec.evaluate.checkpoint is None
    assert "checkpoint: ???" in render(spec, full=True)
    assert load_spec(render(spec, full=True)) == spec


def test_yaml_syntax_error_names_line():
    from specgen.spec.render import SpecFileError

    with pytest.raises(
        SpecFileError, match=r"spec.yaml: line 3, column 1: expected .* fix the YAML syntax there"
    ):
        parse_yaml("train:\n  num_epochs: [1\n", "spec.yaml")


def test_default_spec_equals_model_defaults():
    assert ExperimentSpec() == load_spec(render(ExperimentSpec(), full=True))


def test_a_batch_larger_than_the_training_pairs_is_a_known_failure(tmp_path):
    """Measured on an H200: batch 512 over 6 pairs gives 0 steps per epoch and LambdaLR's ZeroDivisionError."""
    ann = tmp_path / "train.txt"
    ann.write_text("".join(f"{tmp_path}/rgb_{i}.jpg {tmp_path}/d_{i}.png\n" for i in range(6)))
    data = {
        "model": {"model_type": "MetricDepthAnything"},
        "dataset": {
            "dataset_name": "MonoDataset",
            "train_dataset": {
                "data_sources": [{"data_file": str(ann), "dataset_name": "NYUDV2"}],
                "batch_size": 8,
            },
        },
    }
    _spec, problems = validate_data(data, "train", check_files=True)
    (batch,) = [p for p in problems if p.path == "dataset.train_dataset.batch_size"]
    assert (
        batch.known_failure
        and batch.severity == "error"
        and "more than the 6 training pairs" in batch.message
    )
    assert "at most 6" in batch.fix
    data["dataset"]["train_dataset"]["batch_size"] = 6  # type: ignore[index]
    _spec, problems = validate_data(data, "train", check_files=True)
    assert not [p for p in problems if p.path == "dataset.train_dataset.batch_size"]
