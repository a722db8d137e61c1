"""Re-matching on a kept index (the wizard's keystrokes) against the whole-path route on a fresh index.

From an index's second plan on, the planner keeps per-extension name lists, per-folder answers and the last derived
names looked up per folder, and takes C-level shortcuts on them (a count for "no name matches", slices for "every
name matches" and "every derived name ends with the depth extension" when the names share one length, name lengths
for "no derived name exists"). None of that may change an answer: chains of edits, edits undone, patterns with a
'/', patterns that match nothing or everything must each answer exactly as the whole-path route (TAO's own
matching over full paths) does for the same options on a freshly walked index.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specgen.data.convert import ConvertOptions, build_index, plan
from specgen.data.convert.planner import _plan
from specgen.data.convert.writer import annotation_lines

#: Numbered names of one length (the shortcuts' case), names of other lengths, a pattern twice in one name at the
#: offset where the others hold it once, a name that only ends like a depth file, and the layouts with rgb/ and
#: depth/ folders.
_NAME = st.sampled_from(
    [
        "rgb_0001.jpg",
        "rgb_0002.jpg",
        "rgb_rgb1.jpg",
        "sync_depth_0001.png",
        "sync_depth_0002.png",
        "sync_depth_rgb1.png",
        "rgb_1.jpg",
        "sync_depth_1.png",
        "a_rgb_.jpg",
        "0001.jpg",
        "0001.png",
        "0002.jpg",
        "0002.png",
        "rgb_0003.JPG",
        "xsync_depth_0001.png",
    ]
)
_FOLDER = st.sampled_from(["s1", "s2", "scene/rgb", "scene/depth", "scene/sync_depth", "deep/rgb", "rgb_x"])
_TREE = st.dictionaries(_FOLDER, st.lists(_NAME, min_size=1, max_size=8, unique=True), min_size=1, max_size=5)

_EDIT = st.sampled_from(
    [
        (["rgb_"], ["sync_depth_"], ".jpg", ".png"),
        (["rgb_0"], ["sync_depth_0"], ".jpg", ".png"),
        (["rgb_0"], ["sync_depth_"], ".jpg", ".png"),  # a keystroke on the way: wrong lengths, all missing
        (["rgb_000"], ["sync_depth_00"], ".jpg", ".png"),
        (["rgb"], ["sync_depth"], ".jpg", ".png"),
        (["/rgb_"], ["/sync_depth_"], ".jpg", ".png"),
        (["/rgb/"], ["/depth/"], ".jpg", ".png"),
        (["rgb/"], ["depth/"], ".jpg", ".png"),
        (["/rgb/"], ["/sync_depth/"], ".jpg", ".png"),
        (["scene/rgb"], ["scene/depth"], ".jpg", ".png"),
        (["rgb/0"], ["depth/0"], ".jpg", ".png"),  # reaches across the folder boundary
        (["rgb_"], ["d/sync_depth_"], ".jpg", ".png"),
        (["zzz"], ["yyy"], ".jpg", ".png"),
        (["/zzz/"], ["/yyy/"], ".jpg", ".png"),
        ([], [], ".jpg", ".png"),
        (["_"], ["_"], ".jpg", ".png"),
        (["rgb_", "0"], ["sync_depth_", "0"], ".jpg", ".png"),
        (["rgb_"], ["sync_depth_"], ".png", ".png"),
        (["0"], ["0"], ".jpg", ".jpg"),
        (["rgb_"], ["sync_depth_\r"], ".jpg", ".png"),  # a control character reaches the depth names only
        (["rgb_"], ["sync depth_"], ".jpg", ".png"),  # and a space
        (["rgb_"], ["sync_depth_"], ".jpg", ".pfm"),
    ]
)


def _make(root: Path, tree: dict[str, list[str]]) -> None:
    for folder, names in tree.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name in names:
            (root / folder / name).write_text("")


def _answer(p) -> tuple:
    return (
        p.pairs,
        p.missing,
        p.images_matched,
        p.pair_count,
        p.usable,
        [x.model_dump() for x in p.pitfalls],
        annotation_lines(p),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=_TREE, edits=st.lists(_EDIT, min_size=2, max_size=6))
def test_a_chain_of_edits_on_a_kept_index_answers_as_the_whole_path_route(tmp_path_factory, tree, edits):
    """Each edit of a chain, then the chain undone edit by edit: the kept index's answer is the whole-path route's
    on a fresh index, and so is a fresh index's first plan."""
    root = tmp_path_factory.mktemp("tree")
    _make(root, tree)
    kept = build_index(str(root))
    for image, depth, ie, de in edits + edits[-2::-1]:
        o = ConvertOptions(image_patterns=image, depth_patterns=depth, image_extension=ie, depth_extension=de)
        reference = _answer(_plan(build_index(str(root)), o))
        assert _answer(plan(kept, o)) == reference, o
        assert _answer(plan(build_index(str(root)), o)) == reference, o


