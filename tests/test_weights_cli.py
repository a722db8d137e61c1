"""`depthnet weights inspect | list | strip-ddp` and `depthnet spec train --checkpoint` as a person runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from torchzip import state_dict, write_torch_zip

from specgen.data.checkpoints import expected_shapes, inspect_checkpoint

FIX = Path(__file__).parent / "fixtures" / "checkpoints"


def test_inspect_json_is_exactly_one_object(cli):
    done = cli("weights", "inspect", str(FIX / "tao_metric_vits.pth"), "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)  # one object, nothing else on stdout
    assert (out["layout"], out["encoder"], out["head"], out["tensors"]) == ("tao", "vits", "metric", 239)
    text = cli("weights", "inspect", str(FIX / "public_layout_vitb.pth"))
    assert "train.pretrained_model_path (whole model)" in text.stdout
    assert "export/quantize: no" in text.stdout


def test_inspect_refuses_hostile_files_in_one_line(cli, tmp_path):
    evil = tmp_path / "evil.pth"
    from torchzip import Global

    write_torch_zip(evil, {"x": Global("os", "system", ("true",))})
    done = cli("weights", "inspect", str(evil), "--json")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "os.system" in done.stderr


def test_list_names_licences_and_the_metric_depths(cli):
    rows = json.loads(cli("weights", "list", "--json").stdout)
    by = {r["name"]: r for r in rows}
    assert by["da2-vits"]["licence"] == "Apache-2.0" and by["da2-vitl"]["licence"] == "CC-BY-NC-4.0"
    assert (
        by["da2-metric-hypersim-vitb"]["max_depth"] == 20 and by["da2-metric-vkitti-vitl"]["max_depth"] == 80
    )
    assert by["dinov2-vitg14"]["fetchable"] is False and "da2-vitg" not in by
    assert by["da2-metric-vkitti-vits"]["repo_id"] == "depth-anything/Depth-Anything-V2-Metric-VKITTI-Small"


def test_strip_ddp_rewrites_only_the_names(cli, tmp_path):
    ddp = write_torch_zip(tmp_path / "ddp.pth", state_dict(expected_shapes("vits"), prefix="module."))
    out = tmp_path / "plain.pth"
    done = cli("weights", "strip-ddp", str(ddp), "-o", str(out))
    assert done.returncode == 0, done.stderr
    info = inspect_checkpoint(out)
    assert (info.layout, info.encoder, info.tensors) == ("public", "vits", 239)
    import zipfile

    a, b = zipfile.ZipFile(ddp), zipfile.ZipFile(out)
    for name in a.namelist():
        if "/data/" in name:
            assert a.read(name) == b.read(name)
            start = b.getinfo(name).header_offset + 30 + len(name) + len(b.getinfo(name).extra)
            assert start % 64 == 0  # aligned as torch.save writes it
    again = cli("weights", "strip-ddp", str(ddp), "-o", str(out))
    assert again.returncode == 1 and "--force" in again.stderr
    not_ddp = cli("weights", "strip-ddp", str(out), "-o", str(tmp_path / "x.pth"))
    assert not_ddp.returncode == 1 and "no DDP wrapper" in not_ddp.stderr


def test_spec_train_checkpoint_says_the_start_and_refuses_fast(cli, tmp_path):
    (tmp_path / "t.txt").write_text("a b\n")
    (tmp_path / "v.txt").write_text("a b\n")
    base = [
        "spec",
        "train",
        "--data-file",
        "t.txt",
        "--val-data-file",
        "v.txt",
        "--results-dir",
        "r",
        "-o",
        "-",
    ]
    done = cli(*base, "--checkpoint", str(FIX / "tao_relative_vitb.pth"))  # Metric on a Relative checkpoint
    assert done.returncode == 0, done.stderr
    assert "pretrained_path: " + str(FIX / "tao_relative_vitb.pth") in done.stdout
    assert "encoder: vitb" in done.stdout and "lr: 5.0e-06" in done.stdout
    assert "metric from scratch on top of a relative backbone" in done.stderr
    assert "encoder vitb taken from the file" in done.stderr
    assert "start: backbone" in done.stdout.splitlines()[0]
    refused = cli(*base, "--checkpoint", str(FIX / "dinov2_layout_vitb.pth"))
    assert (
        refused.returncode == 1 and refused.stderr.count("depthnet:") == 1 and "bare DINOv2" in refused.stderr
    )
    random = cli(*base)
    assert random.returncode == 0 and "random weights" in random.stderr
    assert "lr: 5.0e-06" in random.stdout  # not TAO's 1e-4: a fresh head died there


def test_weights_fetch_does_not_load_the_hub_client_at_start():
    code = "import sys, specgen.cli.main; specgen.cli.main.build_parser(); print('huggingface_hub' in sys.modules)"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    )
