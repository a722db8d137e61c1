"""The sample data the setup writes for a newcomer, and the tests' cached copy of it (tests/depthgen.py)."""

from __future__ import annotations

import numpy as np
import pytest
from depthgen import sample_dataset
from PIL import Image

from specgen.data.sample_data import depth_mm, make_sample_dataset, rgb_image


def _files(root):
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_cached_copy_is_byte_for_byte_what_the_product_writes(tmp_path):
    fresh = make_sample_dataset(tmp_path / "fresh", scenes=("kitchen", "office"), per_scene=1, seed=3)
    first = sample_dataset(tmp_path / "first", scenes=("kitchen", "office"), per_scene=1, seed=3)
    again = sample_dataset(tmp_path / "again", scenes=("kitchen", "office"), per_scene=1, seed=3)
    assert _files(fresh) == _files(first) == _files(again)
    assert sorted(str(p) for p in _files(fresh)) == [
        "kitchen/rgb_00000.jpg",
        "kitchen/sync_depth_00000.png",
        "office/rgb_00000.jpg",
        "office/sync_depth_00000.png",
    ]
    (again / "kitchen" / "rgb_00000.jpg").write_bytes(b"damaged")  # a test may damage its copy…
    assert _files(
        sample_dataset(tmp_path / "later", scenes=("kitchen", "office"), per_scene=1, seed=3)
    ) == _files(fresh)  # …and the next copy is whole


def test_the_depth_files_hold_the_generated_millimetres_exactly(tmp_path):
    """The PNGs are written at zlib level 1 (6× faster than Pillow's default, 7 % larger): lossless all the same."""
    root = make_sample_dataset(tmp_path / "d", scenes=("s",), per_scene=1, seed=5)
    with Image.open(root / "s" / "sync_depth_00000.png") as im:
        assert im.mode == "I;16"
        assert np.array_equal(np.asarray(im), depth_mm(seed=5))
    with Image.open(root / "s" / "rgb_00000.jpg") as im:
        assert im.size == (640, 480) and im.mode == "RGB"
        assert (
            np.abs(np.asarray(im).astype(int) - rgb_image(seed=5)).mean() < 8
        )  # JPEG at quality 90 (of sd-6 noise)


@pytest.mark.parametrize("make", [make_sample_dataset, sample_dataset])
def test_a_folder_that_is_not_empty_is_refused(tmp_path, make):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not empty"):
        make(tmp_path, scenes=("s",), per_scene=1)
    assert (tmp_path / "mine.txt").read_text() == "keep me"
