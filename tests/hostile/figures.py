"""Issue #25's figures: try several hundred hostile inputs against the real ``depthnet`` CLI and print the table
tried | clear error | handled | traceback | hang | silent wrong | data lost, with the slowest answer.

    python tests/hostile/figures.py            # the corpus below (about 380 cases; a few minutes on 2 cores)
    python tests/hostile/figures.py --suite    # and every test under tests/hostile/, whoever wrote it
    python tests/hostile/figures.py --list     # one line per case: class, outcome, seconds, name

Each case is a command line, the files it reads (made fresh in its own folder, HOME and the XDG folders there
too, no Docker engine reachable) and what a right answer is. Every case runs in a child forked from one process
that has the CLI imported — the answer time is the command's own, not Python's start — and is killed after
``KILL`` seconds. The outcome is judged in this order:

- **hang**: more than 2 s (``LIMIT``) of CPU for the answer, or a wait past ``WAIT`` s of wall clock;
- **traceback**: a Python traceback or "unexpected error" (the crash handler) in the output;
- **data lost**: a file the case planted (a user's file a link points at, an annotation set) changed;
- **silent wrong**: a terminal-unsafe character (ESC, C1, bidi …) in what was printed, exit 0 for an input the
  case knows is bad (a NaN loss judged PASS, ``--trials 0`` accepted, an unquoted ``$(…)``), or exit 0 with a
  check of the answer failing;
- **clear error**: a non-zero exit with at least one line saying why;
- **handled**: exit 0 and the answer checked right (a merge key read, a damaged record skipped, a name shown
  inert).

The classes are issue #25's: 1 symlinks, 2 text that becomes code, 3 secrets, 4 non-finite outcomes, 5 mounts,
6 damaged monitor inputs, 7 escapes, 8 process truth, 9 registry files, 10 inputs. ``--suite`` adds each test of
tests/hostile/ as one case (passed = handled; failed: traceback, hang or silent wrong from its report).
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import os
import re
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FIXTURES = REPO / "tests" / "fixtures"
LIMIT = 2.0  # the promise: one clear line in < 2 s
KILL = 15.0  # a child still running then is killed (and counted a hang)
WAIT = 8.0  # wall seconds no neighbour's load explains: a command waiting on something
#: What a terminal must never get from us: ESC and every other C0 control but \t \n, DEL, C1, bidi controls.
FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
OUTCOMES = ("clear error", "handled", "traceback", "hang", "silent wrong", "data lost")
SECRET = "nvapi-Zq8cR4tYv2LmN7pKx3WbG5hJd9FsA1eU6oIyT0"

Setup = Callable[[Path], list[str]]  # makes the case's files in its folder, returns the argv
Check = Callable[[Path, int, str], str | None]  # what is wrong with a successful answer, or None


@dataclass
class Case:
    cls: int
    name: str
    setup: Setup
    bad: bool = True  # the input is wrong: exit 0 is a silent wrong answer (unless `check` accepts it)
    check: Check | None = None
    guard: list[str] = field(default_factory=list)  # files (relative) that must keep their bytes


@dataclass
class Result:
    case: Case
    outcome: str
    seconds: float  # wall clock, the answer's (not the setup's)
    cpu: float  # CPU seconds of the command and its children
    rc: int | None
    out: str
    why: str = ""


# ------------------------------------------------------------------------------------------------- helpers


def write(folder: Path, name: str, data: str | bytes) -> Path:
    p = folder / name
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        p.write_bytes(data)
    else:
        p.write_text(data, encoding="utf-8")
    return p


def sample_data(folder: Path, per_scene: int = 1) -> Path:
    from depthgen import sample_dataset

    return sample_dataset(folder / "data", per_scene=per_scene)


def healthy_run(folder: Path) -> Path:
    """A finished train's results folder that a right verdict calls PASS: TAO's real capture plus a checkpoint."""
    run = folder / "results" / "train"
    shutil.copytree(FIXTURES / "tao-7.3.0" / "train_healthy", run)
    shutil.copy(FIXTURES / "checkpoints" / "tao_metric_vits.pth", run / "model_epoch_001_step_00024.pth")
    return run


def status_lines(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "status.json").read_text().splitlines() if line.strip()]


def put_status(run: Path, lines: list[dict] | str) -> None:
    text = lines if isinstance(lines, str) else "\n".join(json.dumps(x, allow_nan=True) for x in lines) + "\n"
    (run / "status.json").write_text(text, encoding="utf-8")


def verdict_argv(run: Path, exit_code: int = 0, log: bool = True) -> list[str]:
    argv = ["verdict", str(run), "--exit-code", str(exit_code), "--action", "train"]
    return [*argv, "--log", str(run / "console.log")] if log else argv


def spec_file(folder: Path, text: str | bytes, name: str = "spec.yaml") -> list[str]:
    return ["validate", str(write(folder, name, text)), "--action", "train"]


def good_spec(folder: Path) -> str:
    """A train spec that validates: the sample data's annotation list, a results folder of its own."""
    data = sample_data(folder)
    rgb = sorted(data.rglob("rgb_*.jpg"))
    lines = [f"{p} {p.with_name(p.name.replace('rgb_', 'sync_depth_').replace('.jpg', '.png'))}" for p in rgb]
    ann = write(folder, "train.txt", "\n".join(lines) + "\n")
    return (
        f"results_dir: {folder / 'results'}\n"
        "dataset:\n"
        "  dataset_name: MonoDataset\n"
        "  train_dataset:\n"
        f"    data_sources: [{{dataset_name: NYUDV2, data_file: {ann}}}]\n"
        "  val_dataset:\n"
        f"    data_sources: [{{dataset_name: NYUDV2, data_file: {ann}}}]\n"
    )


# --------------------------------------------------------------------------------------------- the corpus


def accepted(d: Path, rc: int, out: str) -> str | None:
    """For a good input: refusing it is the wrong answer."""
    return None if rc == 0 else "a good input refused"


