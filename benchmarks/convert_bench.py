"""``depthnet convert`` against TAO 7.3.0's own convert logic, whole processes side by side in one run.

    python benchmarks/convert_bench.py [--sizes 1000000] [--runs 5] [--rematch-size 100000] [--rematch-repeat 7]
                                       [--keep DIR]

The anchor is ``specgen/data/convert/tao_reference.py`` run as a script: a line-for-line port of TAO's
``create_split`` (os.listdir + os.walk, substring AND-filter, shuffle, chained replace, appended split files, no
existence check; ``tests/test_convert.py`` checks it writes what the wheel's own function writes). Ours is the
``depthnet convert`` entry point, which also checks that every depth file exists, names the pitfalls and writes
atomically with a report and the equivalent spec. Each pair of runs is interleaved (anchor, ours) on the same tree
with a warm dentry cache and the bytecode of both compiled once (``PYTHONPYCACHEPREFIX``); figures are medians
over ``--runs`` pairs of the child's wall time, user+sys CPU and peak RSS (``os.wait4``). Targets (issue #26): ours ≥ 1.5x the anchor's speed (wall and CPU), RSS ≤ 1.5x.

It also times a re-match after a pattern edit in-process (what the wizard does on a keystroke), for each of
``REMATCH_CASES``: a pattern without and with a ``/``, a keystroke whose derived names are all missing, patterns
that match nothing, no pattern at all, and ``/rgb/`` on a tree of rgb/ and depth/ folders. Target: ≤ 30 ms at 100k
files, any pattern. ``--sizes 0`` skips the whole-process comparison.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
ANCHOR = REPO / "specgen" / "data" / "convert" / "tao_reference.py"
PATTERNS = ["--image-pattern", "rgb_", "--depth-pattern", "sync_depth_"]


def make_tree(root: Path, n_files: int, per_scene: int = 1000, layout: str = "nyu") -> None:
    """NYU-like: scene folders of rgb_XXXXXXX.jpg + sync_depth_XXXXXXX.png (empty files). ``layout="split"``: each
    scene holds rgb/XXXXXXX.jpg and depth/XXXXXXX.png instead (a pattern with '/' such as ``/rgb/`` then matches)."""
    pairs = n_files // 2
    for s in range(0, pairs, per_scene // 2):
        scene = root / f"scene_{s // (per_scene // 2):05d}"
        if layout == "split":
            dirs, stems = (scene / "rgb", scene / "depth"), ("", "")
        else:
            dirs, stems = (scene, scene), ("rgb_", "sync_depth_")
        for d in dirs:
            d.mkdir(parents=True, exist_ok=True)
        for i in range(s, min(s + per_scene // 2, pairs)):
            for d, stem, ext in zip(dirs, stems, (".jpg", ".png"), strict=True):
                os.close(os.open(d / f"{stem}{i:07d}{ext}", os.O_CREAT | os.O_WRONLY, 0o644))


def depthnet() -> list[str]:
    script = Path(sys.executable).with_name("depthnet")
    return [str(script)] if script.exists() else [sys.executable, "-m", "specgen.cli"]


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(wall s, user+sys CPU s, peak RSS MiB) of one whole child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:2]} failed ({proc.returncode}): {err[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def whole(root: Path, out: Path, runs: int) -> dict[str, list[tuple[float, float, float]]]:
    anchor_cmd = [sys.executable, str(ANCHOR), "--data-root", str(root), *PATTERNS, "--seed", "1"]
    ours_cmd = [*depthnet(), "convert", "--data-root", str(root), *PATTERNS]
    # bytecode written once into a private cache, for both alike (a user's installation has its bytecode; with
    # PYTHONDONTWRITEBYTECODE an editable checkout would compile every module of ours on every run)
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(out / "pyc")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    got: dict[str, list[tuple[float, float, float]]] = {"anchor": [], "ours": []}
    for i in range(runs + 1):  # the first pair warms the page cache and the bytecode; not counted
        for name, cmd in (("anchor", anchor_cmd), ("ours", ours_cmd)):
            dest = out / f"{name}_{i}"
            flag = "--results-dir" if name == "anchor" else "--out"
            figures = run([*cmd, flag, str(dest)], env)
            shutil.rmtree(dest, ignore_errors=True)
            if i:
                got[name].append(figures)
    return got


#: The re-match cases: (label, image patterns, depth patterns, tree layout, complete pairs expected: "all" or 0).
#: The first two are the figures this script has always printed; "typing" is a keystroke on the way (the image
#: pattern edited, the depth one not yet), whose derived names are new to the index and all missing.
REMATCH_CASES: list[tuple[str, list[str], list[str], str, str | int]] = [
    ("rgb_0", ["rgb_0"], ["sync_depth_0"], "nyu", "all"),
    ("/rgb_", ["/rgb_"], ["/sync_depth_"], "nyu", "all"),
    ("typing rgb_0 → sync_depth_", ["rgb_0"], ["sync_depth_"], "nyu", 0),
    ("no match zzz", ["zzz"], ["yyy"], "nyu", 0),
    ("no match /rgb/", ["/rgb/"], ["/depth/"], "nyu", 0),
    ("no pattern (all images)", [], [], "nyu", 0),
    ("/rgb/ (split tree)", ["/rgb/"], ["/depth/"], "split", "all"),
]


def rematch(root: Path, repeat: int = 7, layout: str = "nyu") -> dict[str, float]:
    """Re-match times (ms) after a pattern edit, on an index already built (the wizard's keystroke), per case of
    ``layout``: ``LABEL`` the best of ``repeat``, ``LABEL (median)``, ``LABEL (first edit)`` (the index's second
    plan, which keeps the per-extension name lists the later ones reuse) and ``LABEL (unseen)``, the median with the
    index's memory of derived names cleared first (an edit whose derived names the index has not looked up yet).

    Each timed plan follows a plan of the base options (``rgb_`` → ``sync_depth_``; ``rgb/`` → ``depth/`` in the
    split tree), so every one is an edit, not the same options again."""
    from specgen.data.convert import ConvertOptions, build_index, plan

    index = build_index(str(root))
    base = ConvertOptions(
        image_patterns=["rgb_"] if layout == "nyu" else ["rgb/"],
        depth_patterns=["sync_depth_"] if layout == "nyu" else ["depth/"],
    )
    plan(index, base)  # the wizard's first preview
    pairs = len(index) // 2
    out: dict[str, float] = {}
    first = True
    for label, img, dep, where, complete in REMATCH_CASES:
        if where != layout:
            continue
        edited = base.model_copy(update={"image_patterns": img, "depth_patterns": dep})
        times, unseen = [], []
        for i in range(2 * repeat + (1 if first else 0)):
            memo = getattr(index, "derived_memo", None)
            cold = i >= repeat + (1 if first else 0)
            if cold and memo is not None:
                memo.clear()
            t0 = time.perf_counter()
            p = plan(index, edited)
            (unseen if cold else times).append(time.perf_counter() - t0)
            plan(index, base)
        expected = pairs if complete == "all" else complete
        assert p.pair_count == expected, (label, p.pair_count, expected)
        if first:
            out[f"{label} (first edit)"] = times.pop(0) * 1e3
            first = False
        out[label] = min(times) * 1e3
        out[f"{label} (median)"] = statistics.median(times) * 1e3
        out[f"{label} (unseen)"] = statistics.median(unseen) * 1e3
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000], help="files in the generated tree")
    ap.add_argument("--runs", type=int, default=5, help="paired whole-process runs (median)")
    ap.add_argument(
        "--rematch-size", type=int, default=100_000, help="tree size for the re-match figure (0: skip)"
    )
    ap.add_argument("--rematch-repeat", type=int, default=7, help="timed re-matches per case (median, best)")
    ap.add_argument("--keep", help="reuse/keep the generated trees in this folder")
    args = ap.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="convert_bench_"))
    med = statistics.median
    try:
        print(
            f"{'files':>9} | {'TAO logic wall':>14} | {'ours wall':>9} | {'speed':>6} | {'TAO CPU':>8} | "
            f"{'ours CPU':>8} | {'speed':>6} | {'TAO RSS':>9} | {'ours RSS':>9} | {'RSS':>5}"
        )
        for n in args.sizes:
            if n <= 0:  # --sizes 0: the re-match figures only
                continue
            root = base / f"tree_{n}"
            if not root.exists():
                t0 = time.perf_counter()
                make_tree(root, n)
                print(f"  (made {n} files in {time.perf_counter() - t0:.1f} s)", file=sys.stderr)
            got = whole(root, base, max(1, args.runs))
            a, o = got["anchor"], got["ours"]
            wall_ratio = med(x[0] / y[0] for x, y in zip(a, o, strict=True))
            cpu_ratio = med(x[1] / y[1] for x, y in zip(a, o, strict=True))
            rss_ratio = med(y[2] / x[2] for x, y in zip(a, o, strict=True))
            print(
                f"{n:>9} | {med(x[0] for x in a) * 1e3:>11.0f} ms | {med(x[0] for x in o) * 1e3:>6.0f} ms | "
                f"{wall_ratio:>5.2f}x | {med(x[1] for x in a) * 1e3:>5.0f} ms | {med(x[1] for x in o) * 1e3:>5.0f} ms | "
                f"{cpu_ratio:>5.2f}x | {med(x[2] for x in a):>5.1f} MiB | {med(x[2] for x in o):>5.1f} MiB | "
                f"{rss_ratio:>4.2f}x"
            )
        if args.rematch_size:
            n = args.rematch_size
            r: dict[str, float] = {}
            for layout in ("nyu", "split"):
                root = base / (f"tree_{n}" if layout == "nyu" else f"tree_{n}_split")
                if not root.exists():
                    make_tree(root, n, layout=layout)
                r.update(rematch(root, args.rematch_repeat, layout))
            print(
                f"re-match after a pattern edit at {n} files: "
                + ", ".join(f"{k!r} {v:.1f} ms" for k, v in r.items())
            )
            for label, *_rest in REMATCH_CASES:
                print(
                    f"  {label:<28} median {r[label + ' (median)']:6.1f} ms, best {r[label]:6.1f} ms, "
                    f"derived names unseen {r[label + ' (unseen)']:6.1f} ms"
                )
        print(
            "targets: speed (TAO's time / ours) >= 1.5x wall and CPU; RSS (ours / TAO's) <= 1.5x; re-match <= 30 ms "
            f"at 100k; medians of {args.runs} paired runs (python {sys.version.split()[0]}, {os.cpu_count()} cores)"
        )
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
