"""The failure catalogue (specgen/engine/failures.py) and the resume/NaN rules (specgen/engine/resume.py), on logs
shaped like TAO 7.3.0's: the real captures' framing (Hydra's traceback, the entrypoint's ``\\r`` relaying, the
coloured trailer) around the messages the facts reference and the H200 README quote. The captures themselves are
replayed in tests/test_replay_h200.py.

WIRING: these are pure-function tests; once the verdict calls ``diagnose``/``judge_metrics``/``count_epochs``, the
replay tests (not these) are lifted to ``depthnet verdict --json``.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specgen.engine.failures import (
    CATALOGUE,
    INFRA_CODES,
    ONE_LINE_MAX,
    Diagnosis,
    catalogue_markdown,
    clean_lines,
    diagnose,
    finite,
    judge_metrics,
    nonfinite,
    read_tail,
    short_path,
)
from specgen.engine.resume import count_epochs, find_resume, last_session
from specgen.engine.runspec import RunSpec, load_run_spec

REPO = Path(__file__).resolve().parent.parent
SITE = "/usr/local/lib/python3.12/dist-packages"
TRAILER = (
    "\x1b[38;20m2026-12-01 08:38:54,819 - [TAO Toolkit] - INFO - Command completed with return code 1 "
    "(entrypoint.py:468)\x1b[0m\n"
    "\x1b[33;20m2026-12-01 08:38:54,819 - [TAO Toolkit] - WARNING - [Error]: nvidia_tao_core.telemetry is not "
    "available (entrypoint.py:511)\x1b[0m\n"
    "\x1b[33;20m2026-12-01 08:38:54,819 - [TAO Toolkit] - WARNING - Execution status: FAIL (entrypoint.py:515)"
    "\x1b[0m\n"
)
HEAD = (
    f"{SITE}/hydra/_internal/hydra.py:119: UserWarning: Future Hydra versions will no longer change working "
    "directory at job runtime by default.\nTrain results will be saved at: /results/x/train\nSeed set to 7\n"
)


def tao_log(
    *error: str, frames: tuple[str, ...] = ("scripts/train.py", "core/decorators/workflow.py")
) -> str:
    """A failed run as TAO's console shows it: the Hydra traceback (first line glued by ``\\r``), frames in
    TAO's install path, the error lines, Hydra's footer and the entrypoint's coloured trailer."""
    body = "".join(
        f'  File "{SITE}/nvidia_tao_pytorch/{f}", line {40 + i}, in main\n    run_experiment(cfg)\n'
        for i, f in enumerate(frames)
    )
    return (
        HEAD
        + "\rError executing job with overrides: []Traceback (most recent call last):\n"
        + body
        + "\n".join(error)
        + "\n\nSet the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace.\n"
        + TRAILER
    )


def train_spec(tmp_path: Path, **over: object) -> RunSpec:
    """A real spec file (written, read and validated as the engine does): vitl, crop 518, fp32 unless given."""
    import yaml

    ann = tmp_path / "train.txt"
    ann.write_text("")
    data = {
        "results_dir": str(tmp_path / "results"),
        "model": {"model_type": "MetricDepthAnything", "encoder": over.get("encoder", "vitl")},
        "dataset": {
            "dataset_name": "MonoDataset",
            "min_depth": 0.001,
            "max_depth": 10.0,
            "train_dataset": {
                "data_sources": [{"data_file": str(ann), "dataset_name": "NYUDV2"}],
                "batch_size": over.get("batch", 25),
                "augmentation": {"crop_size": [518, 518]},
            },
            "val_dataset": {"data_sources": [{"data_file": str(ann), "dataset_name": "NYUDV2"}]},
        },
        "train": {"num_epochs": 2, "precision": over.get("precision", "fp32"), **over.get("train", {})},  # type: ignore[dict-item]
    }
    if "model" in over:
        data["model"].update(over["model"])  # type: ignore[union-attr, arg-type]
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_run_spec(
        str(path), "train", allow_known_failure=True, check_files=False
    )  # a spec judged after the fact


def started(action: str) -> list[dict]:
    return [{"status": "STARTED", "message": f"Starting Depth Net {action}."}]


def check_one_line(d: Diagnosis) -> str:
    line = d.one_line()
    assert len(line) <= ONE_LINE_MAX and len(line.splitlines()) == 1, line
    assert not any(unicodedata.category(c) == "Cc" for c in line), repr(line)
    assert "dist-packages/" not in line and "site-packages/" not in line and "Traceback" not in line, line
    return line


# ------------------------------------------------------------------------------------------------- per entry


