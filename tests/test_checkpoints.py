"""The checkpoint inspector on real ``torch.save`` files (the shared layouts, copied into tests/fixtures/checkpoints)
and on hostile ones: every refusal is one line naming the file, and nothing blocks or runs."""

from __future__ import annotations

import json
import os
import pickle
import struct
import threading
import zipfile
from pathlib import Path

import pytest
from torchzip import (
    Global,
    T,
    lightning,
    op_global,
    op_int,
    op_str,
    state_dict,
    write_torch_zip,
)

from specgen.data.checkpoints import (
    LEGACY_MAGIC,
    CheckpointError,
    backbone_shapes,
    classify_keys,
    expected_shapes,
    inspect_checkpoint,
)

FIX = Path(__file__).parent / "fixtures" / "checkpoints"

#: file → (layout, encoder, head, tensors, parameters, Lightning version): the layouts of the shared README.
EXPECTED = {
    "tao_relative_vits.pth": ("tao", "vits", "relative", 239, 24_785_089, "2.6.6"),
    "tao_relative_vitb.pth": ("tao", "vitb", "relative", 239, 97_470_785, "2.6.6"),
    "tao_metric_vits.pth": ("tao", "vits", "metric", 239, 24_785_089, "2.6.6"),
    "public_layout_vits.pth": ("public", "vits", None, 239, 24_785_089, None),
    "public_layout_vitb.pth": ("public", "vitb", None, 239, 97_470_785, None),
    "public_layout_vitg.pth": ("public", "vitg", None, 631, 1_258_132_225, None),
    "dinov2_layout_vits.pth": ("dinov2", "vits", None, 175, 22_056_576, None),
    "dinov2_layout_vitb.pth": ("dinov2", "vitb", None, 175, 86_580_480, None),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_shared_layout_is_recognised(name):
    info = inspect_checkpoint(FIX / name)
    layout, encoder, head, tensors, params, version = EXPECTED[name]
    assert (info.layout, info.encoder, info.head, info.tensors, info.parameters) == (
        layout,
        encoder,
        head,
        tensors,
        params,
    )
    assert info.lightning_version == version
    assert info.format == "torch-zip" and info.dtypes == ("float32",)
    assert info.has_head == (layout != "dinov2")
    assert not info.keys.use_bn and not info.keys.use_clstoken
    data = info.as_json()
    json.dumps(data)  # plain JSON
    assert {"layout", "encoder", "head", "tensors"} <= set(data)


@pytest.mark.parametrize(
    ("name", "encoder", "layout", "head"),
    [
        ("public_layout_vits.pth", "vits", "public", "relative"),
        ("public_layout_vitb.pth", "vitb", "public", "relative"),
        ("public_layout_vitg.pth", "vitg", "public", "relative"),
        ("dinov2_layout_vits.pth", "vits", "dinov2", "relative"),
        ("dinov2_layout_vitb.pth", "vitb", "dinov2", "relative"),
        ("tao_relative_vitb.pth", "vitb", "tao", "relative"),
        ("tao_metric_vits.pth", "vits", "tao", "metric"),
    ],
)
def test_the_encoder_table_builds_exactly_the_real_key_sets(name, encoder, layout, head):
    """facts §7's table, as code, gives every key and shape of the real files (so a ViT-L file can be made where
    there is no ViT-L fixture)."""
    real = dict(inspect_checkpoint(FIX / name).shapes)
    assert expected_shapes(encoder, layout, head) == real


def test_key_names_alone_classify_as_tao_quotes_them():
    """The failure catalogue classifies the key names of TAO's strict-load errors: a handful, no shapes."""
    k = classify_keys(
        ["model.metric_depth_head.projects.0.weight", "model.metric_depth_head.projects.0.bias"]
    )
    assert (k.layout, k.head, k.has_backbone) == ("tao", "metric", False)
    k = classify_keys(["pretrained.cls_token", "depth_head.scratch.output_conv2.2.bias"])
    assert (k.layout, k.head, k.has_backbone, k.has_head) == ("public", "relative", True, True)
    k = classify_keys(["cls_token", "pos_embed", "blocks.0.norm1.weight"])
    assert k.layout == "dinov2" and k.encoder is None and set(k.encoders) == {"vits", "vitb", "vitl", "vitg"}
    assert classify_keys(["blocks.23.attn.qkv.weight", "cls_token"]).encoders == ("vitl", "vitg")
    assert classify_keys(["blocks.39.mlp.w12.weight"]).encoder == "vitg"
    k = classify_keys(["module.pretrained.cls_token", "module.depth_head.projects.0.bias"])
    assert (k.layout, k.inner, k.prefix) == ("ddp", "public", "module.")
    assert classify_keys(["encoder.layer.0.attention.query.weight"]).layout == "unknown"
    assert classify_keys([]).layout == "unknown"


def test_shapes_pin_the_encoder_that_names_cannot():
    vits = classify_keys({"cls_token": (1, 1, 384), "blocks.11.norm1.weight": (384,)})
    vitb = classify_keys({"cls_token": (1, 1, 768)})
    assert (vits.encoder, vitb.encoder) == ("vits", "vitb")
    odd = classify_keys(
        {"cls_token": (1, 1, 384), "blocks.30.norm1.weight": (384,)}
    )  # ViT-S width, 31 blocks
    assert odd.encoder is None and odd.encoders == ()


def test_real_storages_and_a_ddp_wrapper(tmp_path):
    """A file with real tensor data (torch's _rebuild_tensor_v2 + storages), and the same saved from DDP."""
    shapes = backbone_shapes("vits")
    plain = write_torch_zip(tmp_path / "dino.pth", state_dict(shapes))
    info = inspect_checkpoint(plain)
    assert (info.layout, info.encoder, info.tensors, info.parameters) == ("dinov2", "vits", 175, 22_056_576)
    assert plain.stat().st_size > 4 * info.parameters
    ddp = write_torch_zip(
        tmp_path / "ddp.pth", state_dict(expected_shapes("vitb"), prefix="module.", meta=True)
    )
    info = inspect_checkpoint(ddp)
    assert (info.layout, info.keys.inner, info.encoder, info.keys.prefix) == (
        "ddp",
        "public",
        "vitb",
        "module.",
    )
    wrapped = write_torch_zip(tmp_path / "wrapped.pth", {"model": state_dict(shapes, meta=True), "epoch": 3})
    info = inspect_checkpoint(wrapped)
    assert info.layout == "unknown" and info.wrapped_in == "model" and "obj['model']" in info.notes[0]
    bare_tao = write_torch_zip(
        tmp_path / "bare_tao.pth", state_dict(expected_shapes("vits", "tao"), meta=True)
    )
    assert (
        inspect_checkpoint(bare_tao).layout == "unknown"
    )  # TAO names without Lightning: TAO would miss every key


def test_lightning_checkpoints_carry_other_objects(tmp_path):
    """Lightning adds optimizer state, callbacks' numpy scalars, omegaconf configs: inert, never resolved for real."""
    ckpt = lightning(state_dict(expected_shapes("vits", "tao", "metric"), meta=True))
    ckpt["hyper_parameters"] = {"cfg": Global("omegaconf.dictconfig", "DictConfig", ({"a": 1},))}
    ckpt["callbacks"] = {"x": Global("numpy.core.multiarray", "scalar", (Global("numpy", "dtype", ("f8",)),))}
    info = inspect_checkpoint(write_torch_zip(tmp_path / "l.pth", ckpt))
    assert (info.layout, info.head, info.epoch, info.global_step) == ("tao", "metric", 0, 3)


def _refused(path, *words) -> str:
    with pytest.raises(CheckpointError) as err:
        inspect_checkpoint(path)
    line = str(err.value)
    assert "\n" not in line and str(path) in line
    for word in words:
        assert word in line, line
    return line


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("os", "system"),
        ("posix", "system"),
        ("builtins", "eval"),
        ("builtins", "getattr"),
        ("subprocess", "Popen"),
    ],
)
def test_a_pickle_naming_code_is_refused_without_running_it(tmp_path, module, name):
    marker = tmp_path / "ran"
    obj = {"cls_token": T((1, 1, 384), meta=True), "x": Global(module, name, (f"touch {marker}",))}
    line = _refused(write_torch_zip(tmp_path / "evil.pth", obj), f"{module}.{name}", "refused")
    assert "torch.load" in line
    assert not marker.exists()


