"""Recognise how depth is encoded in the files, from dtype, shape and value statistics of a sample."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel


class Encoding(BaseModel):
    code: str
    label: str
    confidence: float
    evidence: list[str]
    #: classes that read this encoding correctly, best first
    fits: list[str]
    #: multiply the stored values by this to get metres (None: not metric)
    to_metres: float | None = None
    advice: str = ""


@dataclass
class Stats:
    """Pooled statistics of the stored depth values over the sample."""

    dtype: str = ""
    channels: int = 1
    shapes: set[tuple[int, int]] = field(default_factory=set)
    nonzero: list[np.ndarray] = field(default_factory=list)
    zero_fraction: float = 0.0
    saturated_fraction: float = 0.0
    div8_fraction: float = 0.0
    pixels: int = 0
    suffixes: set[str] = field(default_factory=set)

    def add(self, raw: np.ndarray, suffix: str, rng: np.random.Generator) -> None:
        self.suffixes.add(suffix)
        self.dtype = str(raw.dtype)
        self.channels = raw.shape[2] if raw.ndim == 3 else 1
        self.shapes.add(tuple(raw.shape[:2]))
        flat = raw.reshape(-1, self.channels) if self.channels > 1 else raw.reshape(-1)
        if self.channels == 3:
            r, g, b = (flat[:, i].astype(np.float64) for i in range(3))
            flat = r * 255.0 * 255.0 + g * 255.0 + b
        n = flat.shape[0]
        invalid = (flat == 0) if flat.dtype.kind in "iu" else (~np.isfinite(flat) | (flat == 0))
        zeros = int(np.count_nonzero(invalid))
        self.zero_fraction = (self.zero_fraction * self.pixels + zeros) / max(1, self.pixels + n)
        if raw.dtype == np.uint16:
            sat = int(np.count_nonzero(flat == 65535))
            self.saturated_fraction = (self.saturated_fraction * self.pixels + sat) / max(1, self.pixels + n)
        self.pixels += n
        nz = flat[(flat != 0) & np.isfinite(flat)] if flat.dtype.kind == "f" else flat[flat != 0]
        if nz.size > 5000:  # a fixed-size random subsample per map keeps percentiles cheap
            nz = nz[rng.integers(0, nz.size, 5000)]
        self.nonzero.append(nz)

    def percentiles(self, qs: list[float]) -> list[float]:
        pooled = np.concatenate(self.nonzero) if self.nonzero else np.empty(0)
        if pooled.size == 0:
            return [float("nan")] * len(qs)
        return [float(x) for x in np.percentile(pooled.astype(np.float64), qs)]

    def div8(self) -> float:
        pooled = np.concatenate(self.nonzero) if self.nonzero else np.empty(0, dtype=np.uint16)
        if pooled.size == 0 or pooled.dtype.kind not in "iu":
            return 0.0
        return float(np.mean(pooled % 8 == 0))


def classify(st: Stats) -> Encoding:
    p1, p50, p99 = st.percentiles([1, 50, 99])
    ev = [
        f"dtype {st.dtype}" + (f", {st.channels} channels" if st.channels > 1 else ""),
        f"sizes {', '.join(f'{w}×{h}' for h, w in sorted(st.shapes))}",
        f"non-zero values p1 {p1:.4g}, median {p50:.4g}, p99 {p99:.4g}",
        f"zeros {st.zero_fraction:.0%}",
    ]
    if not np.isfinite(p50):
        return Encoding(
            code="empty",
            label="no valid depth at all",
            confidence=0.9,
            evidence=ev,
            fits=[],
            advice="every sampled depth value is 0 or not finite",
        )
    if st.channels == 3 and st.dtype == "uint8":
        return Encoding(
            code="rgb24_mm",
            label="RGB-encoded 24-bit depth (R·255²+G·255+B, millimetres)",
            confidence=0.7,
            evidence=ev,
            fits=["FSD"],
            to_metres=0.001,
        )
    if st.dtype == "uint8":
        return Encoding(
            code="uint8_relative",
            label="8-bit grey: relative depth or a visualisation, no metric unit",
            confidence=0.6,
            evidence=ev,
            fits=["RelativeMonoDataset"],
            advice="8-bit maps hold 256 levels only; use the 16-bit or float originals if you have them",
        )
    if st.dtype in ("uint16", "int32", "int64"):
        div8 = st.div8()
        if div8 > 0.97 and p50 > 4000:
            ev.append(f"{div8:.0%} of values are multiples of 8 (low bits empty)")
            return Encoding(
                code="uint16_sun_rotated",
                label="SUN RGB-D bit-rotated millimetres ((d<<3)|(d>>13))",
                confidence=0.8,
                evidence=ev,
                fits=[],
                to_metres=0.001 / 8,
                advice="rotate the bits back to millimetres (d = (v>>3)|(v<<13) & 0xFFFF), then use NYUDV2",
            )
        if st.saturated_fraction > 0.02:
            ev.append(f"{st.saturated_fraction:.0%} of pixels are 65535 (sky/far clamp)")
            return Encoding(
                code="uint16_cm",
                label="uint16 centimetres (vKITTI-like, 65535 = far)",
                confidence=0.7,
                evidence=ev,
                fits=[],
                to_metres=0.01,
                advice="no TAO class reads centimetres: convert to millimetre PNGs (×10, clamp) for NYUDV2 or to metres PFM for MetricMonoDataset",
            )
        if st.zero_fraction > 0.6 and 256 * 2 < p50 < 256 * 90:
            ev.append("mostly empty pixels with outdoor-range values: sparse LiDAR")
            return Encoding(
                code="uint16_x256",
                label="uint16 metres × 256 (KITTI-like sparse LiDAR)",
                confidence=0.7,
                evidence=ev,
                fits=[],
                to_metres=1 / 256,
                advice="no TAO class reads ×256: write metres as PFM for MetricMonoDataset, or millimetres PNG for NYUDV2",
            )
        if 200 <= p50 <= 8000 and p99 <= 16000:
            return Encoding(
                code="uint16_mm",
                label="uint16 millimetres (raw NYU / ScanNet / Redwood-like)",
                confidence=0.9 if p99 <= 10000 else 0.75,
                evidence=ev,
                fits=["NYUDV2", "NYUDV2Relative"],
                to_metres=0.001,
            )
        if 1500 <= p50 <= 40000 and p1 >= 1000:
            return Encoding(
                code="uint16_x5000",
                label="uint16 metres × 5000 (TUM RGB-D)",
                confidence=0.75,
                evidence=ev,
                fits=[],
                to_metres=1 / 5000,
                advice="no TAO class reads ×5000: divide by 5 to get millimetres and use NYUDV2 (or write metres PFM for MetricMonoDataset)",
            )
        if p99 < 1000 and p50 < 256:
            return Encoding(
                code="uint16_disparity",
                label="uint16 disparity-like small values",
                confidence=0.5,
                evidence=ev,
                fits=["RelativeMonoDataset", "Crestereo"],
            )
        return Encoding(
            code="uint16_unknown",
            label="uint16 of unknown unit",
            confidence=0.3,
            evidence=ev,
            fits=[],
            advice="find out the unit from the data's documentation",
        )
    # float
    if p99 <= 1.0001 and p1 >= 0:
        return Encoding(
            code="float_relative",
            label="float in [0, 1]: normalised relative / inverse depth",
            confidence=0.6,
            evidence=ev,
            fits=["RelativeMonoDataset"],
        )
    if ".pfm" in st.suffixes and p50 > 50:
        return Encoding(
            code="float_disparity",
            label="float disparity in pixels (PFM, Middlebury/stereo-like)",
            confidence=0.6,
            evidence=ev,
            fits=["Middlebury", "IssacStereo", "NvCLIP", "RelativeMonoDataset"],
        )
    if 0.05 <= p50 <= 100:
        fits = ["MetricMonoDataset"] if st.suffixes & {".pfm", ".png"} else ["ThreeDVLM"]
        # 20–100 could be far metres or near disparity: say so, and do not raise a mismatch on it.
        return Encoding(
            code="float_metres",
            label="float metres",
            confidence=0.7 if p50 <= 20 else 0.45,
            evidence=ev,
            fits=fits,
            to_metres=1.0,
        )
    return Encoding(code="float_unknown", label="float of unknown unit", confidence=0.3, evidence=ev, fits=[])