def test_cuda_oom_with_the_spec_says_the_estimate_and_the_largest_batch_that_fits(tmp_path):
    """The H200 README: ViT-L, crop 518, fp32 — batch 18 peaked at 125.9 GiB, batch 25 ran out of memory."""
    log = tao_log(
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.09 GiB. GPU 0 has a total capacity of "
        "139.80 GiB of which 1.23 GiB is free. Including non-PyTorch memory, this process has 138.55 GiB memory "
        "in use. Of the allocated memory 135.12 GiB is allocated by PyTorch, and 2.01 GiB is reserved by PyTorch "
        "but unallocated. See documentation for Memory Management  "
        "(https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)"
    )
    d = diagnose(log, exit_code=1, status_lines=started("train"), spec=train_spec(tmp_path))
    assert d is not None and d.code == "cuda_oom"
    assert d.cause == "CUDA out of memory on GPU 0 (139.8 GiB; tried to allocate 2.09 GiB)"
    assert "vitl at crop 518×518, batch 25, fp32 needs ~164.8 GiB peak" in d.fix
    assert "the largest batch that fits is 18 (dataset.train_dataset.batch_size)" in d.fix
    check_one_line(d)
    plain = diagnose(log, exit_code=1)  # no spec: the numbers TAO printed, the generic fix
    assert plain is not None and plain.code == "cuda_oom" and "batch_size" in plain.fix


def test_the_real_h200_oom_capture_says_the_estimate_and_the_batch_that_fits(tmp_path):
    """tests/fixtures/h200-measured/cuda_oom: vitl, crop 518, batch 30, launched with --force past our estimate."""
    log = (REPO / "tests" / "fixtures" / "h200-measured" / "cuda_oom" / "console.log").read_text()
    d = diagnose(log, exit_code=1, status_lines=started("train"), spec=train_spec(tmp_path, batch=30))
    assert d is not None and d.code == "cuda_oom"
    assert d.cause == "CUDA out of memory on GPU 0 (139.8 GiB; tried to allocate 3.36 GiB)"
    assert "batch 30" in d.fix and "the largest batch that fits is 18" in d.fix
    check_one_line(d)


def test_a_batch_larger_than_the_training_set_is_named_not_a_division_by_zero(tmp_path):
    """Measured on an H200 (tests/fixtures/h200-measured/README.md): batch 512 over 6 pairs, past our memory
    preflight with --force, is no CUDA OOM — TAO's LambdaLR divides by the 0 steps of an epoch."""
    log = (REPO / "tests" / "fixtures" / "h200-measured" / "zero_steps" / "console.log").read_text()
    d = diagnose(log, exit_code=1, status_lines=started("train"), spec=train_spec(tmp_path, batch=512))
    assert d is not None and d.code == "zero_steps"
    assert (
        "an epoch has 0 steps: dataset.train_dataset.batch_size 512 is more than the training pairs"
        in d.cause
    )
    assert "at most the number of training pairs" in d.fix
    check_one_line(d)
    other = diagnose(
        tao_log("ZeroDivisionError: division by zero"), exit_code=1
    )  # not raised in the scheduler
    assert other is None or other.code != "zero_steps"


def test_cuda_oom_older_wording_and_a_batch_the_estimate_says_fits(tmp_path):
    log = tao_log(
        "RuntimeError: CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 15.78 GiB total capacity; "
        "14.24 GiB already allocated; 3.19 MiB free; 14.50 GiB reserved in total by PyTorch)"
    )
    d = diagnose(log, exit_code=1, spec=train_spec(tmp_path, encoder="vits", batch=1))
    assert (
        d is not None and d.code == "cuda_oom" and d.cause.startswith("CUDA out of memory on GPU 0 (15.8 GiB")
    )
    assert "should fit 16 GiB: another process may hold GPU memory" in d.fix


def test_host_oom_kill_is_exit_137_without_a_python_error():
    d = diagnose(HEAD + "Epoch 0/9 ━━━━━ 3/100\n", exit_code=137)
    assert d is not None and d.code == "host_oom_kill" and "host ran out of memory" in d.cause
    assert diagnose(HEAD, exit_code=-9).code == "host_oom_kill"  # type: ignore[union-attr]
    # a Python error says more than the signal
    d = diagnose(tao_log("ValueError: No dataset found"), exit_code=137)
    assert d is not None and d.code == "no_dataset"
    killed = tao_log("RuntimeError: DataLoader worker (pid 4242) is killed by signal: Killed. ")
    assert diagnose(killed, exit_code=1).code == "worker_killed"  # type: ignore[union-attr]


ENC_MISMATCH = (
    "RuntimeError: Error(s) in loading state_dict for MonoDepthNetPlModel:\n"
    "\rsize mismatch for model.pretrained.cls_token: copying a param with shape torch.Size([1, 1, {a}]) from "
    "checkpoint, the shape in current model is torch.Size([1, 1, {b}]).\rsize mismatch for model.pretrained."
    "pos_embed: copying a param with shape torch.Size([1, 1370, {a}]) from checkpoint, the shape in current model "
    "is torch.Size([1, 1370, {b}])."
)


@pytest.mark.parametrize(
    ("a", "b", "have", "want"), [(1024, 384, "vitl", "vits"), (1536, 768, "vitg", "vitb")]
)
def test_size_mismatch_names_both_encoders(a, b, have, want):
    d = diagnose(tao_log(ENC_MISMATCH.format(a=a, b=b)), exit_code=1, status_lines=started("inference"))
    assert d is not None and d.code == "size_mismatch"
    assert d.cause == f"the checkpoint holds a {have} model; the spec says model.encoder: {want}"
    assert d.fix == f"set model.encoder: {have}, or give a {want} checkpoint in inference.checkpoint"


