"""Time to fail: TAO's, from each real capture, against ours — the check that catches the failure before launch
(run on the same kind of inputs, rebuilt under a temporary folder), or ``diagnose()`` after the fact where no
pre-launch check exists (yet).

    python benchmarks/failure_bench.py

TAO's time is the arrival of the capture's last console chunk (``console.timing.tsv``: the moment the user
learns the run failed; for the NaN cases, the whole run, since TAO says PASS). Ours is the best of 5 runs on this
machine. A second table shows that ``diagnose()`` grows linearly with a hostile line (no backtracking blow-up).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

import yaml  # type: ignore[import-untyped]  # noqa: E402
from depthgen import annotation, rgb  # type: ignore[import-not-found]  # noqa: E402

from specgen.data.annotation_check import check_annotation_file  # noqa: E402
from specgen.engine.failures import diagnose, judge_metrics  # noqa: E402
from specgen.engine.runspec import SpecUnusable, load_run_spec  # noqa: E402
from specgen.engine.status import parse_status_line  # noqa: E402

FIX = REPO / "tests" / "fixtures"


def tao_seconds(case: Path) -> float:
    rows = [r.split() for r in (case / "console.timing.tsv").read_text().splitlines() if r[:1].isdigit()]
    return float(rows[-1][0])


def best(fn: Callable[[], object], n: int = 5) -> tuple[float, object]:
    times, out = [], None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def after_the_fact(case: Path, action: str) -> Callable[[], object]:
    log = (case / "console.log").read_bytes().decode("utf-8", errors="replace")
    status = [d for d in map(parse_status_line, _lines(case / "status.json")) if d]
    code = int((case / "exit_code.txt").read_text())
    if code == 0:
        return lambda: judge_metrics(status, action)[0].reason
    return lambda: diagnose(log, exit_code=code, status_lines=status).one_line()  # type: ignore[union-attr]


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.is_file() else []


def rebuilt_missing_file(base: Path) -> Callable[[], object]:
    """c_missing_file's inputs: 12 train pairs at 640×480 (JPEG + 16-bit PNG) and one line whose RGB is gone."""
    from depthgen import depth_mm, png16

    pairs = [
        (
            rgb(base / "scene" / f"rgb_{i:05d}.jpg", seed=i),
            png16(base / "scene" / f"depth_{i:05d}.png", depth_mm(seed=i)),
        )
        for i in range(12)
    ]
    ann = annotation(base / "missing.txt", [*pairs, (base / "scene" / "gone_rgb_30.jpg", pairs[0][1])])
    return lambda: check_annotation_file(ann).summary()


def validate_spec(path: Path) -> Callable[[], object]:
    def run() -> str:
        try:
            load_run_spec(str(path), "train")
        except SpecUnusable as exc:
            return str(exc).splitlines()[0]
        return "accepted"

    return run


def rebuilt_nan(base: Path) -> Callable[[], object]:
    """train_nan's trap: millimetre PNG depth read by MetricMonoDataset (every pixel beyond max_depth)."""
    from specgen.data.sample_data import make_sample_dataset

    data = make_sample_dataset(base / "data", per_scene=2)
    rows = sorted(data.rglob("rgb_*.jpg"))
    pairs = [(r, r.with_name(r.name.replace("rgb_", "sync_depth_")).with_suffix(".png")) for r in rows]
    ann = annotation(base / "train.txt", pairs)
    spec = yaml.safe_load((FIX / "tao-7.3.0" / "train_nan" / "spec.yaml").read_text())
    for split in ("train_dataset", "val_dataset", "test_dataset", "infer_dataset"):
        for src in (spec["dataset"].get(split) or {}).get("data_sources") or []:
            src["data_file"] = str(ann)
    spec["results_dir"] = str(base / "results")
    path = base / "train_nan.yaml"
    path.write_text(yaml.safe_dump(spec))
    return validate_spec(path)


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="failure_bench_"))
    h200, old = FIX / "tao-7.3.0-h200", FIX / "tao-7.3.0"
    rows: list[tuple[str, str, Path, str, Callable[[], object]]] = []
    try:
        rows = [
            ("RGB file missing", "c_missing_file", h200 / "c_missing_file", "annotation_check (before)",
             rebuilt_missing_file(base / "missing")),
            ("RGB file missing", "c_missing_file", h200 / "c_missing_file", "diagnose (after)",
             after_the_fact(h200 / "c_missing_file", "train")),
            ("wrong encoder checkpoint", "c_eval_wrong_encoder", h200 / "c_eval_wrong_encoder", "diagnose (after)",
             after_the_fact(h200 / "c_eval_wrong_encoder", "evaluate")),
            ("misspelt key", "spec_error/misspelt_key", old / "spec_error" / "misspelt_key", "validate (before)",
             validate_spec(old / "spec_error" / "misspelt_key" / "spec.yaml")),
            ("wrong type", "spec_error/wrong_type", old / "spec_error" / "wrong_type", "validate (before)",
             validate_spec(old / "spec_error" / "wrong_type" / "spec.yaml")),
            ("empty mandatory key", "spec_error/empty_mandatory_checkpoint",
             old / "spec_error" / "empty_mandatory_checkpoint", "diagnose (after)",
             after_the_fact(old / "spec_error" / "empty_mandatory_checkpoint", "train")),
            ("NaN loss (mm PNG, MetricMonoDataset)", "train_nan", old / "train_nan", "validate + doctor (before)",
             rebuilt_nan(base / "nan")),
            ("NaN abs_rel, δ1 0 (a dead random head)", "c_ft_rel_backbone_dino", h200 / "c_ft_rel_backbone_dino",
             "judge_metrics (after)", after_the_fact(h200 / "c_ft_rel_backbone_dino", "train")),
        ]  # fmt: skip
        print(f"{'failure':<40} | {'capture':<38} | {'TAO':>7} | {'ours':>9} | {'how':<27} | {'TAO/ours':>9}")
        print("-" * 145)
        said = []
        for what, name, case, how, fn in rows:
            tao = tao_seconds(case)
            ours, out = best(fn)
            print(
                f"{what:<40} | {name:<38} | {tao:>6.1f}s | {ours * 1e3:>7.2f}ms | {how:<27} | {tao / ours:>8.0f}x"
            )
            said.append(f"  {name} [{how}]: {str(out)[:150]}")
        print("\nwhat ours said:")
        print("\n".join(said))
        linearity()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _diagnoser(log: str) -> Callable[[], object]:
    return lambda: diagnose(log, exit_code=1)


def linearity() -> None:
    """diagnose() on a log with one hostile line of n characters: time per MB should stay flat."""
    print(f"\n{'hostile line':<26} | {'100 kB':>9} | {'1 MB':>9} | {'ratio':>6}")
    for name, unit in (("slashes /a/a/a…", "/a"), ("quotes \"\"\"…", '"'), ("dots a.a.a…", "a."),
                       ("'size mismatch for ' ×n", "size mismatch for ")):  # fmt: skip
        times = []
        for size in (100_000, 1_000_000):
            filler = unit * (size // len(unit))
            log = f"{filler}\nValueError: {filler}\n"
            times.append(best(_diagnoser(log), n=3)[0])
        print(
            f"{name:<26} | {times[0] * 1e3:>7.1f}ms | {times[1] * 1e3:>7.1f}ms | {times[1] / times[0]:>5.1f}x"
        )
    print(
        "(lines are cut at 64 KiB and a log is read from its last 4 MiB: the cost is bounded; at most ~10x for "
        "10x the text means no backtracking blow-up)"
    )


if __name__ == "__main__":
    main()
