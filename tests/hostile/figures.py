"""Run the hostile suite and print its figures: cases tried, clear errors, tracebacks, hangs, slowest case.

python tests/hostile/figures.py
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        rec = Path(tmp) / "outcomes.jsonl"
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(Path(__file__).parent)],
            env={**os.environ, "HOSTILE_RECORD": str(rec)},
            capture_output=True,
            text=True,
        )
        rows = [json.loads(line) for line in rec.read_text().splitlines()] if rec.exists() else []
    last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    counts = collections.Counter(r["outcome"] for r in rows)
    slowest = max(rows, key=lambda r: r["seconds"], default=None)
    print(f"pytest: {last}")
    print(
        f"CLI cases tried: {len(rows)}; clear errors (or correct answers): {counts['clear']}; "
        f"unclear: {counts['unclear']}; tracebacks: {counts['traceback']}; hangs: {counts['hang']}"
    )
    if slowest:
        print(f"slowest case: {slowest['case']} ({slowest['seconds']} s)")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