def test_size_mismatch_of_the_head_only_points_at_use_bn_and_use_clstoken():
    log = tao_log(
        "RuntimeError: Error(s) in loading state_dict for MonoDepthNetPlModel:",
        "\rsize mismatch for model.depth_head.scratch.refinenet4.out_conv.weight: copying a param with shape "
        "torch.Size([64, 64, 1, 1]) from checkpoint, the shape in current model is torch.Size([64, 128, 1, 1]).",
    )
    d = diagnose(log, exit_code=1, status_lines=started("evaluate"))
    assert d is not None and d.code == "size_mismatch" and "1 size mismatches" in d.cause
    assert "use_bn / use_clstoken" in d.fix and "evaluate.checkpoint" in d.fix


def keys(*names: str) -> str:
    return ", ".join(f'"{n}"' for n in names)


DINO = ("cls_token", "pos_embed", "patch_embed.proj.weight", "blocks.0.norm1.weight", "norm.weight")
MATRIX = [  # the failing rows of the use-case matrix (tests/fixtures/tao-7.3.0-h200/README.md)
    (
        "Relative, backbone key, public DA-V2 file",
        "DinoVisionTransformer",
        DINO,
        ("pretrained.cls_token", "pretrained.pos_embed", "depth_head.projects.0.weight"),
        "holds a whole Depth Anything V2 model",
        "give this file as train.pretrained_model_path instead",
    ),
    (
        "Metric, train.pretrained_model_path, TAO Relative checkpoint",
        "MonoDepthNetPlModel",
        ("model.metric_depth_head.projects.0.weight", "model.metric_depth_head.scratch.output_conv2.2.bias"),
        ("model.depth_head.projects.0.weight", "model.depth_head.scratch.output_conv2.2.bias"),
        "train.pretrained_model_path is a RelativeDepthAnything checkpoint (model.depth_head.*); the spec says "
        "model.model_type: MetricDepthAnything",
        "set model.model_type: RelativeDepthAnything, or load only its backbone via "
        "model.mono_backbone.pretrained_path",
    ),
    (
        "Metric, backbone key, bare DINOv2",
        "DinoVisionTransformer",
        DINO,
        (),
        "keeps only keys holding 'pretrained.': this file has none",
        "give a public Depth Anything V2 file or a TAO checkpoint there",
    ),
    (
        "Relative, train.pretrained_model_path, TAO Metric checkpoint",
        "MonoDepthNetPlModel",
        ("model.depth_head.projects.0.weight",),
        ("model.metric_depth_head.projects.0.weight",),
        "train.pretrained_model_path is a MetricDepthAnything checkpoint (model.metric_depth_head.*); the spec "
        "says model.model_type: RelativeDepthAnything",
        "set model.model_type: MetricDepthAnything",
    ),
    (
        "any, train.pretrained_model_path, bare DINOv2 (TAO prefixes model.)",
        "MonoDepthNetPlModel",
        ("model.pretrained.cls_token", "model.depth_head.projects.0.weight"),
        ("model.cls_token", "model.blocks.0.norm1.weight"),
        "train.pretrained_model_path is a bare DINOv2 backbone",
        "give it as model.mono_backbone.pretrained_path with RelativeDepthAnything",
    ),
]


@pytest.mark.parametrize(
    ("what", "target", "missing", "unexpected", "cause", "fix"), MATRIX, ids=[m[0] for m in MATRIX]
)
def test_strict_load_keys_say_which_layout_the_file_has_and_where_it_belongs(
    what, target, missing, unexpected, cause, fix
):
    lines = [f"RuntimeError: Error(s) in loading state_dict for {target}:"]
    lines.append(f"\tMissing key(s) in state_dict: {keys(*missing)}. ")
    if unexpected:
        lines.append(f"\tUnexpected key(s) in state_dict: {keys(*unexpected)}. ")
    frames = ("model/mono_depth/depth_anything_v2/dpt.py",) if target == "DinoVisionTransformer" else ()
    d = diagnose(
        tao_log(*lines, frames=("scripts/train.py", *frames)), exit_code=1, status_lines=started("train")
    )
    assert d is not None and d.code == "state_dict_keys", d
    assert cause in d.cause and fix in d.fix, d
    check_one_line(d)


