"""``depthnet convert`` against TAO 7.3.0's own convert logic, whole processes side by side in one run.

    python benchmarks/convert_bench.py [--sizes 1000000] [--runs 5] [--rematch-size 100000] [--keep DIR]

The anchor is ``specgen/data/convert/tao_reference.py`` run as a script: a line-for-line port of TAO's
``create_split`` (os.listdir + os.walk, substring AND-filter, shuffle, chained replace, appended split files, no
existence check; ``tests/test_convert.py`` checks it writes what the wheel's own function writes). Ours is the
``depthnet convert`` entry point, which also checks that every depth file exists, names the pitfalls and writes
atomically with a report and the equivalent spec. Each pair of runs is interleaved (anchor, ours) on the same tree
with a warm dentry cache and the bytecode of both compiled once (``PYTHONPYCACHEPREFIX``); figures are medians
over ``--runs`` pairs of the child's wall time, user+sys CPU and peak RSS (``os.wait4``). Targets (issue #26): ours ≥ 1.5x the anchor's speed (wall and CPU), RSS ≤ 1.5x.

It also times a re-match after a pattern edit in-process (what the wizard does on a keystroke), for a pattern
without and with a ``/``. Target: ≤ 30 ms at 100k files.
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


def make_tree(root: Path, n_files: int, per_scene: int = 1000) -> None:
    """NYU-like: scene folders of rgb_XXXXXXX.jpg + sync_depth_XXXXXXX.png (empty files)."""
    pairs = n_files // 2
    for s in range(0, pairs, per_scene // 2):
        scene = root / f"scene_{s // (per_scene // 2):05d}"
        scene.mkdir(parents=True)
        for i in range(s, min(s + per_scene // 2, pairs)):
            for name in (f"rgb_{i:07d}.jpg", f"sync_depth_{i:07d}.png"):
                os.close(os.open(scene / name, os.O_CREAT | os.O_WRONLY, 0o644))


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


def rematch(root: Path, repeat: int = 7) -> dict[str, float]:
    """Best-of re-match time (ms) after a pattern edit, on an index already built (the wizard's keystroke)."""
    from specgen.data.convert import ConvertOptions, build_index, plan

    index = build_index(str(root))
    base = ConvertOptions(image_patterns=["rgb_"], depth_patterns=["sync_depth_"])
    plan(index, base)  # the wizard's first preview
    out = {}
    for label, img, dep in (("rgb_0", "rgb_0", "sync_depth_0"), ("/rgb_", "/rgb_", "/sync_depth_")):
        edited = base.model_copy(update={"image_patterns": [img], "depth_patterns": [dep]})
        times = []  # the first edit keeps the per-suffix lists and name sets (the index's second plan), then reuses them
        for _ in range(repeat):
            t0 = time.perf_counter()
            p = plan(index, edited)
            times.append(time.perf_counter() - t0)
        assert p.pair_count == len(index) // 2, (label, p.pair_count)
        out[label] = min(times) * 1e3
        out[f"{label} (first edit)"] = times[0] * 1e3
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000], help="files in the generated tree")
    ap.add_argument("--runs", type=int, default=5, help="paired whole-process runs (median)")
    ap.add_argument(
        "--rematch-size", type=int, default=100_000, help="tree size for the re-match figure (0: skip)"
    )
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
            root = base / f"tree_{args.rematch_size}"
            if not root.exists():
                make_tree(root, args.rematch_size)
            r = rematch(root)
            print(
                f"re-match after a pattern edit at {args.rematch_size} files: "
                + ", ".join(f"{k!r} {v:.1f} ms" for k, v in r.items())
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
