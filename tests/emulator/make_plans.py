"""Turn each capture in tests/fixtures/tao-7.3.0 (and tao-7.3.0-h200, as cases ``h200/<name>``) into a replay plan
for the shell emulator (tests/emulator/depth_net).

    python tests/emulator/make_plans.py          (tests/test_replay.py checks that the plans are current)

A plan line is ``<ms since start> <op> <args>``, sorted by time:
``c OFFSET LEN`` console bytes · ``s N`` status.json line N · ``t OFFSET LEN`` TensorBoard bytes ·
``f PATH`` an (empty) output file · ``l PATH TARGET`` a symlink · ``x CODE`` exit.
Console chunk times come from console.timing.tsv; status.json lines carry only a wall-clock second and TensorBoard
records their wall time, so both are placed on the console's clock through the TAO logger's timestamps
(``2026-11-25 17:46:48,439``) at known console times.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import struct
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "tao-7.3.0"
#: The second set (one H200, 2026-12-01): its cases are named ``h200/<case>``, their plans ``h200__<case>.plan``.
FIXTURES_H200 = FIXTURES.parent / "tao-7.3.0-h200"
H200 = "h200/"
PLANS = Path(__file__).resolve().parent / "plans"
CASES = (
    "train_healthy",
    "train_nan",
    "train_tb",
    "train_tty",
    "train_ddp2",
    "evaluate",
    "inference",
    "spec_error/misspelt_key",
    "spec_error/wrong_type",
    "spec_error/empty_mandatory_checkpoint",
)
CASES_H200 = tuple(
    H200 + name
    for name in (
        "c_rel_vitb_train",
        "c_eval_rel",
        "c_infer_nogt",
        "c_missing_file",
        "c_eval_wrong_encoder",
        "c_ft_rel_full_public",
        "c_ft_met_full_public",
        "c_ft_rel_backbone_dino",
    )
)


def case_dir(name: str) -> Path:
    """The capture folder of a case name (``h200/<case>`` → the H200 set)."""
    return FIXTURES_H200 / name[len(H200) :] if name.startswith(H200) else FIXTURES / name


STAMP = re.compile(rb"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) - \[TAO Toolkit\]")


def _chunks(case: Path) -> list[tuple[int, int, int]]:
    """(ms, offset, length) per chunk; the tty capture's file has no header and no offsets (they run on)."""
    out, offset = [], 0
    for row in (case / "console.timing.tsv").read_text().splitlines():
        cols = row.split()  # tab-separated (first set) or space-separated (the H200 set)
        if not cols[0][:1].isdigit():
            continue
        ms, n = round(float(cols[0]) * 1000), int(cols[-1])
        out.append((ms, int(cols[1]) if len(cols) == 3 else offset, n))
        offset = out[-1][1] + n
    return out


def _start_wallclock(case: Path, chunks: list[tuple[int, int, int]]) -> dt.datetime:
    """Wall-clock time of the run's start: the first TAO logger stamp minus when its chunk arrived."""
    data = (case / "console.log").read_bytes()
    m = STAMP.search(data)
    assert m, f"{case}: no TAO logger stamp"
    at = next(ms for ms, off, n in chunks if off <= m.start() < off + n)
    stamp = dt.datetime.strptime(m.group(1).decode() + f".{m.group(2).decode()}", "%Y-%m-%d %H:%M:%S.%f")
    return stamp - dt.timedelta(milliseconds=at)


def _status_ms(line: dict, start: dt.datetime) -> int:
    h, m, s = (int(x) for x in line["time"].split(":"))
    mo, d, y = (int(x) for x in line["date"].split("/"))
    when = dt.datetime(y, mo, d, h, m, s) + dt.timedelta(
        milliseconds=500
    )  # the line was written within that second
    return max(0, round((when - start).total_seconds() * 1000))


