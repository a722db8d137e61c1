"""The wizard's state: one dataclass, saved atomically to ``<output>/.depthnet/session.json``.

Every screen reads from and writes to it, so quitting, a dropped SSH session or back/next loses nothing. Plain
dataclasses with a checked loader (not pydantic): the Welcome screen reads them, and start-up should not pay for
building validators.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from specgen.spec.atomicio import UnsafeTarget, read_bounded, write_text_atomic
from specgen.spec.locations import config_dir

SESSION_DIR = ".depthnet"
SESSION_FILE = "session.json"
#: A session is a few KB; anything near this is not one.
SESSION_LIMIT = 1 << 20


@dataclass
class WizardState:
    step: str = "data_root"
    data_root: str = ""
    output_dir: str = ""
    image_patterns: list[str] = field(default_factory=lambda: ["rgb_"])
    depth_patterns: list[str] = field(default_factory=lambda: ["sync_depth_"])
    image_extension: str = ".jpg"
    depth_extension: str = ".png"
    split_ratio: float = 0.8
    seed: int = 42
    train_file: str = ""
    val_file: str = ""
    test_file: str = ""
    annotations_key: str = ""
    model_type: str = "MetricDepthAnything"
    dataset_name: str = "NYUDV2"
    dataset_chosen: bool = False
    encoder: str = "vitl"
    recipe: str = "finetune"
    overrides: dict[str, Any] = field(default_factory=dict)
    min_depth: float | None = None
    max_depth: float | None = None
    #: The Weights step: what training starts from — "release" (a public one, fetched), "file" (one of your own),
    #: "run" (a TAO checkpoint of an earlier train run) or "none" (random weights: a sanity run).
    weights_source: str = "none"
    weights_release: str = ""  # the release's name (depthnet weights list)
    weights_run: str = ""  # the run id whose checkpoint it is
    weights_path: str = ""  # the file training starts from (its key follows from what it holds)
    action: str = "train"
    checkpoint: str = ""
    full_spec: bool = False
    saved_specs: dict[str, str] = field(default_factory=dict)
    run_backend: str = ""  # "" = docker when an engine answers, else local, else a script
    run_image: str = ""  # "" = the TAO image for the action
    run_gpus: str = "0"
    run_network: str = ""
    last_run_id: str = ""
    #: The person typed the override at the Model step: the data says the loss will be NaN, and they run it anyway.
    allow_known_failure: bool = False
    #: ctrl+r on train: "run" (plain training) or "sweep" as chosen last; "" never chosen (NVIDIA's automl_policy
    #: auto: a sweep is offered first when more than one GPU is free).
    run_mode: str = ""
    sweep_trials: int = 8
    sweep_parallel: int = 0  # 0: one trial per GPU chosen
    sweep_objective: str = ""  # "": the spec's default (val/abs_rel when it validates)
    sweep_direction: str = ""  # "": follows the objective
    sweep_space: list[str] = field(default_factory=list)  # --param lines; empty: TAO AutoML's ranges
    last_sweep: str = ""  # the sweep folder F3 opens

    @property
    def start_file(self) -> str | None:
        """The weights file a train spec starts from (None: random weights)."""
        return self.weights_path or None if self.weights_source != "none" else None

    @property
    def annotations_dir(self) -> Path:
        return Path(self.output_dir) / "annotations"

    @property
    def results_dir(self) -> str:
        return str(Path(self.output_dir) / "results")

    @property
    def session_path(self) -> Path:
        return Path(self.output_dir) / SESSION_DIR / SESSION_FILE

    def save(self) -> Path | None:
        """Written atomically, never through a link planted at session.json (``write_text_atomic``)."""
        if not self.output_dir:
            return None
        path = write_text_atomic(self.session_path, _dump(self) + "\n", overwrite=True)
        remember_session(path, self.data_root)
        return path

    @classmethod
    def load(cls, path: str | Path) -> WizardState:
        p = Path(path)
        if p.is_dir():
            p = p / SESSION_DIR / SESSION_FILE
        try:  # bounded: a FIFO, a device or a huge file named as the session is refused before it is read
            return _load(cls, json.loads(read_bounded(p, SESSION_LIMIT).decode("utf-8")))
        except FileNotFoundError:
            raise FileNotFoundError(f"{p}: no saved session there") from None
        except UnsafeTarget as exc:  # what it is (a FIFO, 2 GiB), said as the other "not a session" cases are
            raise ValueError(
                f"{p}: {exc.what}: not a depthnet-tui session; remove it or start a new setup"
            ) from None
        except (ValueError, TypeError, UnicodeDecodeError, RecursionError) as exc:
            raise ValueError(
                f"{p}: not a readable depthnet-tui session ({exc.__class__.__name__}); start a new setup"
            ) from None


@dataclass
class Recent:
    last_session: str | None = None
    roots: list[str] = field(default_factory=list)


def load_recent() -> Recent:
    try:
        return _load(Recent, json.loads((config_dir() / "recent.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return Recent()


def remember_session(session_path: Path, data_root: str) -> None:
    recent = load_recent()
    recent.last_session = str(session_path)
    if data_root:
        recent.roots = [data_root, *[r for r in recent.roots if r != data_root]][:8]
    try:
        write_text_atomic(config_dir() / "recent.json", _dump(recent), overwrite=True)
    except OSError:
        pass  # a read-only home must not break the wizard


T = TypeVar("T")
_KINDS = {
    "str": (str,),
    "bool": (bool,),
    "int": (int,),
    "float": (int, float),
    "float | None": (int, float, type(None)),
    "str | None": (str, type(None)),
    "list[str]": (list,),
    "dict[str, Any]": (dict,),
    "dict[str, str]": (dict,),
}


def _load(cls: type[T], data: Any) -> T:
    """``cls`` from parsed JSON; a wrong type names the key (unknown keys, from newer versions, are ignored)."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    values = {}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name not in data:
            continue
        value = data[f.name]
        kinds = _KINDS[str(f.type)]
        if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
            raise ValueError(f"{f.name}: expected {f.type}, found {type(value).__name__}")
        raw: Any = value  # checked above: one of the kinds this field takes
        if f.type == "list[str]" and not all(isinstance(v, str) for v in raw):
            raise ValueError(f"{f.name}: expected a list of strings")
        values[f.name] = float(raw) if str(f.type).startswith("float") and raw is not None else raw
    return cls(**values)


def _dump(obj: Any) -> str:
    return json.dumps(asdict(obj), indent=2)
