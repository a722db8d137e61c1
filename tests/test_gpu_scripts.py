"""Every GPU script (benchmarks/gpu_*.sh) runs here against the TAO stand-in, with no GPU, so a change that breaks
one fails CI instead of the next GPU session. The interface a script follows (its arguments, DEPTHNET_GPU_STANDIN)
is in benchmarks/README.md; a new script is found by the glob and needs nothing here."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from fastcli import DEPTHNET

from specgen.data.sample_data import depth_mm, rgb_image, save_png16, save_rgb

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPTS = sorted(p for p in BENCHMARKS.glob("gpu_*.sh") if p.name != "gpu_common.sh")
#: What a script must never say on stderr or in a file it leaves in OUT.
BROKEN = ("Traceback (most recent call last)", "unbound variable", "command not found", "usage: depthnet")


def redwood_like(folder: Path) -> Path:
    """Three pairs named as shared/realdata/redwood/scene_a (rgb_0000N.jpg, sync_depth_0000N.png: uint16 mm, ~1–2.7 m
    with holes), small: the stand-in reads names and the doctor the encoding, not the pixels' detail."""
    for i in range(3):
        save_rgb(folder / f"rgb_0000{i}.jpg", rgb_image(48, 64, seed=i))
        save_png16(folder / f"sync_depth_0000{i}.png", depth_mm(48, 64, lo=955, hi=2702, zeros=0.13, seed=i))
    return folder


def _verdicts(out: Path, *names: str) -> dict[str, str]:
    return {n: json.loads((out / f"{n}.json").read_text())["verdict"] for n in names}


#: Facts a script's stand-in run must show besides running clean (scripts not named here: only the clean run).
EXPECT = {
    "gpu_e2e.sh": {
        "verdicts": lambda out: (
            _verdicts(out, "train", "nan", "evaluate", "inference", "export")
            == {"train": "PASS", "nan": "FAIL", "evaluate": "PASS", "inference": "PASS", "export": "PASS"}
        ),
        "Ctrl-C judged interrupted": lambda out: json.loads((out / "interrupt.verdict.json").read_text())[
            "interrupted"
        ],
        "nothing left after stop": lambda out: (
            "left in the stopped run's group: 0" in (out / "stop.txt").read_text()
        ),
    },
    "gpu_scale.sh": {
        "DDP run passes": lambda out: '"verdict": "PASS"' in (out / "ddp.txt").read_text(),
        "sweep ends": lambda out: "sweep exit 0" in (out / "sweep.txt").read_text(),
    },
    "gpu_sweep1.sh": {
        "sweep ends": lambda out: "sweep exit 0" in (out / "sweep.txt").read_text(),
        "default objective": lambda out: (
            json.loads((out / "sweep_status.json").read_text())["objective"] == "val/abs_rel"
        ),
    },
    "gpu_memory.sh": {  # every configuration measured, the known bf16 failure too (the stand-in passes it)
        "six runs": lambda out: (out / "gpu0.jsonl").read_text().count('"verdict": "PASS"') == 6,
    },
    "gpu_slurm2.sh": {  # the old task line refused by Lightning, the job script depthnet writes now: DDP PASS
        "old refused": lambda out: '"lightning_refused": true' in (out / "old.txt").read_text(),
        "new passes on both ranks": lambda out: (
            '"verdict": "PASS"' in (out / "new.txt").read_text()
            and '"ranks": ["0/2", "1/2"]' in (out / "new.txt").read_text()
        ),
    },
    "gpu_failures.sh": {  # each failure judged with its cause (cuda_oom: GPU only, no capture for the stand-in)
        "verdicts and words": lambda out: (
            {r["case"]: (r["verdict"], r["code"]) for r in json.loads((out / "failures.json").read_text())}
            == {
                "missing_file": ("FAIL", "rgb_unreadable"),
                "missing_annotation": ("REFUSED", None),
                "wrong_encoder": ("FAIL", "size_mismatch"),
                "dead_head": ("FAIL", None),
                "stop": ("FAIL", None),
                "resume": ("PASS", None),
            }
        ),
    },
    "gpu_setup.sh": {
        "preflight ran": lambda out: "preflight exit" in (out / "preflight.txt").read_text(),
        "Run screen followed to PASS": lambda out: "verdict: True" in (out / "telemetry.txt").read_text(),
    },
}


def test_every_script_is_found():
    assert {"gpu_e2e.sh", "gpu_scale.sh", "gpu_memory.sh", "gpu_setup.sh", "gpu_sweep1.sh"} <= {
        p.name for p in SCRIPTS
    }


def test_no_script_names_a_folder_of_its_own_in_tmp():
    """Work folders come from gpu_common.sh (``WORK``: ``DEPTHNET_GPU_WORK``, else ``/tmp/dn-gpu``, on the stand-in
    ``OUT/work``): a script's own fixed ``/tmp/…`` folder, emptied with ``rm -rf`` at its start, would take another
    run's (or a person's) files, and two runs at once would share it (gpu_finetune.sh had two)."""
    fixed = {
        p.name: line for p in SCRIPTS for line in p.read_text().splitlines() if "/tmp/" in line.split("#")[0]
    }
    assert fixed == {}


def _written(path: Path) -> str:
    """What a script wrote in OUT, less a verdict's ``excerpt`` (``depthnet verdict --json``): the log lines a
    failure was read from, which quote TAO's console and its traceback."""
    text = path.read_text(errors="replace")
    try:
        data = json.loads(text) if path.suffix == ".json" else None
    except ValueError:
        return text
    if isinstance(data, dict) and "excerpt" in data:
        return json.dumps({k: v for k, v in data.items() if k != "excerpt"})
    return text


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_gpu_script_runs_on_the_stand_in(script, tmp_path):
    out = tmp_path / "out"
    cli = tmp_path / "depthnet-cli"  # the scripts' `dn`, started warm (tests/fastcli.py)
    cli.write_text(f'#!/bin/sh\nexec {shlex.join(DEPTHNET)} "$@"\n')
    cli.chmod(0o755)
    env = {
        **os.environ,
        "DEPTHNET_GPU_CLI": str(cli),
        "DEPTHNET_GPU_STANDIN": "1",
        "DEPTHNET_GPU_WORK": str(tmp_path / "work"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",  # python3: this venv's
    }
    done = subprocess.run(
        ["bash", str(script), "-", "-", str(redwood_like(tmp_path / "redwood")), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    said = done.stdout + done.stderr
    assert done.returncode == 0, said[-3000:]
    # What the script wrote itself (not the runs' logs under xdg/, nor a log tail: TAO's console has tracebacks).
    left = {p.name: _written(p) for p in out.glob("*") if p.is_file() and p.suffix != ".tail"}
    # stdout may quote TAO's console (a Ctrl-C traceback is TAO's); ours would be on stderr or in a file
    for name, text in {"stderr": done.stderr, **left}.items():
        broken = [b for b in BROKEN if b in text]
        assert not broken, f"{script.name}: {broken} in {name}:\n{text[-3000:]}"
    failed = [fact for fact, holds in EXPECT.get(script.name, {}).items() if not holds(out)]
    assert not failed, f"{script.name}: not so: {failed}\n{said[-3000:]}"