def test_rgb_missing_names_the_annotation_line(tmp_path):
    ann = tmp_path / "train.txt"
    ann.write_text("/d/a.jpg /d/a.png\n/d/b.jpg /d/b.png\n/d/gone.jpg /d/gone.png\n")
    log = tao_log(
        "ValueError: Caught ValueError in DataLoader worker process 1.",
        "Original Traceback (most recent call last):",
        f'  File "{SITE}/nvidia_tao_pytorch/cv/depth_net/dataloader/utils/frame_utils.py", line 144, in '
        "read_image",
        '    raise ValueError(f"RGB image is None for file: {file_name}")',
        "ValueError: RGB image is None for file: /d/gone.jpg",
    )
    d = diagnose(log, exit_code=1, annotation_files=[ann])
    assert d is not None and d.code == "rgb_unreadable"
    assert d.cause == f"RGB image not found: /d/gone.jpg (annotation line 3 of {short_path(str(ann), 48)})"
    assert "RGB image is None for file: /d/gone.jpg" in d.excerpt and SITE not in d.excerpt


def test_depth_png_none_is_found_in_the_annotation_file(tmp_path):
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "a.jpg")
    Image.new("I;16", (8, 8)).save(tmp_path / "a.png")
    ann = tmp_path / "train.txt"
    ann.write_text(f"{tmp_path}/a.jpg {tmp_path}/a.png\n{tmp_path}/a.jpg {tmp_path}/missing_depth.png\n")
    log = tao_log("AttributeError: 'NoneType' object has no attribute 'astype'")
    d = diagnose(log, exit_code=1, annotation_files=[ann])
    assert d is not None and d.code == "depth_unreadable"
    assert "missing_depth.png (annotation line 2 of" in d.cause
    assert "a depth PNG could not be read" in diagnose(log, exit_code=1).cause  # type: ignore[union-attr]


def test_file_not_found_names_the_spec_key(tmp_path):
    run = train_spec(tmp_path, train={"pretrained_model_path": "/models/dav2_vitl.pth"})
    log = tao_log("FileNotFoundError: [Errno 2] No such file or directory: '/models/dav2_vitl.pth'")
    d = diagnose(log, exit_code=1, spec=run)
    assert d is not None and d.code == "file_not_found"
    assert d.cause == "file not found: train.pretrained_model_path names /models/dav2_vitl.pth"
    assert "mount" in d.fix
    d = diagnose(
        tao_log("FileNotFoundError: [Errno 2] No such file or directory: '/data/x/train.txt'"), exit_code=1
    )
    assert (
        d is not None and "an annotation file (data_sources[].data_file) names /data/x/train.txt" in d.cause
    )


def test_permission_denied_on_the_results_folder():
    log = tao_log("PermissionError: [Errno 13] Permission denied: '/results/x/train/status.json'")
    d = diagnose(log, exit_code=1)
    assert (
        d is not None and d.code == "permission_denied" and "results folder" in d.cause and "--user" in d.fix
    )
    enc = tao_log("PermissionError: Cannot access model state dict without the encryption key")
    assert diagnose(enc, exit_code=1).code == "encrypted_checkpoint"  # type: ignore[union-attr]


