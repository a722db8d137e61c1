"""Pydantic models of the TAO 7.3.0 depth_net experiment spec, as far as the mono workflow uses it.

Types, defaults and declared options follow nvidia-tao-core 7.3.0 (a drift test compares them).
Unlike TAO, option lists are enforced here: TAO accepts ``precision: fp33`` and fails hours later.
Stereo-only keys are accepted (a spec written for TAO may carry them) but never emitted.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: TAO's "mandatory, no default" marker (OmegaConf MISSING). We model it as ``None`` = not set.
TAO_MISSING = "???"

Encoder = Literal["vits", "vitb", "vitl", "vitg"]
ModelType = Literal[
    "FoundationStereo", "FastFoundationStereo", "MetricDepthAnything", "RelativeDepthAnything"
]

# Keys TAO's schema knows that only the stereo pipeline reads: accepted on input, dropped on output.
STEREO_ONLY: dict[str, tuple[str, ...]] = {
    "dataset": ("max_disparity", "baseline", "focal_x"),
    "model": (
        "stereo_backbone",
        "hidden_dims",
        "corr_radius",
        "cv_group",
        "train_iters",
        "valid_iters",
        "volume_dim",
        "low_memory",
        "mixed_precision",
        "gwc_feature_normalize",
        "n_gru_layers",
        "corr_levels",
        "n_downsample",
        "motion_encoder_widths",
        "motion_encoder_final",
        "gru_hidden",
        "gru_gating_conv_widths",
        "disp_head_input_dim",
        "disp_head_intermediate",
        "disp_head_pwconv1_widths",
        "mask_widths",
        "stem_2_widths",
        "spx_2_gru_widths",
        "spx_gru_out",
        "classifier_mid",
        "cnet_conv04_widths",
        "cam_mid_channels",
        "cost_agg_conv_patch_padding",
        "concat_channel",
        "max_disparity",
    ),
    "export": ("valid_iters",),
}


def _numeric(annotation: Any) -> bool:
    """int/float, alone or in an Optional/Union (bool itself excluded)."""
    import types
    import typing

    args = (
        typing.get_args(annotation)
        if typing.get_origin(annotation) in (typing.Union, types.UnionType)
        else (annotation,)
    )
    return any(a in (int, float) for a in args) and bool not in args


class Section(BaseModel):
    """Base of every spec section: unknown keys are errors, assignments are validated."""

    #: Built on first use: importing the schema (for the names, or one section) does not build all 22 models.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False, defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _no_yes_for_numbers(cls, data: Any) -> Any:
        """YAML reads yes/no/on/off as booleans; pydantic would take them as 1/0 where a number is meant."""
        if isinstance(data, dict):
            for name, value in data.items():
                field = cls.model_fields.get(name)
                if isinstance(value, bool) and field is not None and _numeric(field.annotation):
                    raise ValueError(
                        f"{name}: {str(value).lower()} is a yes/no, not a number; write the number"
                    )
        return data


class StereoTolerantSection(Section):
    """A section that may carry stereo-only keys: they are set aside (never dumped) instead of rejected."""

    STEREO_KEYS: ClassVar[tuple[str, ...]] = ()
    stereo_only: dict[str, Any] = Field(default_factory=dict, exclude=True, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _set_aside_stereo_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(k in data for k in cls.STEREO_KEYS):
            data = dict(data)
            data["stereo_only"] = {k: data.pop(k) for k in list(data) if k in cls.STEREO_KEYS}
        return data


# --------------------------------------------------------------------------- dataset


class DataSource(Section):
    data_file: str = Field(
        description="Annotation file: one sample per line, `<image> <depth>` (or `<image>` for inference)."
    )
    dataset_name: str = Field(
        description="Per-source dataset class (case-insensitive), e.g. NYUDV2, MetricMonoDataset."
    )

    @field_validator("dataset_name")
    @classmethod
    def _known_class(cls, v: str) -> str:
        from specgen.spec.catalog import lookup_dataset

        if lookup_dataset(v) is None:
            from specgen.spec.catalog import DATASETS

            raise ValueError(f"unknown dataset class {v!r}; use one of {', '.join(d.name for d in DATASETS)}")
        return v

    @field_validator("data_file")
    @classmethod
    def _non_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("data_file is empty; give the path of an annotation file (train.txt, val.txt …)")
        return v


class Augmentation(Section):
    input_mean: list[float] = Field(
        default_factory=lambda: [0.485, 0.456, 0.406],
        description="Per-channel mean used to normalise the RGB input.",
    )
    input_std: list[float] = Field(
        default_factory=lambda: [0.229, 0.224, 0.225],
        description="Per-channel standard deviation used to normalise the RGB input.",
    )
    crop_size: list[int] = Field(
        default_factory=lambda: [518, 518],
        description="Training crop [height, width]; multiples of 14 suit the ViT patch size.",
    )

    @field_validator("crop_size")
    @classmethod
    def _crop(cls, v: list[int]) -> list[int]:
        """Two positive multiples of 14: TAO indexes [0] and [1] (one entry is an IndexError at the first batch), a
        zero or negative size crops nothing, and an odd size fails with "Crop size needs to be smaller than image
        size" (facts §2.5)."""
        if len(v) != 2:
            raise ValueError(f"crop_size needs two sizes [height, width], not {len(v)}; e.g. [518, 518]")
        bad = [x for x in v if x <= 0 or x % 14]
        if bad:
            near = [max(14, round(x / 14) * 14) for x in v]
            raise ValueError(
                f"crop_size {v}: each size must be a positive multiple of the ViT patch size 14; e.g. {near}"
            )
        return v

    min_scale: float = Field(-0.2, description="Lower bound of the random scale augmentation (log2 scale).")
    max_scale: float = Field(0.4, description="Upper bound of the random scale augmentation (log2 scale).")
    do_flip: bool = Field(False, description="Enable random flips.")
    yjitter_prob: float = Field(1.0, ge=0.0, le=1.0, description="Probability of vertical jitter.")
    gamma: list[int] = Field(
        default_factory=lambda: [1, 1, 1, 1], description="Gamma augmentation parameters."
    )
    color_aug_prob: float = Field(0.2, ge=0.0, le=1.0, description="Probability of colour augmentation.")
    color_aug_brightness: float = Field(0.4, ge=0.0, le=1.0, description="Brightness jitter strength.")
    color_aug_contrast: float = Field(0.4, ge=0.0, le=1.0, description="Contrast jitter strength.")
    color_aug_saturation: list[float] = Field(
        default_factory=lambda: [0.0, 1.4], description="Saturation jitter range."
    )
    color_aug_hue_range: list[float] = Field(
        default_factory=lambda: [-0.027777777777777776, 0.027777777777777776], description="Hue jitter range."
    )
    eraser_aug_prob: float = Field(0.5, ge=0.0, le=1.0, description="Probability of random erasing.")
    spatial_aug_prob: float = Field(1.0, ge=0.0, le=1.0, description="Probability of spatial augmentation.")
    stretch_prob: float = Field(0.8, ge=0.0, le=1.0, description="Probability of stretching.")
    max_stretch: float = Field(0.2, ge=0.0, le=1.0, description="Maximum stretch factor.")
    h_flip_prob: float = Field(0.5, ge=0.0, le=1.0, description="Probability of a horizontal flip.")
    v_flip_prob: float = Field(0.5, ge=0.0, le=1.0, description="Probability of a vertical flip.")
    hshift_prob: float = Field(0.5, ge=0.0, le=1.0, description="Probability of a horizontal shift.")
    crop_min_valid_disp_ratio: float = Field(
        0.0, ge=0.0, le=1.0, description="Minimum fraction of valid pixels a crop must keep."
    )