def yaml_cases() -> list[Case]:
    """Class 10 (spec): files `validate` reads. The bad ones must be refused in one line, fast."""
    bombs = {
        "alias bomb": "a: &a [x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
            for p, c in zip("abcdefgh", "bcdefghi", strict=True)
        ),
        "merge bomb": "a0: &a0 {k: 1}\n"
        + "".join(f"a{i}: &a{i}\n  <<: [*a{i - 1}]\n  p{i}: [*a{i - 1}, *a{i - 1}]\n" for i in range(1, 40)),
        "recursive alias": "a: &a [*a]\n",
        "deep flow list": "a: " + "[" * 5000 + "]" * 5000 + "\n",
        "deep flow map": "a: " + "{b: " * 3000 + "1" + "}" * 3000 + "\n",
        "deep block": "".join("  " * i + f"k{i}:\n" for i in range(300)) + "  " * 300 + "v: 1\n",
        "401-digit int": "train:\n  num_epochs: " + "9" * 401 + "\n",
        "5000-digit int": "train:\n  num_epochs: " + "1" * 5000 + "\n",
        "hex giant": "train:\n  num_epochs: 0x" + "f" * 600 + "\n",
        "duplicate key": "train:\n  num_epochs: 1\n  num_epochs: 2\n",
        "tab indent": "train:\n\tnum_epochs: 1\n",
        "unclosed quote": 'results_dir: "/tmp/x\n',
        "unclosed flow": "a: [1, 2\n",
        "top-level list": "- 1\n- 2\n",
        "top-level scalar": "hello\n",
        "merge of a scalar": "m:\n  <<: 5\n",
        "merge of a list of scalars": "m:\n  <<: [1, 2]\n",
        "unknown tag": "a: !!python/object:os.system [ls]\n",
        "python name tag": "a: !!python/name:os.system\n",
        "binary tag": "a: !!binary AAAA\n",
        "set tag": "a: !!set {x, y}\n",
        "nul byte": "results_dir: /tmp/a\x00b\n",
        "escape in key": "train:\n  \x1b[2Jnum_epochs: 1\n",
        "bidi in key": "train:\n  num_\u202eepochs: 1\n",
        "osc in value": "results_dir: /tmp/\x1b]0;pwned\x07x\n",
        "c1 csi in value": "results_dir: /tmp/\x9b2Jx\n",
        "many documents": "a: 1\n---\nb: 2\n",
        "huge string": "results_dir: " + "x" * 3_000_000 + "\n",
        "100k keys": "".join(f"k{i}: {i}\n" for i in range(100_000)),
        "key is a list": "? [a, b]\n: 1\n",
        "key is a map": "? {a: 1}\n: 1\n",
        "null key": "~: 1\n",
        "bool key": "true: 1\n",
        "int key": "1: 2\n",
        "nan epochs": "train:\n  num_epochs: .nan\n",
        "inf epochs": "train:\n  num_epochs: .inf\n",
        "negative epochs": "train:\n  num_epochs: -3\n",
        "string epochs": "train:\n  num_epochs: many\n",
        "list epochs": "train:\n  num_epochs: [1]\n",
        "nan lr": "train:\n  optim:\n    lr: .nan\n",
        "inf lr": "train:\n  optim:\n    lr: -.inf\n",
        "crop [0, -14]": "dataset:\n  train_dataset:\n    augmentation:\n      crop_size: [0, -14]\n",
        "crop [518]": "dataset:\n  train_dataset:\n    augmentation:\n      crop_size: [518]\n",
        "crop [500, 500]": "dataset:\n  train_dataset:\n    augmentation:\n      crop_size: [500, 500]\n",
        "crop 3 sizes": "dataset:\n  train_dataset:\n    augmentation:\n      crop_size: [14, 14, 14]\n",
        "crop strings": "dataset:\n  train_dataset:\n    augmentation:\n      crop_size: [a, b]\n",
        "crop nan": "dataset:\n  train_dataset:\n    augmentation:\n      crop_size: [.nan, 518]\n",
        "batch 0": "dataset:\n  train_dataset:\n    batch_size: 0\n",
        "batch -1": "dataset:\n  train_dataset:\n    batch_size: -1\n",
        "workers huge": "dataset:\n  train_dataset:\n    workers: " + "9" * 30 + "\n",
        "gpu ids strings": "train:\n  gpu_ids: [a]\n",
        "data_sources null": "dataset:\n  train_dataset:\n    data_sources: null\n",
        "data_sources scalar": "dataset:\n  train_dataset:\n    data_sources: x\n",
        "data_file missing": "dataset:\n  train_dataset:\n    data_sources: [{dataset_name: NYUDV2, data_file: /nonexistent/t.txt}]\n",
        "dataset_name unknown": "dataset:\n  train_dataset:\n    data_sources: [{dataset_name: NoSuch, data_file: /x}]\n",
        "results_dir /": "results_dir: /\n",
        "results_dir /etc": "results_dir: /etc\n",
        "results_dir relative dots": "results_dir: ../../../../etc\n",
        "misspelt key": "trian:\n  num_epochs: 1\n",
        "misspelt nested": "train:\n  num_epohcs: 1\n",
        "section is a list": "train: [1, 2]\n",
        "section is a string": "train: fast\n",
    }
    cases = [Case(10, f"yaml: {name}", lambda d, t=text: spec_file(d, t)) for name, text in bombs.items()]
    raw = {
        "latin-1 bytes": b"results_dir: /tmp/caf\xe9\n",
        "utf-16 file": "results_dir: /tmp/x\n".encode("utf-16"),
        "random bytes": bytes(range(256)) * 4,
        "png as spec": (FIXTURES / "checkpoints" / "README.md").read_bytes()[:0]
        + b"\x89PNG\r\n\x1a\n"
        + b"\0" * 64,
        "lone CR lines": b"train:\r  num_epochs: x\r",
    }
    cases += [Case(10, f"yaml: {name}", lambda d, b=data: spec_file(d, b)) for name, data in raw.items()]

    def merged(d: Path) -> list[str]:
        """val_dataset written as ``<<: *train`` plus its own batch size, as an OmegaConf user would."""
        base = good_spec(d).replace("  train_dataset:\n", "  train_dataset: &train\n", 1)
        head, _, _ = base.partition("  val_dataset:\n")
        return spec_file(d, head + "  val_dataset:\n    <<: *train\n    batch_size: 1\n")

    def file_kinds(kind: str) -> Setup:
        def setup(d: Path) -> list[str]:
            p = d / "spec.yaml"
            if kind == "fifo":
                os.mkfifo(p)
            elif kind == "folder":
                p.mkdir()
            elif kind == "missing":
                pass
            elif kind == "link loop":
                os.symlink(p, p)
            elif kind == "dangling link":
                os.symlink(d / "nowhere.yaml", p)
            elif kind == "unreadable":
                p.write_text("a: 1\n")
                p.chmod(0)
            elif kind == "empty":
                p.write_text("")
            elif kind == "only comments":
                p.write_text("# nothing\n")
            elif kind == "dev zero":
                return ["validate", "/dev/zero", "--action", "train"]
            elif kind == "sparse 3 GiB":
                with open(p, "wb") as f:
                    f.truncate(3 << 30)
            return ["validate", str(p), "--action", "train"]

        return setup

    kinds = [
        "fifo",
        "folder",
        "missing",
        "link loop",
        "dangling link",
        "empty",
        "only comments",
        "dev zero",
        "sparse 3 GiB",
    ]
    if os.geteuid() != 0:
        kinds.append("unreadable")
    cases += [Case(10, f"spec file: {k}", file_kinds(k)) for k in kinds]
    # an OmegaConf merge key in a good spec is read (issue #25 class 10): exit 0 expected
    cases.append(Case(10, "yaml: merge key in a good spec", merged, bad=False, check=accepted))
    cases.append(
        Case(10, "yaml: a good spec", lambda d: spec_file(d, good_spec(d)), bad=False, check=accepted)
    )
    return cases


