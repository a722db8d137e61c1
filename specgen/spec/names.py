"""TAO's names that a command line offers before anything is validated (actions, model types, encoders, recipes),
and the defaults its help shows.

Standard library only, so that ``depthnet --help`` and shell completion can build every sub-command's choices without
importing the pydantic schema (that import alone is ~1.5x a bare ``import yaml, pydantic``). The schema, the
validator, the recipes and the chain import these from here: one place for each list.
"""

from __future__ import annotations

# The depth_net actions that read an experiment spec (``convert`` reads its own, smaller one): one list, in
# spec/actions.py, re-exported here for the CLI.
from typing import Literal, get_args

from specgen.spec.actions import ACTIONS, Action  # noqa: F401

#: Where a run executes (the engine's backends implement these; the CLI offers them before importing any).
BackendName = Literal["docker", "local", "script", "slurm"]
BACKEND_NAMES: tuple[BackendName, ...] = get_args(BackendName)

METRIC_MODEL = "MetricDepthAnything"
RELATIVE_MODEL = "RelativeDepthAnything"
MONO_MODEL_TYPES: tuple[str, ...] = (METRIC_MODEL, RELATIVE_MODEL)
ENCODERS: tuple[str, ...] = ("vits", "vitb", "vitl", "vitg")
RECIPES: tuple[str, ...] = ("finetune", "sanity", "plain")

#: What may follow each action. TensorRT evaluate/inference follow gen_trt_engine (and run in the deploy image).
NEXT_ACTIONS: dict[str, tuple[str, ...]] = {
    "train": ("evaluate", "inference", "export", "quantize"),
    "evaluate": ("inference", "export"),
    "export": ("gen_trt_engine",),
    "gen_trt_engine": ("evaluate", "inference"),
    "quantize": (),
    "inference": ("evaluate", "export"),
}

#: Pairs the data doctor reads by default, spread across scenes (the wizard's Data check uses the same).
DEFAULT_SAMPLE = 32
#: The split seed convert records (TAO's own convert shuffles unseeded).
DEFAULT_SEED = 42


def package_version() -> str:
    """This installation's version, for ``--version`` of both entry points (read only when asked)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("depthnet-tui")
    except PackageNotFoundError:
        return "(not installed)"


#: What a train run starts from (the Weights step, ``--start``): a whole pretrained model, a backbone only, nothing.
STARTS: tuple[str, ...] = ("whole", "backbone", "none")
