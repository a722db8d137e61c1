"""Data doctor speed: pairs per second on 640×480 uint16 PNG + JPEG, and the wizard's default sample.

    python benchmarks/doctor_bench.py [--pairs 200]

Targets: >= 100 pairs/s on a 2-core machine; the default sample (32 pairs) in under 1 s.
Printed beside the cost of merely decoding the same files with Pillow, for scale.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from depthgen import annotation, depth_mm, png16, rgb  # noqa: E402
from PIL import Image  # noqa: E402

from specgen.data.doctor import diagnose  # noqa: E402
from specgen.data.doctor.report import DEFAULT_SAMPLE  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=200)
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="doctor_bench_"))
    try:
        pairs = []
        for i in range(args.pairs):
            scene = base / f"scene_{i % 10}"
            pairs.append(
                (
                    rgb(scene / f"rgb_{i:05d}.jpg", seed=i),
                    png16(scene / f"sync_depth_{i:05d}.png", depth_mm(seed=i)),
                )
            )
        ann = annotation(base / "train.txt", pairs)

        t0 = time.perf_counter()
        for image, depth in pairs:
            with Image.open(image) as im:
                im.load()
            with Image.open(depth) as im:
                im.load()
        t_decode = time.perf_counter() - t0

        t0 = time.perf_counter()
        report = diagnose(str(ann), "NYUDV2", sample=args.pairs)
        t_all = time.perf_counter() - t0
        assert len(report.samples) == args.pairs and not report.fails

        best = min(
            _timed(lambda: diagnose(str(ann), "MetricMonoDataset", sample=DEFAULT_SAMPLE)) for _ in range(5)
        )
        print(f"{'what':<44} | {'time':>9} | {'pairs/s':>8}")
        print(
            f"{'Pillow full decode only (RGB + depth)':<44} | {t_decode * 1e3:>6.1f} ms | {args.pairs / t_decode:>8.0f}"
        )
        print(
            f"{f'doctor, {args.pairs} pairs (NYUDV2)':<44} | {t_all * 1e3:>6.1f} ms | {args.pairs / t_all:>8.0f}"
        )
        print(
            f"{f'doctor, default sample of {DEFAULT_SAMPLE} (MetricMonoDataset)':<44} | {best * 1e3:>6.1f} ms | {DEFAULT_SAMPLE / best:>8.0f}"
        )
        print(
            f"ratio doctor/decode-only: {t_all / t_decode:.2f}x; targets: >= 100 pairs/s, default sample < 1 s"
        )
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