def verdict_cases() -> list[Case]:
    """Classes 4 and 6: a finished run's files, made to lie or damaged. A lie must never be PASS; damage must never
    take the verdict away."""
    cases: list[Case] = []

    def kpi_case(key: str, value: object, where: str) -> Setup:
        def setup(d: Path) -> list[str]:
            run = healthy_run(d)
            lines = status_lines(run)
            target = next(x for x in reversed(lines) if "kpi" in x and (where in x["kpi"] or where == "new"))
            target["kpi"][key if where == "new" else where] = value
            put_status(run, lines)
            return verdict_argv(run)

        return setup

    nonfinite: dict[str, object] = {
        "NaN literal": float("nan"),
        "Infinity literal": float("inf"),
        "-Infinity literal": float("-inf"),
        "'nan' string": "nan",
        "'NaN' string": "NaN",
        "'inf' string": "inf",
        "'-inf' string": "-inf",
        "'Infinity' string": "Infinity",
        "'1e999' string": "1e999",
        "nested NaN": {"a": {"b": float("nan")}},
        "NaN in a list": [1.0, float("nan")],
        "deep nested inf": {"a": {"b": {"c": {"d": float("inf")}}}},
    }
    for label, value in nonfinite.items():
        for key in ("train_loss", "val/loss"):
            cases.append(Case(4, f"verdict: {key} = {label}", kpi_case(key, value, key)))

    def extra_said(d: Path, rc: int, out: str) -> str | None:
        """A NaN in a key the verdict does not judge: PASS is right (the model's own metrics are usable), but only
        with the key said as a warning (the verdict's per-key rule, specgen/engine/failures.py)."""
        return None if "val/extra is NaN" in out else "the NaN kpi was not said"

    cases.append(
        Case(4, "verdict: a new kpi = NaN", kpi_case("val/extra", float("nan"), "new"), check=extra_said)
    )

    def lie(kind: str) -> Setup:
        def setup(d: Path) -> list[str]:
            run = healthy_run(d)
            if kind == "execution FAIL":
                with (run / "console.log").open("a") as f:
                    f.write("Execution status: FAIL\n")
            elif kind == "FAILURE line":
                lines = status_lines(run)
                lines.append(
                    {
                        "date": "11/25/2026",
                        "time": "17:46:47",
                        "status": "FAILURE",
                        "verbosity": "INFO",
                        "message": "Train failed.",
                    }
                )
                put_status(run, lines)
            elif kind == "no checkpoint":
                for p in run.glob("*.pth"):
                    p.unlink()
            elif kind == "exit 1":
                return verdict_argv(run, exit_code=1)
            elif kind == "exit 137":
                return verdict_argv(run, exit_code=137)
            elif kind == "exit -9":
                return verdict_argv(run, exit_code=-9)
            elif kind == "empty status":
                put_status(run, "")
            elif kind == "no status":
                (run / "status.json").unlink()
            return verdict_argv(run)

        return setup

    for kind in [
        "execution FAIL",
        "FAILURE line",
        "no checkpoint",
        "exit 1",
        "exit 137",
        "exit -9",
        "empty status",
        "no status",
    ]:
        cases.append(Case(4, f"verdict: {kind} with a healthy record", lie(kind)))

    def pass_check(d: Path, rc: int, out: str) -> str | None:
        return None if "PASS" in out else "no PASS for a healthy run"

    def damaged(kind: str) -> Setup:
        def setup(d: Path) -> list[str]:
            run = healthy_run(d)
            text = (run / "status.json").read_text()
            if kind == "truncated last line":
                put_status(run, text[:-40])
            elif kind == "garbage line":
                put_status(run, text + "\x00\xff{{{not json\n")
            elif kind == "nested 100k":
                put_status(run, text + "[" * 100_000 + "]" * 100_000 + "\n")
            elif kind == "401-digit kpi":
                put_status(run, text + '{"kpi": {"val/big": ' + "9" * 401 + "}}\n")
            elif kind == "huge kpi dict":
                put_status(run, text + json.dumps({"kpi": {f"k{i}": i for i in range(200_000)}}) + "\n")
            elif kind == "10 MB line":
                put_status(run, text + '{"message": "' + "x" * 10_000_000 + '"}\n')
            elif kind == "kpi is a list":
                put_status(run, text + '{"kpi": [1, 2, 3]}\n')
            elif kind == "kpi is a string":
                put_status(run, text + '{"kpi": "lots"}\n')
            elif kind == "epoch is a string":
                put_status(run, text + '{"epoch": "one", "max_epoch": "x", "step": null}\n')
            elif kind == "a line that is a list":
                put_status(run, text + "[1, 2]\n")
            elif kind == "CRLF endings":
                put_status(run, text.replace("\n", "\r\n"))
            elif kind == "non-UTF-8 bytes":
                (run / "status.json").write_bytes(text.encode() + b'{"message": "caf\xe9"}\n')
            return verdict_argv(run)

        return setup

    for kind in [
        "truncated last line",
        "garbage line",
        "nested 100k",
        "401-digit kpi",
        "huge kpi dict",
        "10 MB line",
        "kpi is a list",
        "kpi is a string",
        "epoch is a string",
        "a line that is a list",
        "CRLF endings",
        "non-UTF-8 bytes",
    ]:
        cases.append(Case(6, f"verdict: status.json {kind}", damaged(kind), bad=False, check=pass_check))

    def status_kind(kind: str) -> Setup:
        def setup(d: Path) -> list[str]:
            run = healthy_run(d)
            (run / "status.json").unlink()
            if kind == "fifo":
                os.mkfifo(run / "status.json")
            elif kind == "folder":
                (run / "status.json").mkdir()
            elif kind == "link to /dev/zero":
                os.symlink("/dev/zero", run / "status.json")
            return verdict_argv(run)

        return setup

    for kind in ["fifo", "folder", "link to /dev/zero"]:
        cases.append(Case(6, f"verdict: status.json is a {kind}", status_kind(kind)))

    def tb(kind: str) -> Setup:
        def setup(d: Path) -> list[str]:
            run = healthy_run(d)
            logs = run / "lightning_logs" / "version_0"
            logs.mkdir(parents=True)
            name = logs / "events.out.tfevents.1.host.1.0"
            header = struct.pack("<Q", 1 << 62) + b"\0" * 4
            data = {
                "absurd length": header + b"x" * 64,
                "random bytes": os.urandom(4096),
                "truncated": struct.pack("<Q", 100) + b"\0\0\0\0" + b"x" * 10,
                "empty": b"",
                "zero length records": (struct.pack("<Q", 0) + b"\0" * 8) * 1000,
                "length off by one": struct.pack("<Q", 9) + b"\0" * 4 + b"\x08\x01" * 4 + b"\0" * 4,
            }[kind]
            name.write_bytes(data)
            return verdict_argv(run)

        return setup

    for kind in [
        "absurd length",
        "random bytes",
        "truncated",
        "empty",
        "zero length records",
        "length off by one",
    ]:
        cases.append(Case(6, f"verdict: tfevents {kind}", tb(kind), bad=False, check=pass_check))
    return cases


HOSTILE_TEXTS = {
    "OSC title": "\x1b]0;pwned\x07",
    "clear screen": "\x1b[2J\x1b[H",
    "OSC 8 link": "\x1b]8;;http://evil\x07click\x1b]8;;\x07",
    "8-bit CSI": "\x9b31m",
    "8-bit OSC": "\x9d0;x\x9c",
    "bidi override": "\u202egpj.exe",
    "bidi isolate": "\u2066x\u2069",
    "backspaces": "ok\x08\x08\x08",
    "bell": "\x07\x07",
    "markup": "[red]b[/][bold]",
    "markup closer": "[/]",
    "DCS string": "\x1bPq#0\x1b\\",
    "unterminated OSC": "\x1b]0;never ends",
    "DEL": "a\x7fb",
}


