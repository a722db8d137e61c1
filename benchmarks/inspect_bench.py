"""`depthnet weights inspect` on a real-size checkpoint: a torch.save zip of a ViT-L Depth Anything V2 (the public
layout, 407 tensors, 335M float32 parameters ≈ 1.34 GB of stored tensor data + data.pkl), made without torch.

    python benchmarks/inspect_bench.py [--encoder vitl] [--layout public|tao] [--repeat 5]

Target: under 1 s (it reads one zip member and the zip directory). Printed beside reading the file's bytes once
(what any loader must at least do; torch.load(map_location="meta") too when torch is installed), as a ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from torchzip import lightning, state_dict, write_torch_zip  # noqa: E402

from specgen.data.checkpoints import expected_shapes, inspect_checkpoint  # noqa: E402


def read_once(path: Path) -> float:
    t0 = time.perf_counter()
    with open(path, "rb") as f:
        while f.read(16 * 2**20):
            pass
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--encoder", default="vitl")
    ap.add_argument("--layout", default="public", choices=("public", "tao", "dinov2"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--file", help="time this existing file instead of making one")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.file:
            path = Path(args.file)
        else:
            weights = state_dict(expected_shapes(args.encoder, args.layout))
            obj = lightning(weights) if args.layout == "tao" else weights
            t0 = time.perf_counter()
            path = write_torch_zip(
                Path(tmp) / f"{args.layout}_{args.encoder}.pth", obj, fill=b"\x01\x02\x03\x04"
            )
            print(f"made {path.name}: {path.stat().st_size / 1e9:.2f} GB in {time.perf_counter() - t0:.1f} s")
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            info = inspect_checkpoint(path)
            times.append(time.perf_counter() - t0)
        read = read_once(path)
        best, median = min(times), statistics.median(times)
        print(f"inspect: {info.describe()}")
        print(f"inspect   median {median * 1000:8.1f} ms  best {best * 1000:.1f} ms  (target < 1000 ms)")
        print(f"read once        {read * 1000:8.1f} ms  ({path.stat().st_size / read / 1e9:.2f} GB/s)")
        print(f"ratio inspect/read: {median / read:.4f}")
        try:
            import torch  # type: ignore[import-not-found]
        except ImportError:
            print("torch.load(map_location='meta'): torch is not installed here")
        else:
            t0 = time.perf_counter()
            torch.load(path, map_location="meta", weights_only=True)
            print(f"torch.load(meta) {(time.perf_counter() - t0) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
