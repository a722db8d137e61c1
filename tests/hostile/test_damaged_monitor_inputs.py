"""Issue #25, class 6: damaged files the monitor reads never take the verdict away.

A TensorBoard event file (the real fixture's, damaged: an absurd record length, a 2 GB length prefix, a length off by
one, a wrong wire type, a truncated varint, a bad CRC, random bytes, random mutations) and status.json lines (huge
numbers, deep nesting, 10 MB lines) are read by ``run``, ``attach`` and ``verdict``: what cannot be read is skipped
and counted, nothing larger than the file is allocated, a damaged record never yields a wrong scalar, and
``depthnet verdict`` always answers."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from fastcli import DEPTHNET
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specgen.engine.status import StatusReader
from specgen.engine.tensorboard import EventDirReader, EventFileReader, masked_crc

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "tao-7.3.0"
EVENT_FILES = sorted(FIXTURES.glob("*/lightning_logs/*/events.out.tfevents.*"))


def records(data: bytes) -> list[tuple[int, int]]:
    """(offset, data length) of each record of a sound event file."""
    out, pos = [], 0
    while pos + 12 <= len(data):
        (n,) = struct.unpack_from("<Q", data, pos)
        out.append((pos, n))
        pos += 16 + n
    return out


def with_length(data: bytes, index: int, length: int, *, fix_crc: bool) -> bytes:
    """Record ``index`` claiming ``length`` bytes (its header CRC recomputed when ``fix_crc``)."""
    pos, _ = records(data)[index]
    head = struct.pack("<Q", length)
    crc = struct.pack("<I", masked_crc(head)) if fix_crc else data[pos + 8 : pos + 12]
    return data[:pos] + head + crc + data[pos + 12 :]


def with_body(data: bytes, index: int, body: bytes) -> bytes:
    """Record ``index`` carrying ``body`` instead, framed with sound CRCs (a writer that wrote nonsense)."""
    pos, n = records(data)[index]
    head = struct.pack("<Q", len(body))
    frame = head + struct.pack("<I", masked_crc(head)) + body + struct.pack("<I", masked_crc(body))
    return data[:pos] + frame + data[pos + 16 + n :]


def scalar_record_index(data: bytes) -> int:
    """A record that carries a scalar (the first is the file-version event)."""
    return 3


SOUND_PATH = next(iter(sorted((FIXTURES / "train_tb").glob("lightning_logs/*/events.out.tfevents.*"))), None)
SOUND = SOUND_PATH.read_bytes() if SOUND_PATH else b""


def damaged(kind: str) -> bytes:
    i = scalar_record_index(SOUND)
    pos, n = records(SOUND)[i]
    if kind == "absurd_length":
        return with_length(SOUND, i, 2**64 - 1, fix_crc=False)
    if kind == "absurd_length_crc_ok":
        return with_length(SOUND, i, 2**63 + 5, fix_crc=True)
    if kind == "two_gb_prefix":
        return with_length(SOUND, i, 2**31, fix_crc=True)
    if kind == "length_plus_one":
        return with_length(SOUND, i, n + 1, fix_crc=False)
    if kind == "length_minus_one":
        return with_length(SOUND, i, n - 1, fix_crc=True)
    if kind == "wrong_wire_type":
        return with_body(SOUND, i, b"\x0b\x01\x02")  # field 1, wire type 3 (a group)
    if kind == "wire_type_mismatch":
        # a summary value whose tensor field (8) is a varint, and whose float_val is a varint too
        value = b"\x0a\x04loss" + b"\x40\x05"
        summary = b"\x0a" + bytes([len(value)]) + value
        return with_body(SOUND, i, b"\x10\x07" + b"\x2a" + bytes([len(summary)]) + summary)
    if kind == "tensor_varints":
        tensor = b"\x28\x05\x20\x07"  # float_val (5) and tensor_content (4) as varints
        value = b"\x0a\x04loss\x42" + bytes([len(tensor)]) + tensor
        summary = b"\x0a" + bytes([len(value)]) + value
        return with_body(SOUND, i, b"\x10\x07" + b"\x2a" + bytes([len(summary)]) + summary)
    if kind == "truncated_varint":
        return with_body(SOUND, i, b"\x10\xff\xff\xff")
    if kind == "bad_data_crc":
        return SOUND[: pos + 12 + n] + b"\x00\x00\x00\x00" + SOUND[pos + 16 + n :]
    if kind == "bad_data_crc_flipped_value":
        body = bytearray(SOUND[pos + 12 : pos + 12 + n])
        body[-1] ^= 0x40  # the float's last byte: a different loss, the old CRC
        return SOUND[: pos + 12] + bytes(body) + SOUND[pos + 12 + n :]
    if kind == "garbage_middle":
        return SOUND[:pos] + bytes(range(256)) * 8 + SOUND[pos:]
    if kind == "truncated_tail":
        return SOUND[: len(SOUND) - 7]
    if kind == "only_zeros":
        return b"\x00" * 4096
    raise AssertionError(kind)


KINDS = [
    "absurd_length",
    "absurd_length_crc_ok",
    "two_gb_prefix",
    "length_plus_one",
    "length_minus_one",
    "wrong_wire_type",
    "wire_type_mismatch",
    "tensor_varints",
    "truncated_varint",
    "bad_data_crc",
    "bad_data_crc_flipped_value",
    "garbage_middle",
    "truncated_tail",
    "only_zeros",
]

pytestmark = pytest.mark.skipif(SOUND_PATH is None, reason="the fixture event files are missing")


@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_event_file_is_read_around(kind, tmp_path):
    path = tmp_path / "events.out.tfevents.1.x.1.0"
    path.write_bytes(damaged(kind))
    sound = EventFileReader(SOUND_PATH).read_new()
    reader = EventFileReader(path)
    got = reader.read_new()
    assert all(s in sound for s in got)  # never a scalar the file did not hold
    waits = (
        "truncated_tail",
        "length_minus_one",
        "absurd_length_crc_ok",
        "two_gb_prefix",
    )  # as a growing file
    ignored = ("wire_type_mismatch", "tensor_varints")  # well-formed, fields of the wrong type: not a scalar
    if kind not in waits + ignored:
        assert reader.corrupt >= 1
    assert not any(s.tag == "loss" for s in got)
    if kind in ("bad_data_crc", "bad_data_crc_flipped_value", "wrong_wire_type", "truncated_varint"):
        assert len(got) >= len(sound) - 3  # one record lost, the rest read (framing intact)
    if kind in ("absurd_length", "length_plus_one", "garbage_middle"):
        assert len(got) >= len(sound) - 3  # resynchronised on the next sound header
    assert reader.read_new() == []  # and a second look neither re-reads nor raises


def test_a_huge_record_is_never_read_into_memory(tmp_path):
    """A header declaring 2 GB with a sound CRC, and the file holding them (sparse): stepped over, not read."""
    import tracemalloc

    path = tmp_path / "events.out.tfevents.1.x.1.0"
    head = struct.pack("<Q", 2**31)
    with open(path, "wb") as f:
        f.write(SOUND)
        f.write(head + struct.pack("<I", masked_crc(head)))
        f.seek(2**31 + 4, 1)
        f.write(SOUND)
    tracemalloc.start()
    got = EventFileReader(path).read_new()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    sound = EventFileReader(SOUND_PATH).read_new()
    assert got == sound + sound and peak < 64 << 20


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.integers(0, max(0, len(EVENT_FILES) - 1)),
    edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=8),
    cut=st.floats(0, 1),
    insert=st.binary(max_size=64),
    at=st.floats(0, 1),
)
def test_any_mutation_of_a_real_event_file_is_read_without_error(
    which, edits, cut, insert, at, tmp_path_factory
):
    data = bytearray(EVENT_FILES[which].read_bytes())
    for where, byte in edits:
        data[min(len(data) - 1, int(where * len(data)))] = byte
    pos = int(at * len(data))
    data = data[:pos] + insert + data[pos:]
    data = data[: max(1, int(cut * len(data) * 1.2))]
    path = tmp_path_factory.mktemp("tb") / "events.out.tfevents.1.x.1.0"
    path.write_bytes(bytes(data))
    sound = EventFileReader(EVENT_FILES[which]).read_new()
    got = EventFileReader(path).read_new()
    assert all(s in sound for s in got)  # the CRCs keep damage out of the curves


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes_are_an_event_file_with_nothing_in_it(blob):
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.out.tfevents.1.x.1.0"
        path.write_bytes(blob)
        EventFileReader(path).read_new()


def _results(tmp_path: Path, event_bytes: bytes | None = None, status: bytes | None = None) -> Path:
    folder = tmp_path / "results" / "train"
    shutil.copytree(
        FIXTURES / "train_tb", folder, ignore=shutil.ignore_patterns("console*", "*.txt", "meta.json")
    )
    (folder / "model_epoch_001_step_00024.pth").write_bytes(b"\0" * 64)
    if event_bytes is not None:
        (event,) = folder.glob("lightning_logs/*/events.out.tfevents.*")
        event.write_bytes(event_bytes)
    if status is not None:
        (folder / "status.json").write_bytes(status)
    return folder


def _verdict(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DEPTHNET, "verdict", str(folder), "--exit-code", "0", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("kind", ["absurd_length", "two_gb_prefix", "wire_type_mismatch", "tensor_varints"])
def test_depthnet_verdict_always_answers_on_a_damaged_event_file(kind, tmp_path):
    done = _verdict(_results(tmp_path, damaged(kind)))
    assert "Traceback" not in done.stderr and "unexpected error" not in done.stderr, done.stderr
    doc = json.loads(done.stdout)
    assert doc["verdict"] in ("PASS", "FAIL") and doc["reasons"]


BIG_INT = "9" * 5000
STATUS_CASES = {
    "huge_int_kpi": b'{"epoch": 1, "kpi": {"val/loss": ' + BIG_INT.encode() + b"}}\n",
    "401_digit_kpi": b'{"epoch": 1, "kpi": {"val/loss": ' + b"7" * 401 + b"}}\n",
    "huge_exponent": b'{"epoch": 1, "kpi": {"val/loss": 1e999999999}}\n',
    "deep_nesting": b'{"kpi": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_001 + b"\n",
    "deep_list": b"[" * 1_000_000 + b"\n",
    "ten_mb_line": b'{"message": "' + b"x" * (10 << 20) + b'"}\n',
    "huge_epoch": b'{"epoch": ' + BIG_INT.encode() + b', "max_epoch": 1}\n',
}


@pytest.mark.parametrize("name", list(STATUS_CASES))
def test_status_lines_are_parsed_within_bounds(name, tmp_path):
    path = tmp_path / "status.json"
    sound = (FIXTURES / "train_tb" / "status.json").read_bytes()
    path.write_bytes(STATUS_CASES[name] + sound)
    reader = StatusReader(path)
    lines = [d for _ in range(30) for d in reader.read_new()]
    assert len(lines) >= sound.count(b"\n")  # the real lines after the damage are all read
    done = _verdict(_results(tmp_path, status=STATUS_CASES[name] + sound))
    assert "Traceback" not in done.stderr and "unexpected error" not in done.stderr, done.stderr
    assert json.loads(done.stdout)["verdict"] in ("PASS", "FAIL")


@pytest.mark.parametrize("digits", [20, 401])
def test_a_giant_integer_as_the_last_kpi_is_judged_not_a_crash(digits, tmp_path):
    """The run's last word a 401-digit loss: not a float ``{:.4g}`` can format — it is judged non-finite, FAIL."""
    sound = (FIXTURES / "train_tb" / "status.json").read_bytes()
    last = b'{"epoch": 1, "kpi": {"val/loss": ' + b"7" * digits + b"}}\n"
    done = _verdict(_results(tmp_path, status=sound + last))
    assert "Traceback" not in done.stderr and "unexpected error" not in done.stderr, done.stderr
    doc = json.loads(done.stdout)
    assert doc["verdict"] == ("FAIL" if digits > 308 else doc["verdict"]) and doc["reasons"]


def test_the_dir_reader_counts_and_notes_what_it_skipped(tmp_path):
    folder = _results(tmp_path, damaged("bad_data_crc"))
    reader = EventDirReader(folder)
    assert reader.read_new() and reader.corrupt == 1 and "fails its CRC" in reader.notes[0]


def test_a_version_folder_with_an_odd_number_is_listed(tmp_path):
    folder = _results(tmp_path)
    odd = folder / "lightning_logs" / "version_²"  # a digit to str.isdigit, not to int()
    odd.mkdir()
    (odd / "events.out.tfevents.2.x.1.0").write_bytes(SOUND)
    assert len(EventDirReader(folder).read_new()) == 2 * len(EventFileReader(SOUND_PATH).read_new())
