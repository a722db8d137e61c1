"""specgen/data/annotation_check.py on real files: lines as TAO reads them, missing and unreadable files named by
file and line, big lists sampled (seeded) or checked whole with progress, streamed (memory stays flat)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from specgen.data.annotation_check import (
    check_annotation_file,
    check_annotation_files,
    iter_lines,
    locate,
)


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    Image.new("RGB", (16, 12), (10, 20, 30)).save(tmp_path / "a.jpg")
    Image.new("RGB", (16, 12)).save(tmp_path / "b.png")
    Image.new("I;16", (16, 12)).save(tmp_path / "a_depth.png")
    (tmp_path / "broken.jpg").write_bytes(b"this is not a JPEG")
    (tmp_path / "upper.JPG").write_bytes((tmp_path / "a.jpg").read_bytes())
    (tmp_path / "png_named.jpg").write_bytes((tmp_path / "b.png").read_bytes())  # OpenCV reads by content too
    (tmp_path / "folder.jpg").mkdir()
    return tmp_path


def test_every_problem_names_its_file_and_line(data):
    d = data
    ann = d / "train.txt"
    ann.write_text(
        f"{d}/a.jpg {d}/a_depth.png\n"  # 1 fine
        f"{d}/gone.jpg {d}/a_depth.png\n"  # 2 RGB missing
        f"{d}/a.jpg {d}/gone_depth.png\n"  # 3 depth missing
        f"{d}/broken.jpg {d}/a_depth.png\n"  # 4 not an image
        f"{d}/upper.JPG {d}/a_depth.png\n"  # 5 TAO's extension test is case-sensitive
        "\n"  # 6 blank: TAO does not skip it
        f"{d}/a.jpg {d}/a_depth.png \n"  # 7 trailing space: depth path ''
        f"{d}/a.jpg {d}/right.jpg {d}/a_depth.png\n"  # 8 three columns: the third is the depth, fine
        f"{d}/png_named.jpg\n"  # 9 one column (inference), content PNG: fine
        f"{d}/folder.jpg {d}/a_depth.png\n"  # 10 a folder
    )
    report = check_annotation_file(ann)
    got = [(p.line, p.column, p.message) for p in report.problems]
    assert got == [
        (2, "rgb", f"RGB image not found: {d}/gone.jpg"),
        (3, "depth", f"depth file not found: {d}/gone_depth.png"),
        (4, "rgb", f"RGB image is not an image file (corrupt or renamed): {d}/broken.jpg"),
        (
            5,
            "rgb",
            "RGB extension '.JPG': TAO reads only .png/.jpg/.jpeg (case-sensitive) — rename the files or convert them",
        ),
        (
            6,
            "line",
            "blank line: TAO reads it as an image path with no extension and stops (Unsupported file extension) — remove blank lines",
        ),
        (7, "line", "trailing space: TAO splits on ' ' and reads the depth path as '' — strip it"),
        (10, "rgb", f"RGB image is not a regular file (a folder, FIFO or device): {d}/folder.jpg"),
    ]
    assert report.lines == 10 and report.checked == 10 and not report.sampled and not report.ok
    assert report.problems[0].text() == f"{ann}:2: RGB image not found: {d}/gone.jpg"
    assert report.summary().startswith(f"{ann}:2: RGB image not found") and "(+6 more)" in report.summary()


def test_lines_are_counted_as_tao_counts_them(tmp_path):
    """TAO: ``f.read().splitlines()`` — CRLF, a lone CR and a form feed also end lines; the last newline does not
    add one."""
    ann = tmp_path / "odd.txt"
    ann.write_bytes(b"a.jpg\r\nb.jpg\rc.jpg\x0cd.jpg\ne.jpg\n")
    assert [(n, t) for n, t, _ in iter_lines(ann)] == [
        (1, "a.jpg"),
        (2, "b.jpg"),
        (3, "c.jpg"),
        (4, "d.jpg"),
        (5, "e.jpg"),
    ]
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"caf\xe9.jpg\n")
    (problem, _missing) = check_annotation_file(bad).problems
    assert problem.line == 1 and "not valid UTF-8" in problem.message


def test_the_annotation_file_itself(tmp_path):
    assert (
        check_annotation_file(tmp_path / "nope.txt").error
        == f"annotation file not found: {tmp_path}/nope.txt"
    )
    assert "not a regular file" in (check_annotation_file(tmp_path).error or "")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    report = check_annotation_file(empty)
    assert report.ok and report.lines == 0


def _big(data: Path, n: int, bad_every: int) -> Path:
    ann = data / "big.txt"
    with open(ann, "w") as f:
        for i in range(1, n + 1):
            rgb = f"{data}/missing_{i}.jpg" if i % bad_every == 0 else f"{data}/a.jpg"
            f.write(f"{rgb} {data}/a_depth.png\n")
    return ann


def test_big_lists_are_sampled_with_a_seed_and_all_mode_checks_every_line(data, monkeypatch):
    import specgen.data.annotation_check as ac

    monkeypatch.setattr(ac, "ALL_LIMIT", 500)  # a "big" list without writing millions of lines
    ann = _big(data, 3000, bad_every=100)  # 30 bad lines
    one = check_annotation_file(ann, sample=300, seed=7)
    again = check_annotation_file(ann, sample=300, seed=7)
    other = check_annotation_file(ann, sample=300, seed=8)
    assert one.sampled and one.lines == 3000 and one.checked == 300
    assert [p.line for p in one.problems] == [p.line for p in again.problems]  # seeded: the same sample
    assert [p.line for p in one.problems] != [p.line for p in other.problems]
    assert all(p.line % 100 == 0 for p in one.problems) and 0 < one.problem_count < 30
    calls: list[tuple[int, float]] = []
    whole = check_annotation_file(ann, mode="all", progress=lambda n, f: calls.append((n, f)))
    assert not whole.sampled and whole.checked == 3000 and whole.problem_count == 30
    assert [p.line for p in whole.problems] == list(range(100, 3001, 100))
    assert calls[-1] == (3000, 1.0) and all(0.0 <= f <= 1.0 for _, f in calls)
    small = check_annotation_file(ann, mode="sample", sample=5000)  # a sample bigger than the file: all of it
    assert not small.sampled and small.problem_count == 30


def test_many_keys_one_file_checked_once_and_locate(data):
    ann = data / "val.txt"
    ann.write_text(f"{data}/a.jpg {data}/a_depth.png\n{data}/gone.jpg {data}/a_depth.png\n")
    reports = check_annotation_files(
        {
            "dataset.train_dataset.data_sources[0].data_file": str(ann),
            "dataset.val_dataset.data_sources[0].data_file": str(ann),
        }
    )
    first, second = reports.values()
    assert first is second and first.problem_count == 1
    assert locate(f"{data}/gone.jpg", [data / "nope.txt", ann]) == (str(ann), 2)
    assert locate(f"{data}/a_depth.png", [ann]) == (str(ann), 1)
    assert locate(f"{data}/gone", [ann]) is None  # a prefix is not the path


def test_max_problems_keeps_the_count(data):
    ann = _big(data, 400, bad_every=1)
    report = check_annotation_file(ann, max_problems=10)
    assert len(report.problems) == 10 and report.problem_count == 400
