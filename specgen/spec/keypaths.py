"""Dotted key paths over nested spec dicts and over the model tree (for "where does this key belong")."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from functools import cache
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo


def loc_to_path(loc: tuple[Any, ...]) -> str:
    """pydantic loc ('dataset', 'train_dataset', 'data_sources', 0, 'data_file') → 'dataset.…data_sources[0].data_file'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith(("function-", "literal[")):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def _submodel(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _submodel(arg)
        if found is not None and get_origin(annotation) is not list:
            return found
    return None


def iter_fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, FieldInfo, bool]]:
    """Yield (dotted path, field, is_section) for every key of a model tree, depth first, in order."""
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        path = f"{prefix}{name}"
        sub = _submodel(field.annotation)
        yield path, field, sub is not None
        if sub is not None:
            yield from iter_fields(sub, path + ".")


@cache
def key_index(model: type[BaseModel]) -> dict[str, list[str]]:
    """Leaf/section name → every full path it has in the tree."""
    index: dict[str, list[str]] = {}
    for path, _field, _ in iter_fields(model):
        index.setdefault(path.rsplit(".", 1)[-1], []).append(path)
    return index


@cache
def all_paths(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(p for p, _f, _s in iter_fields(model))


def where_it_belongs(model: type[BaseModel], bad_path: str) -> str:
    """A fix for an unknown key: the place(s) the name exists, or the closest spelling."""
    name = bad_path.rsplit(".", 1)[-1]
    name = name.split("[", 1)[0]
    homes = [p for p in key_index(model).get(name, []) if p != bad_path]
    if homes:
        parent = homes[0].rsplit(".", 1)[0] if "." in homes[0] else "the top level"
        extra = f" (also: {', '.join(homes[1:4])})" if len(homes) > 1 else ""
        return f"{name} belongs under {parent} ({homes[0]}){extra}"
    parent_path = bad_path.rsplit(".", 1)[0] if "." in bad_path else ""
    siblings = [
        p.rsplit(".", 1)[-1]
        for p in all_paths(model)
        if (p.rsplit(".", 1)[0] if "." in p else "") == parent_path
    ]
    close = difflib.get_close_matches(name, siblings, n=1, cutoff=0.6)
    if close:
        return f"did you mean {(parent_path + '.' if parent_path else '') + close[0]}?"
    where = parent_path or "the top level"
    return (
        f"remove it; keys allowed in {where}: {', '.join(siblings[:12])}{' …' if len(siblings) > 12 else ''}"
    )


def get_path_or_none(data: dict[str, Any], path: str) -> Any:
    """The value at a dotted path, None when any part is missing (specs leave most keys out)."""
    try:
        return get_path(data, path)
    except KeyError:
        return None


def get_path(data: dict[str, Any], path: str) -> Any:
    cur: Any = data
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            raise KeyError(path)
        cur = cur[part]
    return cur


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    cur = data
    for part in parts[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[part] = nxt
        cur = nxt
    cur[parts[-1]] = value


def parse_assignment(text: str) -> tuple[str, Any]:
    """'train.optim.lr=5e-6' → ('train.optim.lr', 5e-06). Values are YAML scalars/lists."""
    if "=" not in text:
        raise ValueError(f"--set {text!r}: expected key.path=value, e.g. train.num_epochs=5")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ValueError(f"--set {text!r}: the key path is empty")
    from specgen.spec.safeyaml import YamlLimitError, load_text

    try:
        value = load_text(raw, key) if raw.strip() else ""
    except YamlLimitError as exc:
        raise ValueError(f"--set {key}: {exc}") from None
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str) and _looks_numeric(value):
        # YAML 1.1 reads '5e-6' as a string; TAO (OmegaConf) reads it as a float.
        value = float(value)
    return key, value


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip().lower() not in {"nan", "inf", "-inf", "+inf", "infinity"}


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out