class SplitDataset(Section):
    data_sources: list[DataSource] | None = Field(
        None, description="Annotation files of this split; each entry needs data_file and dataset_name."
    )
    batch_size: int = Field(1, ge=1, description="Samples per GPU per step.")
    workers: int = Field(8, ge=1, description="Data-loader worker processes.")
    pin_memory: bool = Field(True, description="Pin host memory for faster GPU copies.")
    augmentation: Augmentation = Field(
        default_factory=Augmentation, description="Augmentation and input normalisation."
    )


class QuantCalibrationDataset(Section):
    images_dir: str = Field("", description="Folder of RGB images used to calibrate quantisation.")


class DatasetConfig(StereoTolerantSection):
    STEREO_KEYS = STEREO_ONLY["dataset"]
    dataset_name: Literal["MonoDataset", "StereoDataset"] = Field(
        "StereoDataset",
        description="Data pipeline switch (exact case). Must be MonoDataset for mono; TAO's default is StereoDataset.",
    )
    normalize_depth: bool = Field(
        False, description="Rescale each depth map to [0, 1] by its own min/max (NaN where +inf is present)."
    )
    max_depth: float | None = Field(
        None,
        gt=0.0,
        description="Metric only: upper bound of valid depth in metres (TAO's class default 10). TAO declares range [1.0, inf].",
    )
    min_depth: float | None = Field(
        None,
        ge=0.0,
        description="Metric only: lower bound of valid depth in metres (TAO's class default 0.001).",
    )
    train_dataset: SplitDataset = Field(default_factory=SplitDataset, description="Training data.")
    val_dataset: SplitDataset = Field(default_factory=SplitDataset, description="Validation data.")
    test_dataset: SplitDataset = Field(default_factory=SplitDataset, description="Evaluation data.")
    infer_dataset: SplitDataset = Field(
        default_factory=SplitDataset, description="Inference data (1-column lines allowed)."
    )
    quant_calibration_dataset: QuantCalibrationDataset = Field(
        default_factory=QuantCalibrationDataset, description="Calibration images for quantize."
    )