def display_cases() -> list[Case]:
    """Class 7: outside text on its way to the terminal, through every command that prints it."""
    cases: list[Case] = []

    def safe_check(d: Path, rc: int, out: str) -> str | None:
        return None  # the forbidden-character scan runs on every case

    for label, text in HOSTILE_TEXTS.items():

        def kpi_key(d: Path, t: str = text) -> list[str]:
            run = healthy_run(d)
            lines = status_lines(run)
            lines[-1]["kpi"][f"val/{t}"] = 0.5
            lines[-1]["kpi"]["note"] = t
            put_status(run, lines)
            return verdict_argv(run)

        def log_line(d: Path, t: str = text) -> list[str]:
            run = healthy_run(d)
            with (run / "console.log").open("a") as f:
                f.write(
                    f"Traceback (most recent call last):\nRuntimeError: cannot read {t}\nExecution status: FAIL\n"
                )
            return verdict_argv(run, exit_code=1)

        def validate_name(d: Path, t: str = text) -> list[str]:
            return ["validate", str(d / f"spec{t.replace('/', '_')}.yaml"), "--action", "train"]

        def validate_value(d: Path, t: str = text) -> list[str]:
            return spec_file(d, json.dumps({"results_dir": f"/tmp/x{t}", "trian": {t: 1}}))

        def doctor_path(d: Path, t: str = text) -> list[str]:
            ann = write(d, "train.txt", f"/data/{t.replace('/', '_')}.jpg /data/{t.replace('/', '_')}.png\n")
            return ["doctor", "--data-file", str(ann), "--dataset-name", "NYUDV2"]

        def convert_name(d: Path, t: str = text) -> list[str]:
            data = sample_data(d)
            rgb = next(data.rglob("rgb_*.jpg"))
            depth = rgb.with_name(rgb.name.replace("rgb_", "sync_depth_").replace(".jpg", ".png"))
            safe = t.replace("/", "_")
            shutil.copy(rgb, rgb.with_name(f"rgb_{safe}.jpg"))
            shutil.copy(depth, depth.with_name(f"sync_depth_{safe}.png"))
            shutil.copy(rgb, rgb.with_name(f"rgb_{safe} spaced.jpg"))
            args = ["--image-pattern", "rgb_", "--depth-pattern", "sync_depth_", "--out", str(d / "ann")]
            return ["convert", "--data-root", str(data), *args, "--preview"]

        for surface, setup, bad in [
            ("verdict kpi key", kpi_key, False),
            ("verdict log line", log_line, True),
            ("validate file name", validate_name, True),
            ("validate value", validate_value, True),
            ("doctor path", doctor_path, True),
            ("convert file name", convert_name, False),
        ]:
            cases.append(Case(7, f"{surface}: {label}", setup, bad=bad, check=safe_check))
    return cases


def data_cases() -> list[Case]:
    """Class 10 (data): depth files, annotation lists and convert's arguments."""
    import numpy as np

    cases: list[Case] = []

    def doctor_on(make: Callable[[Path], Path]) -> Setup:
        def setup(d: Path) -> list[str]:
            data = sample_data(d)
            rgb = next(data.rglob("rgb_*.jpg"))
            depth = make(d)
            ann = write(d, "train.txt", f"{rgb} {depth}\n")
            return ["doctor", "--data-file", str(ann), "--dataset-name", "NYUDV2"]

        return setup

    def npy(arr_or_bytes: object, name: str = "depth.npy") -> Callable[[Path], Path]:
        def make(d: Path) -> Path:
            p = d / name
            if isinstance(arr_or_bytes, bytes):
                p.write_bytes(arr_or_bytes)
            else:
                np.save(p, arr_or_bytes, allow_pickle=True)
            return p

        return make

    def npy_header(header: str) -> bytes:
        h = header.encode("latin1")
        h += b" " * (64 - (10 + len(h) + 1) % 64) + b"\n"
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h

    def png(make_bytes: Callable[[], bytes]) -> Callable[[Path], Path]:
        def make(d: Path) -> Path:
            p = d / "depth.png"
            p.write_bytes(make_bytes())
            return p

        return make

    def png_of(arr: object) -> bytes:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(arr).save(buf, format="PNG")  # type: ignore[arg-type]
        return buf.getvalue()

    depth_files: dict[str, Callable[[Path], Path]] = {
        "npy strings": npy(np.array([["a", "b"], ["c", "d"]])),
        "npy structured": npy(np.zeros((4, 4), dtype=[("a", "f4"), ("b", "i4")])),
        "npy objects": npy(np.array([[None, 1], [2, 3]], dtype=object)),
        "npy 298 GiB header": npy(
            npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (280000, 280000), }") + b"\0" * 64
        ),
        "npy negative shape": npy(npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 5), }")),
        "npy header is code": npy(npy_header("__import__('os').system('touch PWNED')")),
        "npy truncated": npy(
            npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (480, 640), }") + b"\0" * 100
        ),
        "npy 0x0": npy(np.zeros((0, 0), dtype=np.float32)),
        "npy 1-d": npy(np.zeros(100, dtype=np.float32)),
        "npy 4-d": npy(np.zeros((2, 2, 2, 2), dtype=np.float32)),
        "npy complex": npy(np.zeros((8, 8), dtype=np.complex64)),
        "npy all NaN": npy(np.full((48, 64), np.nan, dtype=np.float32)),
        "npy all inf": npy(np.full((48, 64), np.inf, dtype=np.float32)),
        "npy float16": npy(np.ones((48, 64), dtype=np.float16)),
        "npy bool": npy(np.ones((48, 64), dtype=bool)),
        "npy not numpy": npy(b"hello world, not an array\n"),
        "npy empty file": npy(b""),
        "png 0x0 (empty file)": png(lambda: b""),
        "png garbage": png(lambda: b"\x89PNG\r\n\x1a\n" + os.urandom(200)),
        "png 1x1": png(lambda: png_of(np.full((1, 1), 1000, dtype=np.uint16))),
        "png all zero": png(lambda: png_of(np.zeros((48, 64), dtype=np.uint16))),
        "png 8-bit": png(lambda: png_of(np.full((48, 64), 7, dtype=np.uint8))),
        "png colour": png(lambda: png_of(np.full((48, 64, 3), 7, dtype=np.uint8))),
        "jpg named png": png(lambda: (FIXTURES / "checkpoints" / "README.md").read_bytes()),
    }
    for label, make in depth_files.items():
        cases.append(Case(10, f"doctor: depth {label}", doctor_on(make), bad=label not in ("npy float16",)))

    def depth_folder(d: Path) -> Path:
        (d / "depth.png").mkdir()
        return d / "depth.png"

    def depth_fifo(d: Path) -> Path:
        os.mkfifo(d / "depth.png")
        return d / "depth.png"

    cases.append(Case(10, "doctor: depth is a folder", doctor_on(depth_folder)))
    cases.append(Case(10, "doctor: depth is a FIFO", doctor_on(depth_fifo)))
    cases.append(Case(10, "doctor: depth is /dev/zero", doctor_on(lambda d: Path("/dev/zero"))))

    def ann_case(kind: str) -> Setup:
        def setup(d: Path) -> list[str]:
            data = sample_data(d)
            rgb = next(data.rglob("rgb_*.jpg"))
            depth = rgb.with_name(rgb.name.replace("rgb_", "sync_depth_").replace(".jpg", ".png"))
            p = d / "train.txt"
            if kind == "fifo":
                os.mkfifo(p)
            elif kind == "folder":
                p.mkdir()
            elif kind == "dev zero":
                return ["doctor", "--data-file", "/dev/zero", "--dataset-name", "NYUDV2"]
            elif kind == "empty":
                p.write_text("")
            elif kind == "blank lines":
                p.write_text("\n\n\n")
            elif kind == "latin-1":
                p.write_bytes(f"{rgb} {depth}\n".encode() + b"/data/caf\xe9.jpg /data/caf\xe9.png\n")
            elif kind == "CR endings":
                p.write_text(f"{rgb} {depth}\r{rgb} {depth}\r")
            elif kind == "NUL in a line":
                p.write_text(f"{rgb}\x00 {depth}\n")
            elif kind == "50 MB one line":
                p.write_text("x" * 50_000_000)
            elif kind == "4-column line":
                p.write_text(f"{rgb} {rgb} {depth} {d / 'mask.png'}\n")
            elif kind == "missing files":
                p.write_text("/nonexistent/a.jpg /nonexistent/a.png\n")
            elif kind == "image only":
                p.write_text(f"{rgb}\n")
            elif kind == "sparse 3 GiB":
                with open(p, "wb") as f:
                    f.truncate(3 << 30)
            elif kind == "relative paths":
                p.write_text("a.jpg a.png\n")
            return ["doctor", "--data-file", str(p), "--dataset-name", "NYUDV2"]

        return setup

    def healthy(d: Path, rc: int, out: str) -> str | None:
        return None if rc == 0 else "a healthy 4-column line refused"

    for kind in [
        "fifo",
        "folder",
        "dev zero",
        "empty",
        "blank lines",
        "latin-1",
        "NUL in a line",
        "50 MB one line",
        "missing files",
        "sparse 3 GiB",
        "relative paths",
    ]:
        cases.append(Case(10, f"doctor: annotation {kind}", ann_case(kind)))
    cases.append(
        Case(10, "doctor: annotation 4-column line", ann_case("4-column line"), bad=False, check=healthy)
    )
    cases.append(Case(10, "doctor: annotation image only", ann_case("image only"), bad=False))
    # CR and CRLF end lines in TAO's text-mode reading too: the pairs are good, a right answer reads them
    cases.append(Case(10, "doctor: annotation CR endings", ann_case("CR endings"), bad=False, check=healthy))

    def convert(extra: list[str], name_bytes: bytes | None = None, root: str | None = None) -> Setup:
        def setup(d: Path) -> list[str]:
            data = sample_data(d)
            if name_bytes is not None:
                rgb = next(data.rglob("rgb_*.jpg"))
                depth = rgb.with_name(rgb.name.replace("rgb_", "sync_depth_").replace(".jpg", ".png"))
                folder = os.fsencode(rgb.parent)
                shutil.copy(rgb, os.path.join(folder, b"rgb_" + name_bytes + b".jpg"))
                shutil.copy(depth, os.path.join(folder, b"sync_depth_" + name_bytes + b".png"))
            where = {"file": str(write(d, "f.txt", "x")), "missing": str(d / "nope"), "fifo": None}.get(
                root or "", str(data)
            )
            if root == "fifo":
                os.mkfifo(d / "fifo")
                where = str(d / "fifo")
            base = [
                "convert",
                "--data-root",
                where,
                "--image-pattern",
                "rgb_",
                "--depth-pattern",
                "sync_depth_",
            ]
            return [*base, "--out", str(d / "ann"), *extra]

        return setup

    for value in ["7", "-1", "nan", "inf", "1.5", "-0.0001", "1e309", "x", ""]:
        cases.append(Case(10, f"convert: --split-ratio {value!r}", convert(["--split-ratio", value])))
    for label, raw in {
        "non-UTF-8": b"caf\xe9",
        "CR": b"a\rb",
        "newline": b"a\nb",
        "tab": b"a\tb",
        "ESC": b"a\x1b[2Jb",
        "C1 as UTF-8": "a\u009bb".encode(),
        "bidi": "a\u202eb".encode(),
        "space": b"a b",
    }.items():
        # a C1 or bidi character is valid UTF-8 that TAO's reader keeps: listing it is right, showing it raw is not
        inert = label in ("C1 as UTF-8", "bidi")
        cases.append(Case(10, f"convert: a {label} file name", convert([], raw), bad=not inert))
    for root in ["file", "missing", "fifo"]:
        cases.append(Case(10, f"convert: --data-root is a {root}", convert([], root=root)))
    cases.append(
        Case(
            10,
            "convert: empty image pattern",
            lambda d: [
                "convert",
                "--data-root",
                str(sample_data(d)),
                "--image-pattern",
                "",
                "--depth-pattern",
                "x",
                "--out",
                str(d / "a"),
            ],
        )
    )
    cases.append(
        Case(
            10,
            "convert: same patterns",
            lambda d: [
                "convert",
                "--data-root",
                str(sample_data(d)),
                "--image-pattern",
                "rgb_",
                "--depth-pattern",
                "rgb_",
                "--out",
                str(d / "a"),
            ],
        )
    )
    return cases