def test_the_rematch_shortcuts_on_numbered_names(tmp_path):
    """Numbered names of one length, as datasets have them: the edits that keep every name, derive names of another
    length (none exists), derive the right ones after other derived names, or meet a name holding the pattern twice
    at the same offset, each answer as the whole-path route."""
    files = [
        f"s{s}/{stem}{i:04d}.{ext}" for s in range(3) for i in range(6) for stem, ext in (("rgb_", "jpg"),)
    ]
    files += [
        f"s{s}/sync_depth_{i:04d}.png" for s in range(3) for i in range(5)
    ]  # one depth missing per scene
    files.append("s2/rgb_rgb_.jpg")  # the length of the others, "rgb_" twice
    for rel in files:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    kept = build_index(str(tmp_path))
    for image, depth in [
        ("rgb_", "sync_depth_"),
        ("rgb_0", "sync_depth_0"),
        ("rgb_0", "sync_depth_"),
        ("rgb_0", "sync_depth_0"),
        ("rgb_00", "sync_depth_00"),
        ("/rgb_", "/sync_depth_"),
        ("rgb_", "sync_depth_"),
    ]:
        o = ConvertOptions(image_patterns=[image], depth_patterns=[depth])
        got = plan(kept, o)
        assert _answer(got) == _answer(_plan(build_index(str(tmp_path)), o)), o
    assert kept.derived_memo  # the look-ups were kept, and the repeated edits read them


def test_plans_running_side_by_side_on_one_index_each_answer_as_alone(tmp_path):
    """The wizard plans in a thread per keystroke and cannot stop a cancelled one, so two plans may share an index
    while it keeps its lists: each still answers as the whole-path route does."""
    import threading

    for s in range(4):
        for i in range(30):
            for rel in (f"s{s}/rgb_{i:04d}.jpg", f"s{s}/sync_depth_{i:04d}.png", f"t{s}/rgb/{i:04d}.jpg"):
                (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
                (tmp_path / rel).write_text("")
    edits = [
        ConvertOptions(image_patterns=i, depth_patterns=d, depth_extension=de)
        for i, d, de in [
            (["rgb_"], ["sync_depth_"], ".png"),
            (["rgb_0"], ["sync_depth_"], ".png"),
            (["/rgb/"], ["/depth/"], ".png"),
            (["rgb_00"], ["sync_depth_00"], ".npy"),
            (["zzz"], ["y"], ".png"),
        ]
    ]
    expected = [_answer(_plan(build_index(str(tmp_path)), o)) for o in edits]
    shared = build_index(str(tmp_path))
    plan(shared, edits[0])  # the first preview: later plans keep lists
    got: dict[int, list[tuple]] = {}

    def run(n: int) -> None:
        order = edits[n % len(edits) :] + edits[: n % len(edits)]
        got[n] = [_answer(plan(shared, o)) for o in order]

    threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == [0, 1, 2, 3]  # no thread died
    for n, answers in got.items():
        assert answers == expected[n % len(edits) :] + expected[: n % len(edits)]