def _tb_records(path: Path) -> list[tuple[int, int, float]]:
    """(offset, length, wall time) of each record of an event file."""
    from specgen.engine.tensorboard import _fields

    data, pos, out = path.read_bytes(), 0, []
    while pos + 12 <= len(data):
        (n,) = struct.unpack("<Q", data[pos : pos + 8])
        body = data[pos + 12 : pos + 12 + n]
        wall = next(struct.unpack("<d", v)[0] for num, wire, v in _fields(body) if num == 1 and wire == 1)
        out.append((pos, 12 + n + 4, wall))
        pos += 12 + n + 4
    return out


def plan(name: str) -> str:
    case = case_dir(name)
    chunks = _chunks(case)
    start = _start_wallclock(case, chunks)
    ops: list[tuple[int, int, str]] = [(ms, 0, f"c {off} {n}") for ms, off, n in chunks]
    epoch_ms: dict[int, int] = {}
    if (case / "status.json").is_file():
        for i, raw in enumerate((case / "status.json").read_text().splitlines(), start=1):
            line = json.loads(raw)
            ms = _status_ms(line, start)
            ops.append((ms, 1, f"s {i}"))
            if "epoch" in line:
                epoch_ms[line["epoch"]] = ms
    for tb in sorted(case.glob("lightning_logs/version_*/events.out.tfevents.*")):
        utc = dt.datetime.fromtimestamp(0, dt.timezone.utc).replace(tzinfo=None)
        t0 = (start - utc).total_seconds()  # the capture machine's clock was UTC (the file name says so)
        for off, n, wall in _tb_records(tb):
            ops.append((max(0, round((wall - t0) * 1000)), 2, f"t {off} {n}"))
    rows = (case / "tree.txt").read_text().splitlines()
    if rows and not rows[0].startswith("#"):  # the tty capture's listing: "size ./train/name", links unmarked
        names = [r.split()[1].split("/", 2)[2] for r in rows if r.count("/") == 2 and r.endswith(".pth")]
        ckpts = sorted(n for n in names if n.startswith("model_epoch_"))
        rows = [f"f - /results/x/train/{n}" for n in ckpts]
        rows += [
            f"l - /results/x/train/{n} -> {ckpts[-1]}" for n in names if not n.startswith("model_epoch_")
        ]
    last_chunk = max(ms for ms, _, _ in ops)
    for row in rows:
        m = re.match(r"^([fl])\s+\S+\s+/results/[^/]+/[^/]+/(\S+)(?: -> (\S+))?$", row)
        if not m or not m.group(2).endswith(".pth"):
            continue
        epoch = re.search(r"model_epoch_(\d+)_", m.group(3) or m.group(2))
        # A checkpoint of an epoch with no epoch line is TAO's exception checkpoint (c_missing_file): at the end.
        at = epoch_ms.get(int(epoch.group(1)), last_chunk) if epoch else 0
        ops.append(
            (
                at,
                3 if m.group(1) == "f" else 4,
                f"f {m.group(2)}" if m.group(1) == "f" else f"l {m.group(2)} {m.group(3)}",
            )
        )
    end = max(ms for ms, _, _ in ops)
    ops.append((end, 9, f"x {(case / 'exit_code.txt').read_text().strip()}"))
    ops.sort(key=lambda o: (o[0], o[1]))
    set_name = FIXTURES_H200.name if name.startswith(H200) else FIXTURES.name
    header = f"# {name}: replay plan made by tests/emulator/make_plans.py from tests/fixtures/{set_name}\n"
    said = re.search(rb"results will be saved at: (\S+)", (case / "console.log").read_bytes())
    res = (
        said.group(1).decode() if said else ""
    )  # the console's own path (train_tb's capture ran in train_pty's)
    return header + f"# results {res}\n" + "".join(f"{ms} {op}\n" for ms, _, op in ops)


def main() -> int:
    PLANS.mkdir(exist_ok=True)
    for name in CASES + CASES_H200:
        (PLANS / (name.replace("/", "__") + ".plan")).write_text(plan(name))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    sys.exit(main())