def mount_cases(slurm: list[str]) -> list[Case]:
    """Class 5: what the container is given to see (the Slurm script's --container-mounts, from --dry-run). Every
    file the run reads must lie under a mount; no system folder or ~/.ssh may be one."""

    def covered(d: Path, rc: int, out: str) -> str | None:
        if rc != 0:
            return None
        found = re.search(r"--container-mounts=(\S+)", out)
        sources = [m.split(":")[0] for m in found.group(1).strip("'").split(",")] if found else []
        for src in sources:
            if src in ("/", "/etc", "/usr", "/root") or "/.ssh" in src:
                return f"mounts {src}"
        spec = (d / "spec.yaml").read_text()
        needed = [Path(x) for x in re.findall(r"data_file: ([^}\s]+)", spec)]
        for ann in list(needed):
            if ann.is_file():
                needed += [
                    Path(col) for line in ann.read_text().splitlines() for col in line.split(" ")[:3] if col
                ]
        for path in needed:
            real = os.path.realpath(path)
            if not any(real == s or real.startswith(s.rstrip("/") + "/") for s in sources):
                return f"{path} is under no mount"
        return None

    def setup(kind: str) -> Setup:
        def make(d: Path) -> list[str]:
            text = good_spec(d)
            extra: list[str] = []
            if kind == "no --data-root":
                pass
            elif kind == "results inside the data root":
                extra = ["--data-root", str(d)]
            elif kind == "annotation in the data root":
                (d / "train.txt").rename(d / "data" / "train.txt")
                text = text.replace(str(d / "train.txt"), str(d / "data" / "train.txt"))
                extra = ["--data-root", str(d / "data")]
            elif kind == "depth is a link outside the data root":
                outside = d / "elsewhere"
                outside.mkdir()
                ann = (d / "train.txt").read_text().splitlines()
                first_depth = Path(ann[0].split(" ")[1])
                shutil.move(first_depth, outside / first_depth.name)
                os.symlink(outside / first_depth.name, first_depth)
                extra = ["--data-root", str(d)]
            elif kind == "~/.tao_mounts.json mounts /":
                home = d / "home" / "home"
                write(
                    home,
                    ".tao_mounts.json",
                    json.dumps({"Mounts": [{"source": "/", "destination": "/host"}]}),
                )
                extra = ["--data-root", str(d)]
            elif kind == "~/.tao_mounts.json mounts /etc":
                home = d / "home" / "home"
                write(
                    home,
                    ".tao_mounts.json",
                    json.dumps({"Mounts": [{"source": "/etc", "destination": "/etc"}]}),
                )
                extra = ["--data-root", str(d)]
            elif kind == "an annotation line names ~/.ssh":
                ssh = d / "home" / "home" / ".ssh"
                write(ssh, "id_rsa.jpg", "secret")
                write(ssh, "id_rsa.png", "secret")
                with (d / "train.txt").open("a") as f:
                    f.write(f"{ssh / 'id_rsa.jpg'} {ssh / 'id_rsa.png'}\n")
                extra = ["--data-root", str(d)]
            elif kind == "results_dir in ~/.ssh":
                text = text.replace(
                    f"results_dir: {d / 'results'}", f"results_dir: {d / 'home' / 'home' / '.ssh' / 'r'}"
                )
                extra = ["--data-root", str(d)]
            elif kind == "--data-root /":
                extra = ["--data-root", "/"]
            write(d, "spec.yaml", text)
            return [*slurm, *extra]

        return make

    kinds = [
        "no --data-root",
        "results inside the data root",
        "annotation in the data root",
        "depth is a link outside the data root",
        "~/.tao_mounts.json mounts /",
        "~/.tao_mounts.json mounts /etc",
        "an annotation line names ~/.ssh",
        "results_dir in ~/.ssh",
        "--data-root /",
    ]
    return [Case(5, f"mounts: {k}", setup(k), bad=False, check=covered) for k in kinds]


