"""Hostile-but-realistic input against every entry point: every case must get a clear error, quickly — no traceback,
no hang, nothing lost. ``hostile_cli`` runs the real ``depthnet`` with a time limit and checks the answer's shape;
with HOSTILE_RECORD set it also appends each outcome to that file (``python tests/hostile/figures.py`` prints the
totals)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastcli import DEPTHNET
from hypothesis import given, settings
from hypothesis import strategies as st

from specgen.engine.logparse import LogParser
from specgen.engine.status import StatusReader
from specgen.engine.verdict import RunFacts, judge_facts
from specgen.spec.render import SpecFileError, parse_yaml

LIMIT = 20.0  # seconds a case may take; more is a hang


def record(case: str, outcome: str, seconds: float) -> None:
    path = os.environ.get("HOSTILE_RECORD")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"case": case, "outcome": outcome, "seconds": round(seconds, 3)}) + "\n")


@pytest.fixture()
def hostile_cli(tmp_path, request):
    def run(
        *args: str,
        expect: tuple[int, ...] = (1, 2),
        says: str | tuple[str, ...] = (),
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        t0 = time.monotonic()
        try:
            done = subprocess.run(
                [*DEPTHNET, *args],
                capture_output=True,
                text=True,
                cwd=cwd or tmp_path,
                timeout=LIMIT,
                env={**os.environ, **(env or {})},
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            record(request.node.name, "hang", time.monotonic() - t0)
            pytest.fail(f"depthnet {' '.join(args)}: no answer within {LIMIT} s")
        took = time.monotonic() - t0
        out = done.stdout + done.stderr
        if "Traceback" in out:
            record(request.node.name, "traceback", took)
            pytest.fail(f"traceback:\n{out[-3000:]}")
        wanted = (says,) if isinstance(says, str) else says
        ok = (
            done.returncode in expect
            and all(w in out for w in wanted)
            and (done.returncode == 0 or out.strip() != "")
        )
        record(request.node.name, "clear" if ok else "unclear", took)
        assert ok, (done.returncode, out[-3000:])
        return done

    return run


# ----------------------------------------------------------------------------------------------------- YAML

BOMB = "a: &a [1,1,1,1,1,1,1,1,1]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(9)
)
YAML_CASES = {
    "alias_bomb": (BOMB, "alias bomb"),
    "deep_nesting": ("a: " + "[" * 3000 + "]" * 3000 + "\n", "nesting deeper than 64 levels"),
    "duplicate_key": ("train:\n  num_epochs: 2\n  num_epochs: 3\n", "duplicate key 'num_epochs'"),
    "huge_int": ("train:\n  num_epochs: " + "9" * 6000 + "\n", "6000 digits"),
    "inf_lr": ("train:\n  optim:\n    lr: .inf\n", "train.optim.lr"),
    "nan_lr": ("train:\n  optim:\n    lr: .nan\n", "train.optim.lr"),
    "yes_as_int": ("train:\n  num_epochs: yes\n", "yes/no, not a number"),
    "top_level_list": ("- a\n- b\n", "top level must be a mapping"),
    "tab_indent": ("train:\n\tnum_epochs: 2\n", "fix the YAML syntax"),
    "binary": ("\x00\x01\x02garbage\xff", "depthnet:"),
    "unknown_key": ("train:\n  num_epoch: 2\n", "num_epochs"),
}


@pytest.mark.parametrize("name", list(YAML_CASES))
def test_bad_yaml_is_refused_clearly(name, hostile_cli, tmp_path):
    text, says = YAML_CASES[name]
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(text, encoding="utf-8", errors="surrogateescape")
    hostile_cli("validate", str(spec), says=says)  # a hang fails there (LIMIT); the time goes to figures.py


def test_huge_spec_file_is_refused_without_reading_it(hostile_cli, tmp_path):
    spec = tmp_path / "huge.yaml"
    with open(spec, "wb") as f:
        f.truncate(50 << 20)  # 50 MB (sparse)
    hostile_cli("validate", str(spec), says="a spec is a few KB")


def test_non_utf8_spec(hostile_cli, tmp_path):
    spec = tmp_path / "latin1.yaml"
    spec.write_bytes("results_dir: /tmp/r\u00e9sultats\n".encode("latin-1"))
    hostile_cli("validate", str(spec), says="UTF-8")


@pytest.mark.parametrize("kind", ["fifo", "folder", "parent_is_file"])
def test_spec_that_is_not_a_file(kind, hostile_cli, tmp_path):
    path = tmp_path / "spec.yaml"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    else:
        (tmp_path / "file").write_text("x")
        path = tmp_path / "file" / "spec.yaml"
    hostile_cli("validate", str(path), says=str(path))


@settings(max_examples=150, deadline=2000)
@given(st.text(max_size=400))
def test_any_text_parses_or_is_refused(text):
    try:
        parse_yaml(text, "fuzz")
    except SpecFileError as exc:
        assert str(exc).startswith("fuzz")


def test_spec_output_where_a_folder_is_a_file(hostile_cli, tmp_path):
    (tmp_path / "blocker").write_text("x")
    hostile_cli(
        "spec",
        "export",
        "--results-dir",
        str(tmp_path / "r"),
        "--checkpoint",
        "/x.pth",
        "-o",
        str(tmp_path / "blocker" / "export.yaml"),
        says="blocker",
    )


# ----------------------------------------------------------------------------------------------------- run records


def _runs_home(tmp_path: Path) -> Path:
    return Path(os.environ["XDG_DATA_HOME"]) / "depthnet-tui" / "runs"


@pytest.mark.parametrize(
    "content",
    [
        b'{"run_id": "x", "backend": "lo',
        b"\xff\xfe\x00garbage",
        b'["not", "a", "record"]',
        b'{"run_id": 5}',
        b"fifo",
    ],
)
def test_damaged_run_record(content, hostile_cli, tmp_path):
    folder = _runs_home(tmp_path) / "20260101-000000-train-dead"
    folder.mkdir(parents=True)
    if content == b"fifo":
        os.mkfifo(folder / "run.json")
    else:
        (folder / "run.json").write_bytes(content)
    hostile_cli("attach", "20260101-000000-train-dead", says="run.json")
    hostile_cli("stop", "20260101-000000-train-dead", says="run.json")
    done = hostile_cli("runs", expect=(0,))
    assert "dead" not in done.stdout  # skipped in the listing, named by attach/stop


def _record(tmp_path: Path, **fields) -> str:
    run_id = "20260101-000000-train-beef"
    folder = _runs_home(tmp_path) / run_id
    folder.mkdir(parents=True)
    record = {
        "run_id": run_id,
        "backend": "local",
        "action": "train",
        "spec_path": "/x.yaml",
        "results_dir": str(tmp_path / "r"),
        "started": "2026-01-01T00:00:00+00:00",
        **fields,
    }
    (folder / "run.json").write_text(json.dumps(record))
    return run_id


@pytest.mark.parametrize("pid", [0, 1, -5])
def test_stop_never_signals_pid_1_or_less(pid, hostile_cli, tmp_path):
    run_id = _record(tmp_path, pid=pid, pid_start=1)
    hostile_cli("stop", run_id, says="not running")


def test_stop_never_signals_a_reused_pid(hostile_cli, tmp_path):
    """run.json names a live process that is not ours (started later, another start time): it is left alone."""
    victim = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        run_id = _record(tmp_path, pid=victim.pid, pid_start=12345)
        hostile_cli("stop", run_id, says="left alone")
        time.sleep(0.2)
        assert victim.poll() is None
    finally:
        victim.kill()
        victim.wait()


def test_stop_refuses_a_finished_run(hostile_cli, tmp_path):
    run_id = _record(tmp_path, pid=os.getpid(), pid_start=1, verdict={"passed": True, "reason": "done"})
    hostile_cli("stop", run_id, says="already finished")


# ----------------------------------------------------------------------------------------------------- mounts


@pytest.fixture()
def project(tmp_path, depth_net_on_path):
    from runkit import make_project

    return make_project(tmp_path)


@pytest.mark.parametrize("where", ["/", "/etc", "/usr/lib", "home", "dotdot", "symlink"])
def test_results_folder_may_not_be_a_system_folder(where, project, hostile_cli, tmp_path):
    spec = project.spec("train", "train.yaml")
    target = {
        "/": "/",
        "/etc": "/etc",
        "/usr/lib": "/usr/lib",
        "home": os.path.expanduser("~"),
        "dotdot": str(tmp_path / ".." / ".." / ".." / ".." / ".." / "etc"),
    }.get(where)
    if where == "symlink":
        (tmp_path / "link").symlink_to("/etc")
        target = str(tmp_path / "link")
    text = spec.read_text().replace(f"results_dir: {project.out / 'results'}", f"results_dir: {target}")
    spec.write_text(text)
    hostile_cli(
        "run", "train", "-e", str(spec), "--backend", "local", "--output-dir", target, says="refusing it"
    )


def test_annotation_line_outside_the_data_roots(project, hostile_cli):
    ann = project.out / "ann" / "train.txt"
    ann.write_text(ann.read_text() + "/etc/hostname /etc/hosts\n")
    spec = project.spec("train", "train.yaml")
    hostile_cli(
        "run",
        "train",
        "-e",
        str(spec),
        "--backend",
        "script",  # a container's mounts (a local run reads what you can read: issue 22, item 6)
        "--data-root",
        str(project.data),
        says=("outside the data roots", "line "),
    )


def test_one_run_per_results_folder(project, hostile_cli):
    spec = project.spec("train", "train.yaml")
    first = hostile_cli(
        "run",
        "train",
        "-e",
        str(spec),
        "--backend",
        "local",
        "--detach",
        "--env",
        "EMU_SPEED=0.3",
        expect=(0,),
    )
    run_id = first.stdout.strip()
    second = hostile_cli(
        "run", "train", "-e", str(spec), "--backend", "local", "--force", says="in use by run"
    )
    assert run_id in second.stderr
    hostile_cli("stop", run_id, expect=(0,))
    hostile_cli(
        "run",
        "train",
        "-e",
        str(spec),
        "--backend",
        "local",
        "--force",
        "--env",
        "EMU_SPEED=0.001",
        expect=(0,),
    )  # the folder is free again once the run has gone


def test_script_backend_keeps_env_private(project, hostile_cli):
    spec = project.spec("train", "train.yaml")
    done = hostile_cli(
        "run", "train", "-e", str(spec), "--backend", "script", "--env", "NGC_TOKEN=s3cr3t-value", expect=(0,)
    )
    assert "s3cr3t-value" not in done.stdout + done.stderr
    script = Path(done.stdout.split("wrote ", 1)[1].split(";")[0])
    assert script.stat().st_mode & 0o777 == 0o700
    # the value stays in memory: run.sh names the variable and passes it from the environment it runs in
    assert "s3cr3t-value" not in script.read_text() and "NGC_TOKEN" in script.read_text().splitlines()[2]


def test_ctrl_c_of_the_cli_leaves_the_run_going(project):
    spec = project.spec("train", "train.yaml")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "specgen.cli",
            "run",
            "train",
            "-e",
            str(spec),
            "--backend",
            "local",
            "--env",
            "EMU_SPEED=0.2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = proc.stdout.readline()  # the run's first console line, relayed: the CLI is following it
    assert first, proc.stderr.read()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130 and "goes on" in err and "depthnet attach" in err and "Traceback" not in err
    run_id = err.split("run ", 1)[1].split()[0]
    stop = subprocess.run([*DEPTHNET, "stop", run_id], capture_output=True, text=True, timeout=30)
    assert stop.returncode == 0  # it was still running


# ----------------------------------------------------------------------------------------------------- verdict


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_any_non_finite_loss_anywhere_fails_the_run(token, tmp_path):
    lines = [
        {"epoch": 0, "step": 1, "max_epoch": 1, "max_step": 2, "kpi": {"train_loss": "X"}},
        {"epoch": 1, "step": 2, "max_epoch": 1, "max_step": 2, "kpi": {"train_loss": 0.5, "val/loss": 0.4}},
    ]
    text = "\n".join(json.dumps(line) for line in lines).replace('"X"', token) + "\n"
    (tmp_path / "status.json").write_text(text)
    facts = RunFacts()
    from specgen.engine.events import StatusLine

    for data in StatusReader(tmp_path / "status.json").read_new():
        facts.add(StatusLine(data=data))
    v = judge_facts("train", facts, 0, tao_status="PASS", interrupted=False, hint=None, missing=None)
    assert (
        not v.passed and v.nan and "although TAO printed PASS" in v.reason
    )  # later finite values change nothing


def test_garbage_status_json_gives_a_clear_verdict(hostile_cli, tmp_path):
    folder = tmp_path / "train"
    folder.mkdir()
    (folder / "status.json").write_bytes(
        b"\x00\xff{{{\n" + b"x" * 3_000_000 + b'\n{"epoch": "zero"}\n[1,2]\n'
    )
    hostile_cli("verdict", str(folder), says="FAIL")


# ----------------------------------------------------------------------------------------------------- console


def test_a_60k_line_parses_in_linear_time():
    parser = LogParser()
    t0 = time.perf_counter()
    events = parser.feed("Train results will be saved at: " + "a" * 60_000 + " " + "(" * 60_000 + "\n")
    events += parser.feed("│ " + "x" * 60_000 + " │\n" + "Epoch 1/1 " + "━" * 60_000 + " 1/1 " + "\n")
    events += parser.flush()
    assert time.perf_counter() - t0 < 1.0 and events


def test_an_endless_line_keeps_memory_bounded():
    import tracemalloc

    parser = LogParser()
    tracemalloc.start()
    for _ in range(200):  # 200 MB without a newline
        parser.feed("z" * (1 << 20))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 << 20


@settings(max_examples=200, deadline=1000)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=300), max_size=20))
def test_console_chunks_never_break_the_parser(chunks):
    parser = LogParser()
    for chunk in chunks:
        parser.feed(chunk)
    parser.flush()


def test_control_bytes_never_reach_the_terminal(hostile_cli, tmp_path):
    from specgen.engine.logparse import display

    shown = display("\x1b[2J\x1b]0;pwned\x07hello\x1b[31mred\x1b[0m\x08\x07")
    assert shown == "hellored␈␇" and "\x1b" not in shown  # colours dropped, other controls shown inert


def test_status_json_growing_by_100_mb_keeps_the_monitor_small(tmp_path):
    line = (
        json.dumps({"epoch": 0, "step": 1, "kpi": {"train_loss": 0.5, "val/loss": 0.4, "pad": "p" * 900}})
        + "\n"
    )
    path = tmp_path / "status.json"
    with open(path, "w") as f:
        f.write(line * ((100 << 20) // len(line)))
    code = (
        f"from specgen.engine.status import StatusReader, drain\n"
        f"from specgen.engine.verdict import RunFacts\nfrom specgen.engine.events import StatusLine\n"
        f"facts = RunFacts()\nn = 0\nfor batch in drain(StatusReader({str(path)!r})):\n"
        f"    for d in batch:\n        facts.add(StatusLine(data=d)); n += 1\n"
        f"hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
        f"print(n, int(hwm) // 1024)\n"
    )  # VmHWM: this program's peak (ru_maxrss would count the forked parent)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    lines, rss_mib = (int(x) for x in done.stdout.split())
    assert lines > 100_000 and rss_mib < 100, (lines, rss_mib)


# ----------------------------------------------------------------------------------------------------- data


def _tree(tmp_path: Path) -> Path:
    from depthgen import sample_dataset

    return sample_dataset(tmp_path / "data", per_scene=2)


def test_fifo_in_the_data_tree_is_skipped_and_never_opened(hostile_cli, tmp_path):
    data = _tree(tmp_path)
    scene = next(p for p in data.iterdir() if p.is_dir())
    os.mkfifo(scene / "rgb_99999.jpg")
    os.mkfifo(scene / "sync_depth_99999.png")
    done = hostile_cli(
        "convert",
        "--data-root",
        str(data),
        "--image-pattern",
        "rgb",
        "--depth-pattern",
        "sync_depth",
        "--out",
        str(tmp_path / "ann"),
        expect=(0,),
    )
    assert (
        "99999"
        not in (tmp_path / "ann" / "train.txt").read_text() + (tmp_path / "ann" / "val.txt").read_text()
    )
    ann = tmp_path / "fifo.txt"
    ann.write_text(f"{scene / 'rgb_99999.jpg'} {scene / 'sync_depth_99999.png'}\n")
    hostile_cli("doctor", "--data-file", str(ann), "--dataset-name", "NYUDV2", says="not a regular file")
    assert done.returncode == 0


@pytest.mark.parametrize("damage", ["zero_bytes", "truncated", "bomb"])
def test_broken_images_are_errors_not_healthy(damage, hostile_cli, tmp_path):
    data = _tree(tmp_path)
    hostile_cli(
        "convert",
        "--data-root",
        str(data),
        "--image-pattern",
        "rgb",
        "--depth-pattern",
        "sync_depth",
        "--split-ratio",
        "1.0",
        "--out",
        str(tmp_path / "ann"),
        expect=(0,),
    )
    ann = tmp_path / "ann" / "test.txt"
    depth = Path(ann.read_text().split()[1])
    if damage == "zero_bytes":
        depth.write_bytes(b"")
    elif damage == "truncated":
        depth.write_bytes(depth.read_bytes()[:200])
    else:  # a PNG header declaring 60000×60000 pixels
        import struct
        import zlib

        ihdr = struct.pack(">IIBBBBB", 60000, 60000, 16, 0, 0, 0, 0)
        chunk = b"IHDR" + ihdr
        depth.write_bytes(
            b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
        )
    hostile_cli(
        "doctor",
        "--data-file",
        str(ann),
        "--dataset-name",
        "NYUDV2",
        "--sample",
        "64",
        expect=(1,),
        says=str(depth),
    )


def test_empty_annotation_file_is_an_error(hostile_cli, tmp_path):
    ann = tmp_path / "train.txt"
    ann.write_text("")
    hostile_cli(
        "doctor", "--data-file", str(ann), "--dataset-name", "NYUDV2", expect=(1,), says="lists no image"
    )


def test_convert_force_writes_the_set_as_one_unit(tmp_path):
    """SIGKILL at random moments of a rewrite: the folder always holds one generation's files, and the next write
    leaves no temporary folder behind."""
    out = tmp_path / "ann"
    code = (
        "import sys\nfrom specgen.spec.atomicio import write_set\n"
        "g = sys.argv[1]\nwrite_set(sys.argv[2], {n: (g + '\\n') * 200_000 for n in "
        "('train.txt', 'val.txt', 'convert_report.json', 'convert_spec.yaml')}, drop=('test.txt',))\n"
    )
    subprocess.run([sys.executable, "-c", code, "gen0", str(out)], check=True, timeout=60)
    import random

    rng = random.Random(7)
    for gen in range(1, 13):
        proc = subprocess.Popen([sys.executable, "-c", code, f"gen{gen}", str(out)])
        time.sleep(rng.uniform(0.05, 0.4))
        proc.kill()
        proc.wait()
        firsts = {
            (out / n).read_text().split("\n", 1)[0]
            for n in ("train.txt", "val.txt", "convert_report.json", "convert_spec.yaml")
        }
        assert len(firsts) == 1, firsts  # never a mix of generations
    subprocess.run([sys.executable, "-c", code, "final", str(out)], check=True, timeout=60)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