SIMPLE = [  # (log's error lines, code, words in the cause, words in the fix)
    (
        [
            "AssertionError: Checkpoint interval 5 > Number of epochs 2.Please set "
            "experiment_config.train.checkpoint_interval <= 2"
        ],
        "interval_over_epochs",
        "train.checkpoint_interval 5 is more than train.num_epochs 2",
        "set train.checkpoint_interval to at most 2",
    ),
    (
        [
            "AssertionError: Validation interval 3 > Number of epochs 1.Please set "
            "experiment_config.train.validation_interval <= 1"
        ],
        "interval_over_epochs",
        "train.validation_interval 3",
        "at most 1",
    ),
    (
        ["ValueError: Default onnx file /results/x/m.onnx already exists"],
        "onnx_exists",
        "export.onnx_file /results/x/m.onnx already exists",
        "choose a new export.onnx_file",
    ),
    (
        ["TypeError: Got unsupported ScalarType BFloat16"],
        "bf16_vis",
        "bf16 training crashes",
        "train.precision: fp32",
    ),
    (
        ["TypeError: NYUDV2Relative.__init__() got an unexpected keyword argument 'min_depth'"],
        "relative_min_max",
        "relative dataset class",
        "remove dataset.min_depth and dataset.max_depth",
    ),
    (
        ["ValueError: At least one of 'min' or 'max' must not be None"],
        "metric_no_bounds",
        "metric run without",
        "set dataset.min_depth and dataset.max_depth",
    ),
    (
        ["NotImplementedError: Dataset type nyu not supported. Supported list ['threedvlm', 'fsd']"],
        "dataset_type",
        "dataset class 'nyu'",
        "depthnet pairs",
    ),
    (
        ["NotImplementedError: Unsupported file extension: /d/rgb_1.JPG"],
        "unsupported_extension",
        "TAO cannot read /d/rgb_1.JPG",
        "lower-case extensions",
    ),
    (
        ["ValueError: Dataset size (3) is smaller than the total batch size (4). Not enough data for train."],
        "dataset_too_small",
        "3 samples, fewer than the total batch 4",
        "lower the batch size",
    ),
    (["AssertionError: batch_size must be 1 for validation"], "val_batch", "val_dataset.batch_size", ": 1"),
    (["AttributeError: 'int' object has no attribute 'isnan'"], "relative_empty_batch", "no valid", "doctor"),
    (["TypeError: Not a PFM file."], "pfm_bad", "not a valid PFM", "doctor"),
    (
        ["NotImplementedError: fp8 is not supported. Only fp32, fp16, and bf16 are supported"],
        "precision",
        "train.precision",
        "fp32",
    ),
    (["NotImplementedError: Optimizer SGD is not implemented"], "optimizer", "Optimizer SGD", "AdamW"),
    (
        ["ValueError: Resume checkpoint has an invalid file format; it must be either a .tlt or a .pth"],
        "resume_format",
        "resume_training_checkpoint_path",
        ".pth",
    ),
    (
        ["OSError: [Errno 28] No space left on device: '/results/x/train/model_epoch_001_step_00024.pth'"],
        "no_space",
        "no space left on the device writing /results/x/train/model_epoch_001_step_00024.pth",
        "free disk space",
    ),
    (
        [
            "RuntimeError: DataLoader worker (pid 77) is killed by signal: Bus error. It is possible that "
            "dataloader's workers are out of shared memory. insufficient shared memory (shm)"
        ],
        "shm",
        "shared memory",
        "--shm-size",
    ),
    (
        [
            "[rank1]: torch.distributed.DistNetworkError: The server socket has failed to listen on any local "
            "network address. port: 29500, useIpv6: 0, code: -98, name: EADDRINUSE, message: address already in use"
        ],
        "nccl",
        "could not bind its port",
        "MASTER_PORT",
    ),
    (
        [
            "[rank0]: torch.distributed.DistBackendError: NCCL error in: ProcessGroupNCCL.cpp:1970, unhandled "
            "system error (run with NCCL_DEBUG=INFO for details), NCCL version 2.21.5"
        ],
        "nccl",
        "NCCL",
        "NCCL_DEBUG=INFO",
    ),
    (
        [
            "RuntimeError: The NVIDIA driver on your system is too old (found version 11040). Please update your "
            "GPU driver. CUDA driver version is insufficient for CUDA runtime version"
        ],
        "cuda_init",
        "CUDA cannot start",
        "depthnet setup",
    ),
    (
        ["RuntimeError: CUDA error: uncorrectable ECC error encountered"],
        "cuda_init",
        "hardware error",
        "admins",
    ),
    (
        ["ValueError: You need to set at least one of following fields: results_dir, {mode}.results_dir"],
        "results_dir_missing",
        "results_dir",
        "set results_dir",
    ),
]


@pytest.mark.parametrize(
    ("error", "code", "cause", "fix"), SIMPLE, ids=[f"{s[1]}-{i}" for i, s in enumerate(SIMPLE)]
)
def test_catalogue_entry(error, code, cause, fix):
    d = diagnose(tao_log(*error), exit_code=1)
    assert d is not None and d.code == code, d
    assert cause in d.cause and fix in d.fix, d
    check_one_line(d)


def test_status_json_alone_is_enough():
    """`depthnet verdict` of a folder without a console log: the FAILURE line (its last line is the error)."""
    lines = [
        *started("export"),
        {
            "status": "FAILURE",
            "message": "Parameter validation error: Default onnx file /results/m.onnx already exists",
        },
    ]
    d = diagnose("", exit_code=1, status_lines=lines)
    assert d is not None and d.code == "onnx_exists"


def test_old_status_sessions_do_not_speak_for_the_new_one():
    """status.json is appended to: a failure of an earlier run in the same folder is not this run's."""
    old = [
        *started("train"),
        {"status": "FAILURE", "message": "Parameter validation error: RGB image is None for file: /d/x.jpg"},
    ]
    new = started("train")
    assert last_session([*old, *new]) == new
    d = diagnose(tao_log("KeyError: 'monodataset'"), exit_code=1, status_lines=[*old, *new])
    assert d is not None and d.code == "unknown" and d.cause == "KeyError: 'monodataset'"


def test_spec_file_missing_and_hydra_inside_the_action():
    d = diagnose("ERROR: The indicated experiment spec file `/specs/x.yaml` doesn't exist!\n", exit_code=1)
    assert d is not None and d.code == "spec_file_missing" and "/specs/x.yaml" in d.cause
    inside = tao_log(
        "omegaconf.errors.MissingMandatoryValue: Missing mandatory value: export.onnx_file",
        "    full_key: export.onnx_file",
        "    object_type=DepthNetExportExpConfig",
    )
    d = diagnose(inside, exit_code=1)
    assert d is not None and d.code == "hydra_config"
    assert d.cause == "spec error at export.onnx_file: Missing mandatory value: export.onnx_file"
    assert d.fix.startswith("set export.onnx_file")


# ------------------------------------------------------------------------------------------- the fallback