def run_cases() -> list[Case]:
    """Classes 2, 3, 9 and 10 (runs): run/sweep/stop/attach arguments, registry files, secrets."""
    cases: list[Case] = []

    def with_spec(extra: Callable[[Path], list[str]]) -> Setup:
        def setup(d: Path) -> list[str]:
            write(d, "spec.yaml", good_spec(d))
            return extra(d)

        return setup

    slurm = ["run", "train", "-e", "spec.yaml", "--backend", "slurm", "--dry-run"]

    def quoted(d: Path, rc: int, out: str) -> str | None:
        """Every PWNED in the script inside single quotes (a line of its own would be a command)."""
        for line in out.splitlines():
            if "PWNED" in line and not re.search(r"'[^']*PWNED[^']*'", line):
                return f"unquoted in the script: {line.strip()[:80]}"
        return None

    for label, extra in {
        "--env name $(touch PWNED)": ["--env", "$(touch PWNED)=1"],
        "--env name with space": ["--env", "A B=1"],
        "--env name with ;": ["--env", "A;touch PWNED=1"],
        "--env value with newline": ["--env", "A=1\ntouch PWNED"],
        "--env empty name": ["--env", "=1"],
        "--env no =": ["--env", "JUSTNAME"],
        "--partition with newline": ["--partition", "gpu\ntouch PWNED"],
        "--partition $(…)": ["--partition", "$(touch PWNED)"],
        "--account with `…`": ["--account", "`touch PWNED`"],
        "--account with newline": ["--account", "a\n#SBATCH --wrap=touch PWNED"],
        "--time with newline": ["--time", "1:00\ntouch PWNED"],
        "--sbatch-arg with newline": ["--sbatch-arg", "--qos=a\ntouch PWNED"],
        "--nodes 0": ["--nodes", "0"],
        "--nodes -1": ["--nodes", "-1"],
        "--gpus-per-node -1": ["--gpus-per-node", "-1"],
    }.items():
        cases.append(Case(2, f"run --backend slurm: {label}", with_spec(lambda d, e=extra: [*slurm, *e])))
    for label, extra in {
        "--gpus -1": ["--gpus", "-1"],
        "--gpus abc": ["--gpus", "abc"],
        "--gpus 0,0": ["--gpus", "0,0"],
        "--gpus 99999999999999999999": ["--gpus", "99999999999999999999"],
        "--env `…` value": ["--env", "A=`touch PWNED`"],
        "--image with newline": ["--image", "nvcr.io/x\n--privileged"],
        "--network host;rm": ["--network", "host; touch PWNED"],
        "--data-root /": ["--data-root", "/"],
        "--data-root /etc": ["--data-root", "/etc"],
        "--output-dir /": ["--output-dir", "/"],
    }.items():
        argv = slurm
        # a value that is quoted where it lands is harmless (the script shows it single-quoted); Slurm ignores
        # --network: taking either is right, so long as nothing leaks into the script unquoted
        fine = label in ("--env `…` value", "--network host;rm")
        cases.append(
            Case(
                10 if not fine else 2,
                f"run --dry-run: {label}",
                with_spec(lambda d, a=argv, e=extra: [*a, *e]),
                bad=not fine,
                check=quoted if fine else None,
            )
        )

    cases += mount_cases(slurm)

    sweep = ["sweep", "-e", "spec.yaml", "--backend", "local", "--out", "sw"]
    for label, extra in {
        "--trials 0": ["--trials", "0"],
        "--trials -5": ["--trials", "-5"],
        "--trials 10**30": ["--trials", "1" + "0" * 30],
        "--parallel -1": ["--trials", "2", "--parallel", "-1"],
        "--parallel 0": ["--trials", "2", "--parallel", "0"],
        "uniform:-inf:inf": ["--trials", "2", "--param", "train.optim.lr=uniform:-inf:inf"],
        "uniform:nan:1": ["--trials", "2", "--param", "train.optim.lr=uniform:nan:1"],
        "uniform:1:0": ["--trials", "2", "--param", "train.optim.lr=uniform:1:0"],
        "loguniform:0:1": ["--trials", "2", "--param", "train.optim.lr=loguniform:0:1"],
        "loguniform:-1:1": ["--trials", "2", "--param", "train.optim.lr=loguniform:-1:1"],
        "int:1.5:3": ["--trials", "2", "--param", "train.num_epochs=int:1.5:3"],
        "unknown distribution": ["--trials", "2", "--param", "train.optim.lr=gauss:0:1"],
        "unknown key": ["--trials", "2", "--param", "train.nope=uniform:0:1"],
        "no distribution": ["--trials", "2", "--param", "train.optim.lr"],
        "choice of nothing": ["--trials", "2", "--param", "train.optim.lr=choice:"],
    }.items():
        cases.append(Case(10, f"sweep: {label}", with_spec(lambda d, e=extra: [*sweep, *e])))

    def damaged_study(kind: str) -> Setup:
        def setup(d: Path) -> list[str]:
            write(d, "spec.yaml", good_spec(d))
            sw = d / "sw"
            sw.mkdir()
            if kind == "empty study.db":
                (sw / "study.db").write_bytes(b"")
            elif kind == "garbage study.db":
                (sw / "study.db").write_bytes(os.urandom(4096))
            elif kind == "study.db a folder":
                (sw / "study.db").mkdir()
            elif kind == "sweep.json garbage":
                (sw / "sweep.json").write_text("{{{")
            return ["sweep", "--out", str(sw), "status"]

        return setup

    for kind in [
        "empty study.db",
        "garbage study.db",
        "study.db a folder",
        "sweep.json garbage",
        "nothing there",
    ]:
        cases.append(Case(9, f"sweep status: {kind}", damaged_study(kind)))

    for label, run_id in {
        "'*'": "*",
        "'..'": "..",
        "'../../etc'": "../../etc",
        "empty": "",
        "newline": "a\nb",
        "ESC": "\x1b[2J",
        "4 KB": "x" * 4096,
        "'-1'": "-1",
        "'.'": ".",
    }.items():
        cases.append(Case(10, f"stop {label}", lambda d, r=run_id: ["stop", "--", r]))
        cases.append(Case(10, f"attach {label}", lambda d, r=run_id: ["attach", "--", r]))

    def registry(kind: str) -> Setup:
        def setup(d: Path) -> list[str]:
            from specgen.engine import registry as reg

            run_id = "20261124-101500-train-hstl"
            folder = reg.run_dir(run_id)
            folder.mkdir(parents=True)
            victim = write(d, "victim.txt", "the user's own file\n")
            record = {
                "run_id": run_id,
                "backend": "local",
                "action": "train",
                "spec_path": str(d / "s.yaml"),
                "results_dir": str(d / "results"),
                "started": "2026-11-24T10:15:00+00:00",
                "log_file": str(folder / "log.txt"),
                "exit_file": str(folder / "exit_code"),
            }
            (folder / "exit_code").write_text("0\n")
            (folder / "log.txt").write_text("hello\n")
            if kind == "log_file is the user's file":
                record["log_file"] = str(victim)
            elif kind == "log_file is /dev/zero":
                record["log_file"] = "/dev/zero"
            elif kind == "log_file is a FIFO":
                os.mkfifo(d / "fifo")
                record["log_file"] = str(d / "fifo")
            elif kind == "exit_file is /dev/zero":
                record["exit_file"] = "/dev/zero"
            elif kind == "exit_file is the user's file":
                record["exit_file"] = str(victim)
            elif kind == "run.json garbage":
                (folder / "run.json").write_text("{not json")
                return ["attach", run_id]
            elif kind == "run.json 20 MB":
                record["junk"] = "x" * 20_000_000
            elif kind == "run.json nested":
                (folder / "run.json").write_text("[" * 100_000 + "]" * 100_000)
                return ["attach", run_id]
            (folder / "run.json").write_text(json.dumps(record))
            return ["attach", run_id]

        return setup

    kinds = [
        "log_file is the user's file",
        "log_file is /dev/zero",
        "log_file is a FIFO",
        "exit_file is /dev/zero",
        "exit_file is the user's file",
        "run.json garbage",
        "run.json 20 MB",
        "run.json nested",
    ]
    for kind in kinds:
        cases.append(
            Case(
                9,
                f"attach: {kind}",
                registry(kind),
                bad=False,
                check=lambda d, rc, out: None,
                guard=["victim.txt"],
            )
        )
        cases.append(
            Case(
                9,
                f"runs: {kind}",
                lambda d, k=kind: [*registry(k)(d)[:0], "runs"],
                bad=False,
                guard=["victim.txt"],
            )
        )

    def secret_run(d: Path) -> list[str]:
        write(d, "spec.yaml", "results_dir: /tmp/x\ntrain:\n  num_epochs: many\n")
        return [
            "run",
            "train",
            "-e",
            "spec.yaml",
            "--backend",
            "docker",
            "--dry-run",
            "--env",
            f"NGC_API_KEY={SECRET}",
        ]

    def no_secret(d: Path, rc: int, out: str) -> str | None:
        leaked = [
            str(p) for p in d.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()[:1_000_000]
        ]
        return f"the secret is on disk: {leaked}" if leaked else None

    cases.append(Case(3, "run: a secret --env with a bad spec", secret_run, check=no_secret))
    cases.append(
        Case(
            3,
            "sweep: a secret --env",
            with_spec(lambda d: [*sweep, "--trials", "0", "--env", f"NGC_API_KEY={SECRET}"]),
            check=no_secret,
        )
    )

    def link_out(kind: str) -> Setup:
        def setup(d: Path) -> list[str]:
            data = sample_data(d)
            victim = write(d, "victim.txt", "the user's own file\n")
            out = d / "ann"
            if kind == "--out is a link to a file":
                os.symlink(victim, out)
            else:
                out.mkdir()
                name = {
                    "train.txt is a link": "train.txt",
                    "report is a link": "convert_report.json",
                    "lock is a link": ".depthnet.lock",
                }[kind]
                os.symlink(victim, out / name)
            base = [
                "convert",
                "--data-root",
                str(data),
                "--image-pattern",
                "rgb_",
                "--depth-pattern",
                "sync_depth_",
            ]
            return [*base, "--out", str(out), "--force"]

        return setup

    for kind in ["--out is a link to a file", "train.txt is a link", "report is a link", "lock is a link"]:
        cases.append(Case(1, f"convert: {kind}", link_out(kind), bad=False, guard=["victim.txt"]))
    return cases