# --------------------------------------------------------------------------- model


class MonoBackbone(Section):
    pretrained_path: str | None = Field(
        None, description="Backbone or public Depth Anything V2 weights to start from."
    )
    use_bn: bool = Field(False, description="Use batch norm in the DPT head.")
    use_clstoken: bool = Field(False, description="Use the class token in the DPT head.")


class ModelConfig(StereoTolerantSection):
    STEREO_KEYS = STEREO_ONLY["model"]
    model_type: ModelType = Field(
        "MetricDepthAnything",
        description="MetricDepthAnything (metres) or RelativeDepthAnything (relative disparity); stereo types are not mono.",
    )
    encoder: Encoder = Field("vitl", description="ViT size of the DINOv2 encoder: vits, vitb, vitl, vitg.")
    mono_backbone: MonoBackbone = Field(default_factory=MonoBackbone, description="Mono backbone settings.")


# --------------------------------------------------------------------------- train


class CuDNN(Section):
    benchmark: bool = Field(False, description="cudnn.benchmark: faster kernels, non-deterministic.")
    deterministic: bool = Field(True, description="cudnn.deterministic.")


class Checkpointer(Section):
    enable_topk: bool = Field(False, description="Keep the top-k checkpoints by a monitored metric.")
    replace_periodic: bool = Field(False, description="Replace periodic checkpoints instead of keeping all.")
    monitor: str | None = Field(None, description="Metric to monitor for top-k, e.g. val/loss.")
    mode: Literal["min", "max"] | None = Field(
        None, description="Whether the monitored metric should be minimised or maximised."
    )
    save_top_k: int = Field(1, ge=1, description="How many best checkpoints to keep.")
    filename: str = Field("model_best_{epoch:03d}", description="File name pattern of top-k checkpoints.")
    dirpath: str | None = Field(None, description="Folder for top-k checkpoints.")
    auto_insert_metric_name: bool = Field(False, description="Insert the metric name in the file name.")


LR_SCHEDULERS: tuple[str, ...] = (
    "MultiStepLR",
    "MultiStep",
    "StepLR",
    "CustomMultiStepLRScheduler",
    "LambdaLR",
    "PolynomialLR",
    "OneCycleLR",
    "CosineAnnealingLR",
)


class Optim(Section):
    optimizer: Literal["AdamW", "SGD"] = Field("AdamW", description="Optimizer.")
    monitor_name: Literal["val_loss", "train_loss"] = Field(
        "val_loss", description="Metric the scheduler monitors."
    )
    lr: float = Field(0.0001, gt=0.0, description="Learning rate.")
    momentum: float = Field(0.9, ge=0.0, le=1.0, description="Momentum (SGD).")
    weight_decay: float = Field(0.0001, ge=0.0, description="Weight decay.")
    lr_scheduler: Literal[LR_SCHEDULERS] = Field(  # type: ignore[valid-type]
        "MultiStepLR",
        description="Learning-rate schedule (TAO's default MultiStepLR is spelt MultiStep in its own option list).",
    )
    lr_steps: list[int] = Field(
        default_factory=lambda: [1000], description="Steps at which MultiStep decays the lr."
    )
    lr_step_size: int = Field(1000, ge=1, description="Step size of StepLR.")
    lr_decay: float = Field(0.1, ge=0.0, le=1.0, description="Decay factor.")
    min_lr: float = Field(1e-07, ge=0.0, description="Lower bound of the learning rate.")
    warmup_steps: int = Field(20, ge=0, description="Read nowhere by depth_net 7.3.0 (no warm-up happens).")