def test_unknown_failures_fall_back_to_the_last_exception_line_of_the_deepest_traceback():
    log = tao_log(
        "ValueError: first, caught",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "Traceback (most recent call last):",
        f'  File "{SITE}/nvidia_tao_pytorch/cv/depth_net/model/build_pl_model.py", line 31, in build',
        "    raise LookupError('no such thing')",
        "LookupError: no such thing",
    )
    d = diagnose(log, exit_code=1)
    assert d is not None and d.code == "unknown"
    assert d.cause == "LookupError: no such thing"
    assert d.fix.startswith("raised in build_pl_model.py:31 (build)")
    assert "Error executing job" not in d.one_line() and "Traceback" not in d.one_line()


def test_rank_prefixes_and_a_message_on_the_next_line():
    log = HEAD + (
        "[rank1]: Traceback (most recent call last):\n"
        f'[rank1]:   File "{SITE}/torch/nn/modules/module.py", line 2639, in load_state_dict\n'
        "[rank1]: RuntimeError: Error(s) in loading state_dict for Something:\n"
        "[rank1]: \tweird: the details\n"
    )
    d = diagnose(log + TRAILER, exit_code=1)
    assert (
        d is not None
        and d.cause == "RuntimeError: Error(s) in loading state_dict for Something: weird: the details"
    )


def test_nothing_to_say():
    assert diagnose(tao_log("ValueError: x"), exit_code=0) is None  # TAO's own success: judged elsewhere
    assert diagnose(HEAD + TRAILER, exit_code=1) is None  # no error anywhere: the verdict says the exit code


# ------------------------------------------------------------------------------------- one line, whatever comes

_frame = st.builds(
    lambda pkg, n, fn: f'  File "{SITE}/{pkg}.py", line {n}, in {fn}\n    x = y()\n',
    st.from_regex(r"[a-z_/]{1,40}", fullmatch=True),
    st.integers(1, 99999),
    st.from_regex(r"[a-z_]{1,20}", fullmatch=True),
)
_PIECES = [*"ab:/ []().'\"\r\t\x07\x85\u2028é━💡", "\x1b[31;20m", "\x1b[0m", "\x1b]8;;http://x\x1b\\", "\n  "]
_noise = st.lists(st.sampled_from(_PIECES) | st.text(max_size=20), max_size=60).map("".join)
_exc_type = st.sampled_from(
    ["ValueError", "RuntimeError", "torch.OutOfMemoryError", "omegaconf.errors.ConfigKeyError", "KeyError"]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    before=_noise,
    frames=st.lists(_frame, max_size=6),
    kind=_exc_type,
    message=_noise
    | st.text(max_size=400)
    | st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=5), st.integers(1, 3000)),
    rank=st.sampled_from(["", "[rank0]: ", "[rank3]:"]),
    code=st.sampled_from([1, 2, 137, -9, None]),
    trailer=st.booleans(),
)
def test_any_log_ending_in_an_exception_gives_a_one_line_reason(
    before, frames, kind, message, rank, code, trailer
):
    log = before + "\rError executing job with overrides: []Traceback (most recent call last):\n"
    log += "".join(frames) + f"{rank}{kind}: {message}\n" + (TRAILER if trailer else "")
    d = diagnose(log, exit_code=code)
    assert d is not None
    check_one_line(d)
    assert "Error executing job" not in d.cause


def test_hostile_lines_stay_cheap():
    """A 1 MB line of path-like text, of quotes, of dots (what would make a backtracking regex explode): each
    entry still reads it (``benchmarks/failure_bench.py`` shows the time grows linearly with the line)."""
    for filler in ("/a" * 500_000, '"' * 1_000_000, "a." * 500_000, "size mismatch for " * 50_000):
        d = diagnose(HEAD + filler + "\nValueError: " + filler + "\n" + TRAILER, exit_code=1)
        assert d is not None and len(d.one_line()) <= ONE_LINE_MAX


def test_a_huge_log_is_read_from_its_tail(tmp_path):
    path = tmp_path / "log.txt"
    with open(path, "w") as f:
        for _ in range(20_000):
            f.write("x" * 400 + "\n")  # 8 MB of noise, then the error
        f.write(tao_log("ValueError: RGB image is None for file: /d/late.jpg"))
    text = read_tail(path)
    assert len(text) <= 4 << 20
    d = diagnose(text, exit_code=1)
    assert d is not None and "/d/late.jpg" in d.cause


def test_clean_lines_unglues_what_the_entrypoint_glued():
    lines = clean_lines(
        "\rError executing job with overrides: []Traceback (most recent call last):\n"
        "\rValueError: [x] badSet the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace.\n"
        "\r\x1b[38;20m2026 - [TAO Toolkit] - INFO - a (x.py:1)\x1b[0mnext\n"
    )
    assert lines == [
        "Error executing job with overrides: []",
        "Traceback (most recent call last):",
        "ValueError: [x] bad",
        "Set the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace.",
        "2026 - [TAO Toolkit] - INFO - a (x.py:1)next",
    ]