def tui_cases() -> list[Case]:
    """Class 10: `depthnet-tui --resume` on files that are not a session."""

    def resume(kind: str) -> Setup:
        def setup(d: Path) -> list[str]:
            p = d / "out" / ".depthnet" / "session.json"
            p.parent.mkdir(parents=True)
            if kind == "fifo":
                os.mkfifo(p)
            elif kind == "huge":
                with open(p, "wb") as f:
                    f.truncate(2 << 30)
            elif kind == "nested":
                p.write_text("[" * 100_000 + "]" * 100_000)
            elif kind == "garbage":
                p.write_bytes(os.urandom(300))
            elif kind == "a list":
                p.write_text("[1, 2]")
            elif kind == "wrong types":
                p.write_text(json.dumps({"step": 5, "data_root": ["x"]}))
            return ["--tui", "--resume", str(d / "out")]

        return setup

    return [
        Case(10, f"depthnet-tui --resume: {k}", resume(k))
        for k in ["fifo", "huge", "nested", "garbage", "a list", "wrong types"]
    ]


def corpus() -> list[Case]:
    return [*yaml_cases(), *verdict_cases(), *display_cases(), *data_cases(), *run_cases(), *tui_cases()]


# ------------------------------------------------------------------------------------------------ running


def _child(case: Case, folder: Path, out_path: Path) -> None:
    """In the forked child: the case's own home, its output to a file (fd level: children's too), then the CLI."""
    for var in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        os.environ[var] = str(folder / "home" / var.lower())
    os.environ["DOCKER_HOST"] = "unix:///nonexistent/docker.sock"
    os.environ.pop("SWEEP_DIR", None)
    os.chdir(folder)
    fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        argv = case.setup(folder)
    except Exception as exc:  # the corpus itself is broken: say so, do not count it as the product's
        os.write(fd, f"SETUP FAILED: {exc!r}".encode())
        os._exit(99)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115
    sys.stdout = io.TextIOWrapper(open(1, "wb", closefd=False), encoding="utf-8", write_through=True)  # noqa: SIM115
    sys.stderr = io.TextIOWrapper(open(2, "wb", closefd=False), encoding="utf-8", write_through=True)  # noqa: SIM115
    spent = os.times()
    os.write(fd, b"\0START %.6f\0" % (spent.user + spent.system))  # the setup's CPU, not the answer's
    rc = 1
    try:
        if argv[:1] == ["--tui"]:
            from tui.app import main as tui_main

            sys.argv = ["depthnet-tui", *argv[1:]]
            tui_main()
            rc = 0
        else:
            from specgen.cli.main import main as cli_main

            sys.argv = ["depthnet", *argv]
            rc = cli_main(argv)
    except SystemExit as exc:
        rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        rc = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            pass
    os._exit(rc if 0 <= rc < 256 else 1)


def _snapshot(folder: Path, names: list[str]) -> dict[str, bytes | None]:
    out: dict[str, bytes | None] = {}
    for name in names:
        p = folder / name
        out[name] = p.read_bytes() if p.exists() and not p.is_symlink() else None
    return out


