"""Issue #25, class 10: inputs that crashed or were refused for the wrong reason — YAML merge keys (TAO's
OmegaConf reads them), crop sizes TAO cannot use, and the doctor's reading of an annotation line."""

from __future__ import annotations

import pytest
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
    from specgen.data.doctor.report import diagnose, read_annotation
    from specgen.data.sample_data import make_sample_dataset

    data = make_sample_dataset(tmp_path / "data", per_scene=1)
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