def test_one_line_keeps_the_fix_when_the_cause_is_long():
    d = Diagnosis(cause="x" * 500, fix="do this", excerpt="", source="")
    line = d.one_line()
    assert len(line) == ONE_LINE_MAX and line.endswith("… — do this")
    assert len(d.one_line(prefix="train failed with exit code 1: ")) == ONE_LINE_MAX
    # a cause that fits stays whole; a long fix takes what is left (at least 60 characters)
    both = Diagnosis(cause="c" * 90, fix="f" * 300, excerpt="", source="").one_line(prefix="p" * 31)
    assert len(both) == ONE_LINE_MAX and "c" * 90 + " — " + "f" * 75 + "…" in both
    hog = Diagnosis(cause="c" * 300, fix="f" * 300, excerpt="", source="").one_line()
    assert len(hog) == ONE_LINE_MAX and hog.endswith("f" * 59 + "…")


def test_infrastructure_codes_are_catalogue_codes():
    """The scheduler's retry decision reads these names (``Verdict.code``): each is a real entry's code."""
    assert INFRA_CODES <= {e.code for e in CATALOGUE} and "size_mismatch" not in INFRA_CODES


# ------------------------------------------------------------------------------------------ NaN and inf


def test_one_rule_for_finite_at_every_depth():
    assert [finite(v) for v in (1, 0.5, float("nan"), float("inf"), "nan", "NaN", "-Infinity", "1e3")] == [
        True,
        True,
        False,
        False,
        False,
        False,
        False,
        True,
    ]
    assert [finite(v) for v in (None, True, "abc", [1])] == [None, None, None, None]
    assert (
        finite(10**400) is True and nonfinite({"a": 10**400, "b": "9" * 500}) == {}
    )  # no overflow, no crawl
    assert nonfinite(
        {"val/abs_rel": "NaN", "val": {"d1": float("inf")}, "ok": 1, "l": [0, float("-inf")]}
    ) == {
        "val/abs_rel": "NaN",
        "val/d1": "inf",
        "l[1]": "-inf",
    }


def _train_lines(*per_epoch: dict, train_loss: list) -> list[dict]:
    lines = started("train") + [{"status": "STARTED", "message": "Starting Training Loop."}]
    for epoch, (val, loss) in enumerate(zip(per_epoch, train_loss, strict=True)):
        lines.append({"message": "Eval metrics generated.", "kpi": val})
        lines.append(
            {
                "epoch": epoch,
                "max_epoch": len(per_epoch) - 1,
                "message": "Training loop in progress",
                "kpi": val,
            }
        )
        lines.append({"message": "Train metrics generated.", "kpi": {"train_loss": loss}})
    return lines


GOOD = {"val/loss": 0.2, "val/d1": 0.7, "val/d2": 0.9, "val/d3": 1.0, "val/abs_rel": 0.16}


def test_nan_abs_rel_with_delta1_zero_means_no_valid_prediction(tmp_path):
    dead = {"val/loss": 0.33, "val/d1": 0.0, "val/d2": 0.0, "val/d3": 0.0, "val/abs_rel": "nan"}  # a string
    lines = _train_lines(dead, train_loss=[0.28])
    (f,) = judge_metrics(lines, "train")
    assert (f.key, f.severity, f.epoch) == ("val/abs_rel", "fail", 0)
    assert f.reason == (
        "val/abs_rel is NaN and δ1 = 0: the model predicts no valid depth — its fresh head is dead: change "
        "train.seed, keep train.optim.lr at 5e-6, or start from a whole model (train.pretrained_model_path)"
    )
    assert len(f.reason) <= 200
    # Measured on an H200: a fresh Relative head died above lr 5e-6 and at TAO's seed 1234 — the fix names the cause.
    for lr, seed, fix in (
        (5e-5, 42, "set train.optim.lr: 5e-06 (it died at 5e-05)"),
        (5e-6, 1234, "set train.seed: 42 (it died at TAO's 1234)"),
        (5e-6, 7, "change train.seed, keep train.optim.lr at 5e-6"),
    ):
        run = train_spec(
            tmp_path,
            model={"mono_backbone": {"pretrained_path": "/m/dinov2.pth"}},
            train={"optim": {"lr": lr}, "seed": seed},
        )
        (f,) = judge_metrics(lines, "train", spec=run)
        assert fix in f.reason and "train.pretrained_model_path" in f.reason and len(f.reason) <= 200, (
            f.reason
        )
    whole = train_spec(tmp_path, train={"pretrained_model_path": "/m/whole.pth"})
    (f,) = judge_metrics(lines, "train", spec=whole)
    assert "the whole model loaded yet predicts nothing" in f.reason
    (f,) = judge_metrics([{"message": "Eval metrics generated.", "kpi": dead}], "evaluate")
    assert f.reason.startswith("val/abs_rel is NaN and δ1 = 0: the checkpoint predicts no valid depth")