class TrainConfig(Section):
    num_gpus: int = Field(1, ge=1, description="GPUs per node.")
    gpu_ids: list[int] = Field(default_factory=lambda: [0], description="GPU indices to use.")
    num_nodes: int = Field(1, ge=1, description="Nodes for multi-node training.")
    seed: int = Field(1234, ge=-1, description="Random seed.")
    cudnn: CuDNN = Field(default_factory=CuDNN, description="cuDNN flags.")
    num_epochs: int = Field(10, ge=1, description="Training epochs.")
    checkpoint_interval: int = Field(1, ge=1, description="Save a checkpoint every N units.")
    checkpoint_interval_unit: Literal["epoch", "step"] = Field(
        "epoch", description="Unit of checkpoint_interval."
    )
    validation_interval: int = Field(1, ge=1, description="Validate every N epochs.")
    resume_training_checkpoint_path: str | None = Field(
        None, description="Checkpoint to resume from (else *_latest.pth in the train folder)."
    )
    results_dir: str | None = Field(None, description="Overrides <results_dir>/train.")
    checkpointer: Checkpointer = Field(default_factory=Checkpointer, description="Top-k checkpointing.")
    checkpoint_interval_steps: int | None = Field(None, ge=1, description="Checkpoint every N steps.")
    pretrained_model_path: str | None = Field(None, description="A DepthNet checkpoint to start from.")
    clip_grad_norm: float = Field(
        0.1,
        ge=0.0,
        description="Gradient clipping by value (Lightning's 'value' algorithm: each element to ±this; 0 disables).",
    )
    dataloader_visualize: bool = Field(False, description="Save augmented samples for inspection.")
    vis_step_interval: int = Field(10, ge=1, description="Visualisation interval in steps.")
    is_dry_run: bool = Field(False, description="Dry run.")
    optim: Optim = Field(default_factory=Optim, description="Optimizer and schedule.")
    precision: Literal["bf16", "fp32", "fp16"] = Field(
        "fp32", description="fp32 (32-true), fp16 (16-mixed), bf16 (bf16-mixed, TAO >= 7.3.0, SM80+ GPUs)."
    )
    distributed_strategy: Literal["ddp", "fsdp"] = Field("ddp", description="Multi-GPU strategy.")
    activation_checkpoint: bool = Field(
        False,
        description="With several GPUs: true → plain ddp, false → ddp_find_unused_parameters_true (TAO 7.3.0; on one GPU it changed no memory on an H100).",
    )
    inference_tile: bool = Field(False, description="Tiled inference during validation.")
    tile_wtype: str = Field("gaussian", description="Tile blending weights.")
    tile_min_overlap: list[int] = Field(default_factory=lambda: [16, 16], description="Minimum tile overlap.")
    log_every_n_steps: int = Field(
        500, ge=1, description="Log (and update the progress-bar loss) every N steps."
    )


# --------------------------------------------------------------------------- evaluate / inference / export / deploy


class EvaluateConfig(Section):
    num_gpus: int = Field(1, ge=1, description="GPUs.")
    gpu_ids: list[int] = Field(default_factory=lambda: [0], description="GPU indices.")
    num_nodes: int = Field(1, ge=1, description="Nodes.")
    checkpoint: str | None = Field(None, description="DepthNet checkpoint to evaluate (TAO: mandatory).")
    trt_engine: str | None = Field(None, description="TensorRT engine (TAO Deploy).")
    results_dir: str | None = Field(None, description="Overrides <results_dir>/evaluate.")
    batch_size: int = Field(-1, ge=-1, description="Batch size (-1: from the dataset).")
    input_width: int | None = Field(None, ge=1, description="Input width.")
    input_height: int | None = Field(None, ge=1, description="Input height.")
    native_padded: bool | None = Field(
        False, description="Pad to multiples of 32 and run at native size (dynamic TRT engine)."
    )


