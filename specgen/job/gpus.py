"""Set a spec's device keys from the GPUs a run gets, the way TAO's entrypoint will read them (facts §8).

TAO takes ``num_gpus`` / ``gpu_ids`` / ``num_nodes`` from the action's section, warns and takes the larger when
``num_gpus != len(gpu_ids)``, and picks the Lightning strategy from ``distributed_strategy`` and
``activation_checkpoint``. The run gets a copy of the spec with these keys made consistent (the user's file is
left as it is), and the notes say before launch what TAO will do with them.
"""

from __future__ import annotations

from typing import Any

from specgen.spec.keypaths import get_path_or_none, set_path

#: No host has more GPUs than this; a larger index cannot name one.
MAX_GPU_INDEX = 1023
#: Actions whose section has device keys.
DEVICE_SECTIONS = ("train", "evaluate", "inference")


def parse_gpus(text: str) -> list[int] | str:
    """``--gpus``: ``0,1`` → [0, 1]; ``all`` and ``none`` stay words. Raises ValueError with the fix."""
    text = text.strip()
    if text in ("all", "none"):
        return text
    try:
        ids = [int(x) for x in text.split(",") if x.strip() != ""]
    except ValueError:
        raise ValueError(f"--gpus {text!r}: give GPU indices like 0 or 0,1 (or all / none)") from None
    if any(i > MAX_GPU_INDEX for i in ids):  # 99999999999999999999 is a typo, not a device
        raise ValueError(f"--gpus {text!r}: a GPU index is 0 to {MAX_GPU_INDEX} (`nvidia-smi -L` lists them)")
    if not ids or any(i < 0 for i in ids) or len(set(ids)) != len(ids):
        raise ValueError(f"--gpus {text!r}: give distinct GPU indices like 0 or 0,1 (or all / none)")
    return ids


def device_keys(
    data: dict[str, Any], action: str, gpus_per_node: int, nodes: int = 1
) -> tuple[dict[str, Any], list[str]]:
    """The key changes that make ``action``'s section ask for ``gpus_per_node`` GPUs on ``nodes`` nodes, and the
    notes for the user (what was inconsistent, what TAO will do with the strategy). The run sees its GPUs as
    0..n-1 (Docker and CUDA_VISIBLE_DEVICES renumber them), so ``gpu_ids`` is always ``range(n)``."""
    if action not in DEVICE_SECTIONS or gpus_per_node < 1:
        return {}, []
    notes: list[str] = []
    num = get_path_or_none(data, f"{action}.num_gpus")
    ids = get_path_or_none(data, f"{action}.gpu_ids")
    if isinstance(num, int) and isinstance(ids, list) and num != len(ids):
        notes.append(
            f"the spec had {action}.num_gpus {num} but {len(ids)} gpu_ids (TAO would warn and take the "
            f"larger): both set for the {gpus_per_node} GPU(s) chosen"
        )
    changes: dict[str, Any] = {
        f"{action}.num_gpus": gpus_per_node,
        f"{action}.gpu_ids": list(range(gpus_per_node)),
    }
    if action == "train":
        changes["train.num_nodes"] = nodes
        if gpus_per_node * nodes > 1:
            strategy = get_path_or_none(data, "train.distributed_strategy") or "ddp"
            checkpointing = bool(get_path_or_none(data, "train.activation_checkpoint"))
            precision = get_path_or_none(data, "train.precision") or "fp32"
            if strategy == "fsdp":
                if precision != "fp16":
                    notes.append(
                        f"fsdp: TAO overrides precision to 16-mixed (fp16); train.precision {precision} is "
                        "ignored"
                    )
            elif checkpointing:
                notes.append("ddp with activation checkpointing: TAO uses plain ddp")
            else:
                notes.append(
                    "ddp without activation checkpointing: TAO uses ddp_find_unused_parameters_true "
                    "(slower; set train.activation_checkpoint: true to save memory and use plain ddp)"
                )
    current = {k: get_path_or_none(data, k) for k in changes}
    changes = {
        k: v for k, v in changes.items() if current[k] != v and not (current[k] is None and _default(k, v))
    }
    return changes, notes


def _default(key: str, value: Any) -> bool:
    """An absent key already means this value (TAO's defaults: one GPU, id 0, one node)."""
    return value in (1, [0]) and key.rsplit(".", 1)[1] in ("num_gpus", "gpu_ids", "num_nodes")


def apply(data: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for key, value in changes.items():
        set_path(data, key, value)
    return data
