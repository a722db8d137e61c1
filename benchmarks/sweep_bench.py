"""Sweep overhead per trial, side by side with a single run, in one process tree and one run of this script.

    python benchmarks/sweep_bench.py [--repeat 3]

Both launch the same train spec through the local backend with the TAO stand-in (tests/emulator/depth_net) as
``depth_net``: ``depthnet run`` on its own, and ``depthnet sweep --trials 1`` (which also opens the Optuna study in
SQLite, samples, writes and validates the trial's spec). Measured: launch → the first status.json line of the run,
and launch → the process's end. Prints the medians and the sweep's extra cost per trial.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from runkit import make_project  # noqa: E402


def first_line(path_glob: Path, pattern: str, proc: subprocess.Popen, t0: float) -> float:
    """Seconds until a status.json matching ``pattern`` under ``path_glob`` holds a line."""
    while proc.poll() is None:
        for p in path_glob.glob(pattern):
            if p.stat().st_size > 0:
                return time.perf_counter() - t0
        time.sleep(0.005)
    raise RuntimeError("ended before its first status line")


def once(project, kind: str, n: int, env: dict[str, str]) -> tuple[float, float]:
    spec = project.spec("train", f"{kind}{n}.yaml", results=f"{kind}{n}")
    cli = [sys.executable, "-m", "specgen.cli"]
    if kind == "run":
        argv = [*cli, "run", "train", "-e", str(spec), "--backend", "local"]
        where, pattern = project.out / f"{kind}{n}", "train/status.json"
    else:
        argv = [
            *cli,
            "sweep",
            "-e",
            str(spec),
            "--trials",
            "1",
            "--out",
            str(project.out / f"sweep{n}"),
            "--backend",
            "local",
            "--param",
            "train.optim.lr=loguniform:1e-5:1e-3",
        ]
        where, pattern = project.out / f"sweep{n}", "trials/*/results/train/status.json"
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = first_line(where, pattern, proc, t0)
    proc.wait()
    return first, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sweep_bench_") as tmp:
        base = Path(tmp)
        (base / "bin").mkdir()
        (base / "bin" / "depth_net").symlink_to(REPO / "tests" / "emulator" / "depth_net")
        env = {
            **os.environ,
            "PATH": f"{base / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": str(REPO),
            "XDG_DATA_HOME": str(base / "share"),
            "XDG_CONFIG_HOME": str(base / "config"),
        }
        os.environ.update({k: env[k] for k in ("XDG_DATA_HOME", "XDG_CONFIG_HOME")})
        project = make_project(base)
        results: dict[str, list[tuple[float, float]]] = {"run": [], "sweep": []}
        for n in range(args.repeat):  # interleaved: both see the same machine state
            for kind in ("run", "sweep"):
                results[kind].append(once(project, kind, n, env))
    med = {
        k: (statistics.median(x for x, _ in v), statistics.median(y for _, y in v))
        for k, v in results.items()
    }
    print(f"{'':<28} {'launch → first status line':>28} {'launch → end':>14}")
    for kind, label in (("run", "depthnet run"), ("sweep", "depthnet sweep, one trial")):
        print(f"{label:<28} {med[kind][0] * 1000:>25.0f} ms {med[kind][1] * 1000:>11.0f} ms")
    print(
        f"{'sweep overhead per trial':<28} {(med['sweep'][0] - med['run'][0]) * 1000:>25.0f} ms "
        f"{(med['sweep'][1] - med['run'][1]) * 1000:>11.0f} ms   (median of {args.repeat}, "
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