def test_stack_global_of_protocol_4_is_refused_too(tmp_path):
    evil = pickle.dumps(Global("os", "system"), protocol=4)  # names tests' own class: still not on the table
    path = write_torch_zip(tmp_path / "p4.pth", {}, pickle_data=evil)
    _refused(path, "torchzip.Global", "refused")


def test_zip_bombs_and_huge_pickles_are_refused_before_reading(tmp_path):
    bomb = tmp_path / "bomb.pth"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", b"\0" * (64 * 2**20))  # 64 MB of zeros: 64 KB deflated
    assert bomb.stat().st_size < 2**20
    _refused(bomb, "zip bomb")
    # the same bomb with its sizes edited down to look harmless: the bounded read still stops it
    raw = bytearray(bomb.read_bytes())
    for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = raw.find(sig)
        raw[at + off : at + off + 4] = struct.pack("<I", 100)
    liar = tmp_path / "liar.pth"
    liar.write_bytes(bytes(raw))
    _refused(liar, "data.pkl")
    big = write_torch_zip(
        tmp_path / "big.pth",
        {},
        pickle_data=b"\x80\x02X" + struct.pack("<I", 17 * 2**20) + b"a" * (17 * 2**20) + b".",
    )
    _refused(big, "MB")


def test_truncated_empty_and_foreign_files(tmp_path):
    whole = (FIX / "tao_relative_vits.pth").read_bytes()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(whole[: len(whole) // 2])
    _refused(cut, "cut short")
    empty = tmp_path / "empty.pth"
    empty.touch()
    _refused(empty, "empty")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(os.urandom(4096))
    _refused(junk, "neither")
    plain_zip = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain_zip, "w") as zf:
        zf.writestr("readme.txt", "hello")
    _refused(plain_zip, "data.pkl")
    garbage = write_torch_zip(
        tmp_path / "garbage.pth", {}, pickle_data=b"\x80\x02h\x07."
    )  # BINGET of nothing
    _refused(garbage, "damaged")


def test_missing_or_short_tensor_data_is_named(tmp_path):
    path = write_torch_zip(tmp_path / "t.pth", {"cls_token": T((1, 1, 384))})
    src = zipfile.ZipFile(path)
    gone = tmp_path / "gone.pth"
    with zipfile.ZipFile(gone, "w") as zf:
        for info in src.infolist():
            if "/data/" not in info.filename:
                zf.writestr(info.filename, src.read(info))
    _refused(gone, "archive/data/0", "incomplete")
    short = tmp_path / "short.pth"
    with zipfile.ZipFile(short, "w") as zf:
        for info in src.infolist():
            zf.writestr(info.filename, src.read(info)[:10] if "/data/0" in info.filename else src.read(info))
    _refused(short, "shorter")


def _no_hang(fn, *args):
    """Run fn in a thread; a blocking open (a FIFO) would leave it alive: the test fails instead of hanging."""
    box: dict = {}

    def run() -> None:
        try:
            fn(*args)
        except CheckpointError as exc:
            box["error"] = str(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(20)
    assert not thread.is_alive(), "blocked"
    return box.get("error", "")


def test_fifo_device_folder_and_symlink_loop_never_block(tmp_path):
    fifo = tmp_path / "pipe.pth"
    os.mkfifo(fifo)
    assert "FIFO" in _no_hang(inspect_checkpoint, fifo)
    assert "device" in _no_hang(inspect_checkpoint, "/dev/zero")
    assert "folder" in _no_hang(inspect_checkpoint, tmp_path)
    (tmp_path / "a.pth").symlink_to(tmp_path / "b.pth")
    (tmp_path / "b.pth").symlink_to(tmp_path / "a.pth")
    assert "symlink loop" in _no_hang(inspect_checkpoint, tmp_path / "a.pth")
    assert "no such file" in _no_hang(inspect_checkpoint, tmp_path / "nothing.pth")
    link = tmp_path / "link.pth"
    link.symlink_to(
        FIX / "public_layout_vits.pth"
    )  # the Hugging Face cache hands out symlinks: they are fine
    assert inspect_checkpoint(link).layout == "public"


def _legacy_file(path: Path, body: bytes) -> Path:
    header = b"\x80\x02" + op_int(LEGACY_MAGIC) + b"."
    header += b"\x80\x02" + op_int(1001) + b"."
    header += b"\x80\x02}(" + op_str("protocol_version") + op_int(1001) + op_str("little_endian") + b"\x88u."
    path.write_bytes(header + body + b"\x80\x02](" + op_str("0") + b"e." + b"\0" * 1536 * 4)
    return path


def test_legacy_non_zip_torch_files_are_read_too(tmp_path):
    storage = b"(" + op_str("storage") + op_global("torch", "FloatStorage") + op_str("0") + op_str("cpu")
    storage += op_int(384) + b"N" + b"tQ"
    tensor = op_global("torch._utils", "_rebuild_tensor_v2") + b"(" + storage + op_int(0)
    tensor += (
        b"("
        + op_int(1)
        + op_int(1)
        + op_int(384)
        + b"t"
        + b"("
        + op_int(384)
        + op_int(384)
        + op_int(1)
        + b"t"
    )
    tensor += b"\x89" + op_global("collections", "OrderedDict") + b")R" + b"tR"
    body = b"\x80\x02}(" + op_str("cls_token") + tensor + op_str("blocks.11.norm1.weight") + tensor + b"u."
    info = inspect_checkpoint(_legacy_file(tmp_path / "old.pth", body))
    assert (info.format, info.layout, info.encoder) == ("torch-legacy", "dinov2", "vits")
    evil = b"\x80\x02" + op_global("os", "system") + b"(" + op_str("true") + b"tR."
    _refused(_legacy_file(tmp_path / "evil.pth", evil), "os.system")
    not_torch = tmp_path / "plain.pkl"
    not_torch.write_bytes(pickle.dumps({"a": 1}, protocol=2))
    _refused(not_torch, "not a torch.save file")


def _safetensors(path: Path, header: dict, data_len: int) -> Path:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * data_len)
    return path


def test_safetensors_headers(tmp_path):
    entries, offset = {}, 0
    for key, shape in expected_shapes("vits").items():
        n = 4
        for d in shape:
            n *= d
        entries[key] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    info = inspect_checkpoint(
        _safetensors(tmp_path / "m.safetensors", {"__metadata__": {}, **entries}, offset)
    )
    assert (info.format, info.layout, info.encoder, info.tensors) == ("safetensors", "public", "vits", 239)
    _refused(_safetensors(tmp_path / "cut.safetensors", entries, 100), "cut short")
    huge = tmp_path / "huge.safetensors"
    huge.write_bytes(struct.pack("<Q", 2**40) + b"{" + b" " * 100)
    _refused(huge, "100 MB")
