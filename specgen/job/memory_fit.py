"""Peak GPU memory of a depth_net train run, estimated from the encoder, crop, batch and precision — fitted to real
TAO 7.3.0 runs on an H100 (``benchmarks/gpu_memory_points.json``, made by ``benchmarks/gpu_memory.sh``).

Model: peak = fixed(encoder) + batch × per_sample(encoder, tokens) × precision factor, tokens = (H/14)·(W/14).
fixed holds weights, gradients, AdamW state, the CUDA context and the allocator's cache; per_sample the activations,
whose token dependence (linear + quadratic: attention) was fitted on ViT-L at crops 322 and 476 and scales the
other encoders' measured slopes. Measured facts worth knowing: ``activation_checkpoint`` changed nothing on one GPU
(TAO uses it only to choose the DDP strategy), fp16 (16-mixed) cut ViT-L's activations to 0.46×, and bf16 crashes.
ViT-G was not measured: its numbers are extrapolated by parameter count and width × depth, and say so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PATCH = 14
#: Tokens of the crop the slopes were measured at (476 × 476).
REF_TOKENS = (476 // PATCH) ** 2
#: GiB: (fixed, per sample at REF_TOKENS in fp32), from two batch sizes each at crop 476 (vitg extrapolated).
ENCODERS: dict[str, tuple[float, float]] = {
    "vits": (0.97, 1.1725),
    "vitb": (1.68, 2.30),
    "vitl": (6.15, 5.125),
    "vitg": (20.5, 12.81),
}
MEASURED = frozenset({"vits", "vitb", "vitl"})
#: Activation memory per sample ∝ a·t + b·t² (ViT-L at 529 and 1156 tokens: 2.03 and 5.125 GiB per sample).
LINEAR, QUADRATIC = 3.334e-3, 9.51e-7
#: Activations relative to fp32 (ViT-L, crop 476, batch 4: 15.66 GiB in fp16 against 26.65 in fp32).
PRECISION = {"fp32": 1.0, "fp16": 0.464, "bf16": 0.464}
#: Keep this share of a GPU's free memory for the rest (fragmentation, validation's larger batches, other users).
HEADROOM = 0.9


@dataclass(frozen=True)
class Estimate:
    peak_gib: float
    fixed_gib: float
    per_sample_gib: float
    measured: bool  # the encoder was calibrated (vitg is extrapolated)

    def text(self) -> str:
        how = "" if self.measured else " (ViT-G extrapolated, not measured)"
        return f"~{self.peak_gib:.1f} GiB peak{how}"


def _tokens(crop: list[int] | tuple[int, ...]) -> int:
    h, w = (crop[0], crop[1]) if len(crop) >= 2 else (crop[0], crop[0])
    return max(1, h // PATCH) * max(1, w // PATCH)


def _activation_scale(tokens: int) -> float:
    return (LINEAR * tokens + QUADRATIC * tokens**2) / (LINEAR * REF_TOKENS + QUADRATIC * REF_TOKENS**2)


def estimate(
    encoder: str, crop: list[int] | tuple[int, ...], batch: int, precision: str = "fp32"
) -> Estimate:
    """Peak GPU memory of one GPU of the run (each DDP rank holds a whole model and its own batch)."""
    fixed, slope = ENCODERS.get(encoder, ENCODERS["vitl"])
    per_sample = slope * _activation_scale(_tokens(crop)) * PRECISION.get(precision, 1.0)
    return Estimate(
        peak_gib=fixed + batch * per_sample,
        fixed_gib=fixed,
        per_sample_gib=per_sample,
        measured=encoder in MEASURED,
    )


def largest_batch(encoder: str, crop: list[int] | tuple[int, ...], precision: str, free_gib: float) -> int:
    """The largest batch whose estimate fits ``free_gib`` with headroom (0 when not even one sample fits)."""
    e = estimate(encoder, crop, 1, precision)
    room = free_gib * HEADROOM - e.fixed_gib
    return max(0, math.floor(room / e.per_sample_gib)) if e.per_sample_gib > 0 else 0


def fit_problem(
    encoder: str, crop: list[int] | tuple[int, ...], batch: int, precision: str, gpus: list[tuple[int, float]]
) -> str | None:
    """None when the run fits every chosen GPU ((index, free GiB) pairs); else one line with the numbers and the
    largest batch that fits the tightest GPU."""
    if not gpus:
        return None
    e = estimate(encoder, crop, batch, precision)
    index, free = min(gpus, key=lambda g: g[1])
    if e.peak_gib <= free * HEADROOM:
        return None
    best = largest_batch(encoder, crop, precision, free)
    advice = (
        f"the largest batch that fits is {best} (dataset.train_dataset.batch_size)"
        if best
        else "not even batch 1 fits: a smaller encoder or crop, fp16, or a GPU with more free memory"
    )
    return (
        f"{encoder} at crop {crop[0]}×{crop[-1]}, batch {batch}, {precision} needs {e.text()} of GPU memory; "
        f"GPU {index} has {free:.1f} GiB free: {advice}"
    )
