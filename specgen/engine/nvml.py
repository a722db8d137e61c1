"""GPU facts and telemetry from NVML (``nvidia-ml-py``), with one clean answer when there is none.

Without a driver (a laptop, CI, a login node) ``gpus()`` returns no GPU and the reason in one line; nothing here
raises for a missing library or driver. NVML indices are the host's: Docker's ``--gpus device=…`` and
``CUDA_VISIBLE_DEVICES`` use the same numbering.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

#: A GPU busier than this (utilisation %, or memory used share) is marked busy in the picker.
BUSY_UTIL = 10
BUSY_MEMORY = 0.10


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    memory_total: int  # bytes
    memory_free: int
    utilization: int | None  # percent
    compute_capability: tuple[int, int] | None
    processes: int | None = None

    @property
    def busy(self) -> bool:
        used = 1 - self.memory_free / self.memory_total if self.memory_total else 0
        return (self.utilization or 0) >= BUSY_UTIL or used >= BUSY_MEMORY or bool(self.processes)

    @property
    def bf16(self) -> bool:
        """bf16 needs Ampere (compute capability 8.0) or newer."""
        return self.compute_capability is not None and self.compute_capability >= (8, 0)

    def label(self) -> str:
        free = self.memory_free / 2**30
        total = self.memory_total / 2**30
        util = f", {self.utilization}% busy" if self.utilization is not None else ""
        mark = "  (in use)" if self.busy else ""
        return f"{self.index}: {self.name}, {free:.0f}/{total:.0f} GiB free{util}{mark}"


@dataclass(frozen=True)
class Sample:
    """One second of one GPU, for the Run screen."""

    index: int
    utilization: int | None
    memory_used: int
    memory_total: int
    temperature: int | None
    power_w: float | None

    def line(self) -> str:
        parts = [f"GPU {self.index}"]
        if self.utilization is not None:
            parts.append(f"{self.utilization:3d}%")
        parts.append(f"{self.memory_used / 2**30:.1f}/{self.memory_total / 2**30:.0f} GiB")
        if self.temperature is not None:
            parts.append(f"{self.temperature}°C")
        if self.power_w is not None:
            parts.append(f"{self.power_w:.0f} W")
        return "  ".join(parts)


@dataclass(frozen=True)
class Facts:
    gpus: list[Gpu]
    driver: str | None = None
    cuda: str | None = None
    absent: str | None = None  # why there is no GPU information (one line), else None


_LOCK = threading.Lock()
_STARTED = False


def _nvml() -> Any:
    """The initialised pynvml module; raises RuntimeError with one line when it cannot be had."""
    global _STARTED
    try:
        import pynvml
    except ImportError:
        raise RuntimeError("nvidia-ml-py is not installed (pip install nvidia-ml-py)") from None
    with _LOCK:
        if not _STARTED:
            try:
                pynvml.nvmlInit()
            except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, …: all mean "no GPU here"
                raise RuntimeError(f"no NVIDIA driver answers here (NVML: {_text(exc)})") from None
            _STARTED = True
    return pynvml


def _text(exc: Exception) -> str:
    text = str(exc).strip()
    return text or exc.__class__.__name__


def _maybe(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception:  # a field this GPU or driver does not report
        return None


def facts() -> Facts:
    """Every GPU with name, memory, utilisation and compute capability; the driver and CUDA versions."""
    try:
        nv = _nvml()
    except RuntimeError as exc:
        return Facts(gpus=[], absent=str(exc))
    out = []
    try:
        count = nv.nvmlDeviceGetCount()
    except Exception as exc:
        return Facts(gpus=[], absent=f"NVML could not count GPUs ({_text(exc)})")
    for i in range(count):
        h = _maybe(nv.nvmlDeviceGetHandleByIndex, i)
        if h is None:
            continue
        mem = _maybe(nv.nvmlDeviceGetMemoryInfo, h)
        util = _maybe(nv.nvmlDeviceGetUtilizationRates, h)
        name = _maybe(nv.nvmlDeviceGetName, h) or f"GPU {i}"
        procs = _maybe(nv.nvmlDeviceGetComputeRunningProcesses, h)
        out.append(
            Gpu(
                index=i,
                name=name.decode() if isinstance(name, bytes) else str(name),
                memory_total=int(mem.total) if mem else 0,
                memory_free=int(mem.free) if mem else 0,
                utilization=int(util.gpu) if util else None,
                compute_capability=_maybe(nv.nvmlDeviceGetCudaComputeCapability, h),
                processes=len(procs) if procs is not None else None,
            )
        )
    driver = _maybe(nv.nvmlSystemGetDriverVersion)
    cuda = _maybe(nv.nvmlSystemGetCudaDriverVersion_v2) or _maybe(nv.nvmlSystemGetCudaDriverVersion)
    return Facts(
        gpus=out,
        driver=driver.decode() if isinstance(driver, bytes) else driver,
        cuda=f"{cuda // 1000}.{cuda % 1000 // 10}" if isinstance(cuda, int) else None,
    )


def sample(indices: list[int] | None = None) -> list[Sample]:
    """Utilisation, memory, temperature and power of the given GPUs (all when None); [] without NVML."""
    try:
        nv = _nvml()
        count = nv.nvmlDeviceGetCount()
    except Exception:
        return []
    out = []
    for i in indices if indices is not None else range(count):
        if not 0 <= i < count:
            continue
        h = _maybe(nv.nvmlDeviceGetHandleByIndex, i)
        if h is None:
            continue
        mem = _maybe(nv.nvmlDeviceGetMemoryInfo, h)
        util = _maybe(nv.nvmlDeviceGetUtilizationRates, h)
        power = _maybe(nv.nvmlDeviceGetPowerUsage, h)
        out.append(
            Sample(
                index=i,
                utilization=int(util.gpu) if util else None,
                memory_used=int(mem.used) if mem else 0,
                memory_total=int(mem.total) if mem else 0,
                temperature=_maybe(nv.nvmlDeviceGetTemperature, h, 0),
                power_w=power / 1000 if isinstance(power, (int, float)) else None,
            )
        )
    return out


def run_gpus(gpus: str | None) -> list[int] | None:
    """The host GPU indices a run was given (``--gpus``): a list, None for all, [] for none or unknown."""
    if gpus is None or gpus == "none":
        return []
    if gpus == "all":
        return None
    try:
        return [int(x) for x in gpus.split(",") if x.strip()]
    except ValueError:
        return []