def run_case(case: Case, root: Path) -> Result:
    folder = Path(tempfile.mkdtemp(prefix="case-", dir=root))
    out_path = folder / ".output"
    pid = os.fork()
    if pid == 0:
        try:
            os.setpgid(0, 0)
            _child(case, folder, out_path)
        finally:
            os._exit(98)
    # the setup's time is not the answer's: the clock starts when the child says START
    start = time.monotonic()
    started = None
    status = None
    cpu = 0.0
    while True:
        got, status, usage = os.wait4(pid, os.WNOHANG)
        if got:
            cpu = usage.ru_utime + usage.ru_stime
            break
        if started is None and out_path.exists() and b"\0START " in out_path.read_bytes()[:64]:
            started = time.monotonic()
        if time.monotonic() - (started or start) > KILL:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)
            status = None
            cpu = KILL
            break
        time.sleep(0.01)
    took = time.monotonic() - (started or start)
    raw = out_path.read_bytes() if out_path.exists() else b""
    try:
        os.killpg(pid, signal.SIGKILL)  # anything the command left behind in its group
    except (ProcessLookupError, PermissionError):
        pass
    marker = re.search(rb"\0START ([0-9.]+)\0", raw[:64])
    if marker:
        cpu -= float(marker.group(1))
        raw = raw[marker.end() :]
    text = raw.decode("utf-8", errors="replace")
    rc = os.waitstatus_to_exitcode(status) if status is not None else None
    if rc == 99 and text.startswith("SETUP FAILED"):
        raise RuntimeError(f"{case.name}: {text}")
    why: list[str] = []
    outcome = judge(case, folder, rc, cpu, took, text, why)
    result = Result(case, outcome, round(took, 3), round(cpu, 3), rc, text, "; ".join(why))
    _remove(folder)
    return result


def judge(case: Case, folder: Path, rc: int | None, cpu: float, wall: float, out: str, why: list[str]) -> str:
    """The outcome (the module's docstring gives the order). Slowness is judged on the command's CPU time: on a
    shared machine the wall clock measures the neighbours too; a command that waits (a FIFO, a lock) is caught by
    the wall clock at ``WAIT`` and killed at ``KILL``."""
    if rc is None or cpu > LIMIT or wall > WAIT:
        return "hang"
    if "Traceback (most recent call last)" in out or "unexpected error" in out:
        return "traceback"
    for name in case.guard:
        p = folder / name
        if not p.is_file() or p.is_symlink() or p.read_bytes() != b"the user's own file\n":
            return "data lost"
    bad = FORBIDDEN.search(out)
    if bad:
        why.append(f"{bad.group(0)!a} printed")
        return "silent wrong"
    problem = case.check(folder, rc, out) if case.check else None
    if problem:
        why.append(problem)
        return "silent wrong"
    if rc == 0:
        if case.bad and case.check is None:
            why.append("accepted")
            return "silent wrong"
        return "handled"
    if rc < 0:  # killed by a signal: not an answer
        return "traceback"
    if not out.strip():
        return "silent wrong"  # a failure with no word of why
    return "clear error"


def _remove(folder: Path) -> None:
    def onerror(func, path, exc):  # type: ignore[no-untyped-def]
        try:
            os.chmod(path, stat.S_IRWXU)
            func(path)
        except OSError:
            pass

    shutil.rmtree(folder, onerror=onerror)


# ------------------------------------------------------------------------------------------------ the suite


def suite_rows() -> list[dict]:
    """Every test under tests/hostile/ (whoever wrote it) as one case: passed = handled, failed = what its report
    shows (a traceback from the product, a timeout, else a wrong answer)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.xml"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-n0",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:randomly",
                f"--junitxml={report}",
                str(HERE),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        import xml.etree.ElementTree as ET

        rows = []
        for tc in ET.parse(report).iter("testcase"):
            failure = tc.find("failure")
            error = tc.find("error")
            skipped = tc.find("skipped")
            if skipped is not None:
                continue
            bad = failure if failure is not None else error
            text = "" if bad is None else (bad.get("message") or "") + (bad.text or "")
            if bad is None:
                outcome = "handled"
            elif "Timeout" in text or "no answer within" in text:
                outcome = "hang"
            elif "unexpected error" in text or "traceback:" in text:
                outcome = "traceback"
            elif re.search(r"lost|overwrit|truncat", tc.get("name", "")):
                outcome = "data lost"
            else:
                outcome = "silent wrong"
            rows.append(
                {
                    "case": f"{tc.get('classname')}::{tc.get('name')}",
                    "outcome": outcome,
                    "seconds": float(tc.get("time") or 0),
                }
            )
        return rows


# ------------------------------------------------------------------------------------------------- report


def table(title: str, counts: collections.Counter[str], tried: int) -> str:
    head = ["tried", *OUTCOMES]
    cells = [str(tried), *(str(counts[o]) for o in OUTCOMES)]
    widths = [max(len(h), len(c)) for h, c in zip(head, cells, strict=True)]
    line = " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))
    values = " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))
    return f"{title}\n| {line} |\n|{'|'.join('-' * (w + 2) for w in widths)}|\n| {values} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", action="store_true", help="also run every test under tests/hostile/")
    parser.add_argument("--list", action="store_true", help="one line per case")
    parser.add_argument("-k", default="", help="only cases whose name holds this")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    import specgen.cli.main  # noqa: F401  (imported once, before the forks: each case's time is its own)
    import specgen.engine.verdict  # noqa: F401
    import specgen.spec.schema  # noqa: F401

    cases = [c for c in corpus() if args.k in c.name]
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="hostile-figures-") as tmp:
        for case in cases:
            results.append(run_case(case, Path(tmp)))
            if args.list:
                r = results[-1]
                print(
                    f"{r.case.cls:>2} {r.outcome:<13} {r.cpu:6.2f}s cpu {r.seconds:6.2f}s {r.case.name!a}",
                    flush=True,
                )
    counts = collections.Counter(r.outcome for r in results)
    print(
        table(f"issue #25 corpus: {len(results)} hostile inputs through the real CLI", counts, len(results))
    )
    by_class = collections.defaultdict(collections.Counter)
    for r in results:
        by_class[r.case.cls][r.outcome] += 1
    for cls in sorted(by_class):
        c = by_class[cls]
        print(
            f"  class {cls:>2}: {sum(c.values()):>3} tried  "
            + "  ".join(f"{o} {c[o]}" for o in OUTCOMES if c[o])
        )
    answered = [r for r in results if r.rc is not None]
    if answered:
        by_cpu = max(answered, key=lambda r: r.cpu)
        by_wall = max(answered, key=lambda r: r.seconds)
        print(
            f"slowest answer: {by_cpu.cpu:.2f} s CPU ({by_cpu.case.name!a}); {by_wall.seconds:.2f} s wall ({by_wall.case.name!a})"
        )
    broken = [r for r in results if r.outcome in ("traceback", "hang", "silent wrong", "data lost")]
    for r in broken:
        tail = [r.why] if r.why else r.out.strip().splitlines()[-1:] or ["(no output)"]
        print(
            f"  {r.outcome}: class {r.case.cls}: {r.case.name!a} (rc {r.rc}, {r.cpu:.2f} s CPU, {r.seconds:.2f} s wall): {tail[0][:160]!a}"
        )
    if args.suite:
        rows = suite_rows()
        suite_counts = collections.Counter(r["outcome"] for r in rows)
        print(table(f"tests/hostile/: {len(rows)} tests", suite_counts, len(rows)))
        for r in rows:
            if r["outcome"] != "handled":
                print(f"  {r['outcome']}: {r['case']}")
        broken += [r for r in rows if r["outcome"] != "handled"]  # type: ignore[misc]
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