def test_nan_that_recovered_is_a_warning_and_a_nan_loss_is_named_as_itself(tmp_path):
    first = {**GOOD, "val/abs_rel": float("nan"), "val/d1": 0.0}
    (f,) = judge_metrics(_train_lines(first, GOOD, train_loss=[0.3, 0.2]), "train")
    assert (f.key, f.severity, f.epoch) == ("val/abs_rel", "warn", 0)
    (f,) = judge_metrics(
        _train_lines(GOOD, {**GOOD, "val/loss": float("nan")}, train_loss=[0.3, 0.2]), "train"
    )
    assert (f.key, f.severity, f.epoch) == ("val/loss", "fail", 1) and f.reason.startswith("val/loss is NaN")
    inf_first = _train_lines(GOOD, GOOD, train_loss=[float("inf"), 0.2])
    assert judge_metrics(inf_first, "train")[0].severity == "fail"  # fp32: the weights are gone
    fp16 = train_spec(tmp_path, precision="fp16")
    assert judge_metrics(inf_first, "train", spec=fp16)[0].severity == "warn"  # the loss scaler skipped them


def test_nested_kpi_and_evaluate():
    lines = started("evaluate") + [
        {
            "message": "Test metrics generated.",
            "kpi": {"val": {"d1": "NaN", "d2": "NaN", "d3": "NaN", "abs_rel": "NaN"}},
        }
    ]
    (f,) = judge_metrics(lines, "evaluate")
    assert f.key == "val/abs_rel" and "evaluation had no valid ground-truth pixel" in f.reason
    assert (
        judge_metrics(started("evaluate") + [{"message": "Test metrics generated.", "kpi": GOOD}], "evaluate")
        == []
    )


# ------------------------------------------------------------------------------------------------ resume


def test_a_resumed_run_that_reached_its_last_epoch_is_complete():
    """num_epochs 3 resumed from epoch 1's checkpoint: status.json has one epoch line, epoch 2 of max_epoch 2."""
    ckpt = "/results/x/train/model_epoch_001_step_00012.pth"
    lines = started("train") + [
        {"status": "RUNNING", "message": f"Resuming training from checkpoint: {ckpt}"},
        {"status": "STARTED", "message": "Starting Training Loop."},
        {"epoch": 2, "step": 18, "max_epoch": 2, "max_step": 18, "message": "Training loop in progress"},
    ]
    count = count_epochs(lines)
    assert count.resume is not None and (count.resume.epoch, count.resume.step) == (1, 12)
    assert count.reached_end and count.epochs_done == 3 and count.num_epochs == 3 and count.resumed_at == 2
    assert (
        count.words()
        == "resumed at epoch 2 (from model_epoch_001_step_00012.pth) and reached the last epoch (2 of 0–2)"
    )
    short = count_epochs(lines[:-1] + [{**lines[-1], "epoch": 1, "max_epoch": 3}])
    assert not short.reached_end and "stopped after epoch 1 of 0–3" in (short.words() or "")


def test_resume_from_the_console_and_mid_epoch():
    log = (
        "\r\x1b[38;20m2026-12-01 08:38:01,000 - [TAO Toolkit] - INFO - Setting resume checkpoint to "
        "/results/x/train/model_epoch_000_step_00005.pth (initialize_experiments.py:81)\x1b[0mSeed set to 7\n"
    )
    r = find_resume(log)
    assert r is not None and r.checkpoint == "/results/x/train/model_epoch_000_step_00005.pth"
    lines = started("train") + [
        {"epoch": 0, "step": 6, "max_epoch": 0, "max_step": 6, "message": "Training loop in progress"}
    ]
    count = count_epochs(lines, log)
    assert count.mid_epoch and count.reached_end
    assert count.words() == (
        "resumed in epoch 0 at step 5 (from model_epoch_000_step_00005.pth) and reached the last epoch (0 of 0–0)"
    )
    assert count_epochs(started("train")).resume is None and count_epochs([]).words() is None


# ------------------------------------------------------------------------------------------- the help topic


def test_references_failures_md_is_generated_from_the_catalogue():
    path = REPO / "references" / "failures.md"
    assert path.read_text(encoding="utf-8") == catalogue_markdown() + "\n", (
        "stale: python -c 'from specgen.engine.failures import catalogue_markdown as m; "
        'open("references/failures.md", "w").write(m() + "\\n")\''
    )
    assert len({e.code for e in CATALOGUE}) == len(CATALOGUE)
    for e in CATALOGUE:  # every entry says where its knowledge comes from
        assert re.search(r"facts §|c_|spec_error|README|capture|PyTorch|verdict\.py|benchmarks/", e.source), (
            e.code
        )


@pytest.mark.parametrize(
    "value", [{"a": {"b": float("nan")}}, [1.0, float("nan")], {"a": [{"b": float("inf")}]}]
)
def test_a_non_finite_value_nested_under_a_loss_is_that_loss(value):
    """A hostile or odd status.json: NaN nested in a dict or a list under train_loss/val/loss is that loss's NaN
    (tests/hostile/figures.py found them judged PASS)."""
    (f,) = judge_metrics(_train_lines(GOOD, train_loss=[value]), "train")  # type: ignore[list-item]
    assert (f.key, f.severity) == ("train_loss", "fail")
    (f,) = judge_metrics(_train_lines({**GOOD, "val/loss": value}, train_loss=[0.3]), "train")
    assert (f.key, f.severity) == ("val/loss", "fail")