class InferenceConfig(Section):
    num_gpus: int = Field(1, ge=1, description="GPUs.")
    gpu_ids: list[int] = Field(default_factory=lambda: [0], description="GPU indices.")
    num_nodes: int = Field(1, ge=1, description="Nodes.")
    checkpoint: str | None = Field(None, description="DepthNet checkpoint (TAO: mandatory).")
    trt_engine: str | None = Field(None, description="TensorRT engine (TAO Deploy).")
    results_dir: str | None = Field(None, description="Overrides <results_dir>/inference.")
    batch_size: int = Field(-1, ge=-1, description="Batch size (-1: from the dataset).")
    conf_threshold: float = Field(0.5, description="Unused by depth; kept for schema parity.")
    input_width: int | None = Field(None, ge=1, description="Input width.")
    input_height: int | None = Field(None, ge=1, description="Input height.")
    save_raw_pfm: bool | None = Field(
        False, description="Also save the raw prediction as PFM (inference_pfm/)."
    )
    save_raw_npy: bool | None = Field(False, description="Also save the raw prediction as .npy.")


class ExportConfig(StereoTolerantSection):
    STEREO_KEYS = STEREO_ONLY["export"]
    results_dir: str | None = Field(None, description="Overrides <results_dir>/export.")
    gpu_id: int = Field(0, ge=0, description="GPU used for export.")
    checkpoint: str | None = Field(None, description="DepthNet checkpoint to export (TAO: mandatory).")
    onnx_file: str | None = Field(
        None, description="Output ONNX path; must not exist (TAO refuses to overwrite)."
    )
    on_cpu: bool = Field(False, description="Export on the CPU.")
    input_channel: Literal[1, 3] = Field(3, description="Input channels.")
    input_width: int = Field(960, ge=32, description="Export input width (multiple of 14 for ViT).")
    input_height: int = Field(544, ge=32, description="Export input height (multiple of 14 for ViT).")
    opset_version: int = Field(17, ge=1, description="ONNX opset.")
    batch_size: int = Field(-1, ge=-1, description="Batch size (-1: dynamic).")
    verbose: bool = Field(False, description="Verbose export.")
    format: Literal["onnx", "xdl"] = Field("onnx", description="Export format.")
    dynamic_hw: bool | None = Field(False, description="Dynamic H/W axes (ignored for mono models).")


class TensorRT(Section):
    workspace_size: int = Field(
        1024,
        ge=0,
        description="Builder workspace in GiB (TAO Deploy 7.3.0 multiplies by 2**30: the default 1024 is 1 TiB).",
    )
    min_batch_size: int = Field(1, ge=1, description="Minimum batch of the optimisation profile.")
    opt_batch_size: int = Field(1, ge=1, description="Optimal batch of the optimisation profile.")
    max_batch_size: int = Field(1, ge=1, description="Maximum batch of the optimisation profile.")
    layers_precision: list[str] | None = Field(
        default_factory=list, description="Per-layer precision overrides."
    )
    data_type: Literal["FP32", "FP16", "BF16"] = Field(
        "FP32",
        description="Engine precision: FP32, or BF16 on SM80+ (FP16 overflows the ViT-L mono backbone).",
    )


class GenTrtEngineConfig(Section):
    results_dir: str | None = Field(None, description="Overrides <results_dir>/gen_trt_engine.")
    gpu_id: int = Field(0, ge=0, description="GPU used to build the engine.")
    onnx_file: str | None = Field(None, description="ONNX model to convert (TAO: mandatory).")
    trt_engine: str | None = Field(None, description="Output engine path (TAO: mandatory).")
    timing_cache: str | None = Field(None, description="TensorRT timing cache file.")
    batch_size: int = Field(-1, ge=-1, description="Batch size (-1: dynamic).")
    verbose: bool = Field(False, description="Verbose build.")
    tensorrt: TensorRT = Field(default_factory=TensorRT, description="Builder settings.")
    min_height: int | None = Field(None, ge=14, description="Dynamic-shape minimum height.")
    opt_height: int | None = Field(None, ge=14, description="Dynamic-shape optimal height.")
    max_height: int | None = Field(None, ge=14, description="Dynamic-shape maximum height.")
    min_width: int | None = Field(None, ge=14, description="Dynamic-shape minimum width.")
    opt_width: int | None = Field(None, ge=14, description="Dynamic-shape optimal width.")
    max_width: int | None = Field(None, ge=14, description="Dynamic-shape maximum width.")


