"""The depth_net actions, once: every layer that names an action (the spec builders, validation, the engine's
requests and records, the CLI's choices, the screens) takes this type, so a seventh action is one line here."""

from __future__ import annotations

from typing import Literal, get_args

Action = Literal["train", "evaluate", "inference", "export", "quantize", "gen_trt_engine"]
#: In the order a model goes through them (also the order the CLI lists them).
ACTIONS: tuple[Action, ...] = get_args(Action)

__all__ = ["ACTIONS", "Action"]
