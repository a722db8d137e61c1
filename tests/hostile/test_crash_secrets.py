"""Issue #25, class 3 (crash reports): the file users are told to attach carries no secret, and only they can read it.

A real ``depthnet run`` crashes on purpose (the launch raises an unexpected error quoting a secret) with secrets on the
command line — ``--env K=V``, ``--env=K=V``, a ``*PASSWORD*=`` word, an Authorization header, an NGC-looking key — and
in the environment; the report must hold none of them, and be 0600 in a 0700 folder."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from specgen.engine.crash import MASK, redact_argv, report_text

SECRETS = {
    "ngc": "nvapi-Zq7wKx3LmP9rT2vB8nY4cD6fG1hJ5kS0",
    "hf": "hf_QwErTyUiOpAsDfGhJkLzXcVbNm1234",
    "plain": "s3cr3t-value-of-a-plain-env",
    "password": "hunter2-but-longer",
    "bearer": "eyJhbGciOiJIUzI1NiJ9-bearer-token",
    "env_only": "only-in-the-environment-42",
    "legacy_ngc": "bXlrZXlpc3ZlcnlzZWNyZXRhbmRsb25nZXJ0aGFuNDBjaGFyczEyMzQ1Njc4OTA",
}

CRASH = (
    "import sys\n"
    "import specgen.engine.launch as launch\n"
    "def boom(*a, **k):\n"
    "    raise RuntimeError('launch failed for key ' + sys.argv[8].split('=', 1)[1] + ' and env '\n"
    "                       + __import__('os').environ['MY_SERVICE_TOKEN'])\n"
    "launch.prepare = boom\n"
    "from specgen.cli.main import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def test_a_crash_report_holds_no_secret_and_is_private(tmp_path):
    state = tmp_path / "state"
    spec = tmp_path / "train.yaml"
    spec.write_text("results_dir: /tmp/r\n")
    argv = [
        "run",
        "train",
        "-e",
        str(spec),
        "--backend",
        "local",
        "--env",
        f"NGC_API_KEY={SECRETS['ngc']}",
        f"--env=HF_TOKEN={SECRETS['hf']}",
        "--env",
        f"PLAIN={SECRETS['plain']}",
        "--env",
        f"DB_PASSWORD={SECRETS['password']}",
        "--env",
        f"HEADER=Authorization: Bearer {SECRETS['bearer']}",
        "--env",
        f"OLD={SECRETS['legacy_ngc']}",
    ]
    done = subprocess.run(
        [sys.executable, "-c", CRASH, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "XDG_STATE_HOME": str(state), "MY_SERVICE_TOKEN": SECRETS["env_only"]},
    )
    assert done.returncode == 1 and "unexpected error: RuntimeError" in done.stderr, done.stderr
    shown = done.stdout + done.stderr
    (report,) = (state / "depthnet-tui" / "crashes").iterdir()
    text = report.read_text()
    assert "Traceback" in text and "launch failed for key" in text
    for name, secret in SECRETS.items():
        assert secret not in text, name
        assert secret not in shown, name  # the one line on screen quotes the error: scrubbed as well
    assert "NGC_API_KEY=***" in text and "--env=HF_TOKEN=***" in text and "PLAIN=***" in text
    assert "MY_SERVICE_TOKEN" not in text  # the environment is never dumped
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    assert stat.S_IMODE(report.parent.stat().st_mode) == 0o700


def test_a_planted_link_is_never_followed(tmp_path, monkeypatch):
    """A link at the report's name (another user guessing the pid and second) is not written through."""
    import time

    from specgen.engine import crash

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    folder = tmp_path / "state" / "depthnet-tui" / "crashes"
    folder.mkdir(parents=True)
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    (folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt").symlink_to(victim)
    path = crash.save_report(RuntimeError("x"), "test")
    assert victim.read_text() == "keep me"
    assert path is None or not path.is_symlink()


def test_argv_shapes_are_masked():
    masked = redact_argv(
        [
            "depthnet",
            "sweep",
            "--env",
            "A=1234",
            "--env=B=abcd",
            "X_SECRET=zzzz",
            "--api-key",
            "kkkk",
            "--seed",
            "7",
        ]
    )
    assert masked == [
        "depthnet",
        "sweep",
        "--env",
        f"A={MASK}",
        f"--env=B={MASK}",
        f"X_SECRET={MASK}",
        "--api-key",
        MASK,
        "--seed",
        "7",
    ]


@settings(max_examples=200, deadline=None)
@given(
    name=st.from_regex(r"[A-Z][A-Z0-9_]{0,12}", fullmatch=True),
    value=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=4, max_size=60),
    form=st.sampled_from(["split", "joined"]),
)
def test_any_env_value_never_reaches_the_report(name, value, form):
    argv = [
        "depthnet",
        "run",
        "train",
        *(["--env", f"{name}={value}"] if form == "split" else [f"--env={name}={value}"]),
    ]
    try:
        raise ValueError(f"quoted: {value}")
    except ValueError as exc:
        text = report_text(exc, "fuzz", argv, {})
    assert f"quoted: {value}" not in text
    assert value not in text.splitlines()[1]  # the command line


def test_report_files_are_private_by_default(tmp_path, monkeypatch):
    from specgen.engine import crash

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "s"))
    old = os.umask(0)
    try:
        path = crash.save_report(RuntimeError("x"), "test")
    finally:
        os.umask(old)
    assert path is not None and stat.S_IMODE(Path(path).stat().st_mode) == 0o600