class QuantizeConfig(Section):
    backend: Literal["modelopt.pytorch", "torchao", "modelopt.onnx"] | None = Field(
        "torchao", description="Quantisation backend."
    )
    mode: Literal["static_ptq", "weight_only_ptq"] | None = Field(
        "weight_only_ptq", description="Quantisation mode."
    )
    algorithm: Literal["minmax", "max", "entropy", "awq_clip", "awq_lite", "awq_full", "rtn_dq"] | None = (
        Field("minmax", description="Calibration algorithm.")
    )
    layers: list[dict[str, Any]] | None = Field(
        default_factory=list, description="Per-layer quantisation settings."
    )
    skip_names: list[str] | None = Field(
        default_factory=list, description="Layer names to leave unquantised."
    )
    model_path: str | None = Field("", description="Checkpoint to quantise.")
    results_dir: str | None = Field("", description="Overrides <results_dir>/quantize.")
    backend_kwargs: dict[str, Any] | None = Field(
        default_factory=dict, description="Extra backend arguments."
    )
    device: str = Field("cuda", description="Device to quantise on.")


class WandB(Section):
    enable: bool = Field(True, description="Log to Weights & Biases.")
    project: str = Field("TAO Toolkit", description="W&B project.")
    entity: str | None = Field("", description="W&B entity.")
    group: str | None = Field("", description="W&B group.")
    tags: list[str] = Field(default_factory=lambda: ["tao-toolkit"], description="W&B tags.")
    reinit: bool = Field(False, description="Re-initialise the W&B run.")
    sync_tensorboard: bool = Field(False, description="Sync TensorBoard logs.")
    save_code: bool = Field(False, description="Save code to W&B.")
    name: str = Field("TAO Toolkit Training", description="W&B run name.")
    run_id: str = Field("", description="W&B run id to resume.")


class ExperimentSpec(Section):
    """The whole ``depth_net <action> -e spec.yaml`` document."""

    model_name: str | None = Field(None, description="Model name.")
    encryption_key: str | None = Field(None, description="Key for encrypted checkpoints.")
    results_dir: str | None = Field(
        "", description="Root of every action's results; an action writes to <results_dir>/<action>."
    )
    model: ModelConfig = Field(default_factory=ModelConfig, description="Model.")
    dataset: DatasetConfig = Field(default_factory=DatasetConfig, description="Data.")
    train: TrainConfig = Field(default_factory=TrainConfig, description="Training.")
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig, description="Evaluation.")
    inference: InferenceConfig = Field(default_factory=InferenceConfig, description="Inference.")
    export: ExportConfig = Field(default_factory=ExportConfig, description="ONNX export.")
    gen_trt_engine: GenTrtEngineConfig = Field(
        default_factory=GenTrtEngineConfig, description="TensorRT engine build (TAO Deploy)."
    )
    quantize: QuantizeConfig = Field(default_factory=QuantizeConfig, description="Quantisation.")
    wandb: WandB = Field(default_factory=WandB, description="Weights & Biases logging.")

    def stereo_keys_ignored(self) -> list[str]:
        """Dotted paths of stereo-only keys that were given and will not be emitted."""
        out: list[str] = []
        for section in ("dataset", "model", "export"):
            sec = getattr(self, section)
            out += [f"{section}.{k}" for k in sec.stereo_only]
        return out


# --------------------------------------------------------------------------- convert


class ConvertSpec(Section):
    """The ``depth_net convert -e convert.yaml`` document."""

    data_root: str | None = Field(
        None, description="Folder whose sub-folders (scenes) are walked; files directly in it are ignored."
    )
    results_dir: str | None = Field(
        None, description="Where train.txt/val.txt or test.txt are written (TAO: mandatory; appends!)."
    )
    image_dir_pattern: list[str] = Field(
        default_factory=list,
        description="Substrings every image path must contain; each is replaced by its depth pattern.",
    )
    right_dir_pattern: list[str] = Field(
        default_factory=list, description="Stereo only: right-image patterns."
    )
    depth_dir_pattern: list[str] = Field(
        default_factory=list, description="Replacement for each image pattern, giving the depth path."
    )
    nocc_dir_pattern: list[str] = Field(
        default_factory=list, description="Stereo only: non-occlusion mask patterns."
    )
    split_ratio: float = Field(
        0.0, ge=0.0, le=1.0, description="Train fraction; 0 or 1 writes everything to test.txt."
    )
    depth_extension: str = Field(
        "png", description="Replaces image_extension in the depth path — include the dot (.png)."
    )
    image_extension: str = Field("jpg", description="Image filter and swap text — include the dot (.jpg).")
    nocc_mask_dir_name: str = Field("", description="Stereo only.")
    nocc_extension: str = Field("png", description="Stereo only.")
