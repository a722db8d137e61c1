"""CLI start-up: what a ``depthnet`` call costs before it does its work, against ``import yaml, pydantic``.

    python benchmarks/cli_start_bench.py [--runs 7]

Every command is a whole process (the installed ``depthnet`` entry point when it is beside this interpreter, else
``python -m specgen.cli``), run interleaved with the anchor ``python -c "import yaml, pydantic"`` so that drift in
the machine's load hits both alike. CPU is user + sys of the child, from ``getrusage(RUSAGE_CHILDREN)`` taken
around each run; each figure is the median of ``--runs`` paired runs, and the ratio is the median of the per-pair
ratios. Bytecode is compiled once, before the runs, into a private cache (``PYTHONPYCACHEPREFIX``) for the anchor
and every command alike. Target (issue #26): ``--help``, ``validate SPEC`` and ``verdict DIR`` each ≤ 2× the anchor.

``--check BOUND`` exits 1 when a ratio exceeds BOUND (the CI regression check uses a generous one).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "tao-7.3.0" / "train_healthy"
ANCHOR = [sys.executable, "-c", "import yaml, pydantic"]
#: The least any command that validates with pydantic can cost: one trivial model, built and used once
#: (``import pydantic`` alone is lazy; BaseModel brings pydantic's machinery and its plugin loader).
FLOOR = [
    sys.executable,
    "-c",
    "import yaml\nfrom pydantic import BaseModel\nclass A(BaseModel):\n    x: int = 0\nA(x=1)",
]


def depthnet() -> list[str]:
    """The console script a user runs, when this interpreter's environment has it."""
    script = Path(sys.executable).with_name("depthnet")
    return [str(script)] if script.exists() else [sys.executable, "-m", "specgen.cli"]


def cpu_of(cmd: list[str], env: dict[str, str]) -> float:
    """User + sys CPU seconds of one whole child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def make_inputs(tmp: Path) -> tuple[Path, Path]:
    """A train spec to validate and a finished train's results folder to judge (from the real TAO capture)."""
    results = tmp / "results" / "train"
    results.mkdir(parents=True)
    for name in ("status.json", "experiment.yaml"):
        shutil.copy(FIXTURE / name, results / name)
    # the checkpoints the real run left (tree.txt; empty here): a healthy run is judged PASS without its spec,
    # while a folder without them is a FAIL whose fix is worded from the spec — another command's cost
    for name in ("model_epoch_000_step_00012.pth", "model_epoch_001_step_00024.pth"):
        (results / name).write_bytes(b"")
    (results / "dn_model_latest.pth").symlink_to("model_epoch_001_step_00024.pth")
    spec = tmp / "train.yaml"
    shutil.copy(FIXTURE / "spec.yaml", spec)
    return spec, results


def commands(spec: Path, results: Path) -> dict[str, list[str]]:
    dn = depthnet()
    return {
        "(floor: one pydantic model)": FLOOR,
        "depthnet --help": [*dn, "--help"],
        "depthnet validate SPEC": [*dn, "validate", str(spec)],
        "depthnet verdict DIR": [*dn, "verdict", str(results)],
    }


def measure(runs: int) -> dict[str, tuple[float, float, float]]:
    """name → (median CPU s, anchor's median CPU s, median of paired ratios)."""
    with tempfile.TemporaryDirectory(prefix="cli_start_") as tmp:
        # bytecode compiled once into a private cache, for the anchor and every command alike: a user's
        # installation has its bytecode, and an uncompiled editable checkout would charge ours for compiling
        env = {**os.environ, "PYTHONPYCACHEPREFIX": os.path.join(tmp, "pyc")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.pop("PYTHONPROFILEIMPORTTIME", None)
        spec, results = make_inputs(Path(tmp))
        cmds = commands(spec, results)
        for cmd in [ANCHOR, *cmds.values()]:  # warm the page cache and the bytecode caches alike
            cpu_of(cmd, env)
        out = {}
        for name, cmd in cmds.items():
            ours, anchor = [], []
            for _ in range(runs):
                anchor.append(cpu_of(ANCHOR, env))
                ours.append(cpu_of(cmd, env))
            ratios = [o / a for o, a in zip(ours, anchor, strict=True)]
            out[name] = (statistics.median(ours), statistics.median(anchor), statistics.median(ratios))
        return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7, help="paired runs per command (median)")
    ap.add_argument("--check", type=float, help="exit 1 when a ratio exceeds this bound")
    args = ap.parse_args()
    figures = measure(max(1, args.runs))
    print(f"{'command':<28} | {'CPU (median)':>12} | {'anchor':>9} | {'ratio':>6}")
    for name, (ours, anchor, ratio) in figures.items():
        print(f"{name:<28} | {ours * 1e3:>9.0f} ms | {anchor * 1e3:>6.0f} ms | {ratio:>5.2f}x")
    print(
        f"anchor: python -c 'import yaml, pydantic'; target ≤ 2x; median of {args.runs} paired runs "
        f"(python {sys.version.split()[0]}, {os.cpu_count()} cores)"
    )
    if args.check is not None and any(r > args.check for n, (_o, _a, r) in figures.items() if n[0] != "("):
        print(f"FAIL: a ratio exceeds {args.check}x", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
