"""YAML from users, bounded: a spec is a few KB, so anything far larger, deeper or self-multiplying is refused with a
clear error in well under a second — never a hang, a RecursionError or a memory blow-up later, when the data is
walked. Duplicate keys are an error (TAO's loader rejects them too); so are integers too long to be a setting."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 1 << 20  # 1 MiB: the largest spec TAO could mean is a few KB
MAX_NODES = 100_000  # scalars + collections after expanding aliases
MAX_DEPTH = 64
MAX_INT_DIGITS = 30


class YamlLimitError(ValueError):
    """The text is not a spec we will read; the message says why and what to do."""


class _Loader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys and over-long integers (with the line)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise YamlLimitError(
                    f"line {key_node.start_mark.line + 1}: a key must be a plain value"
                ) from None
            if key in seen:
                raise YamlLimitError(
                    f"line {key_node.start_mark.line + 1}: duplicate key {key!r} (first on line "
                    f"{seen[key]}); TAO rejects duplicate keys: keep one"
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        digits = sum(c.isdigit() for c in str(node.value))
        if digits > MAX_INT_DIGITS:
            raise YamlLimitError(
                f"line {node.start_mark.line + 1}: an integer of {digits} digits is not a setting; "
                "fix the value"
            )
        return super().construct_yaml_int(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def _check_size(root: yaml.Node | None) -> None:
    """Nodes after alias expansion and nesting depth, counted on the composed graph (each node once)."""
    if root is None:
        return
    expanded: dict[int, int] = {}
    # iterative post-order walk, so a deep document cannot overflow our own stack
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    on_path: set[int] = set()
    while stack:
        node, depth, done = stack.pop()
        if depth > MAX_DEPTH:
            raise YamlLimitError(
                f"nesting deeper than {MAX_DEPTH} levels (line {node.start_mark.line + 1}): not a spec"
            )
        children = (
            [c for pair in node.value for c in pair]
            if isinstance(node, yaml.MappingNode)
            else list(node.value)
            if isinstance(node, yaml.SequenceNode)
            else []
        )
        if done:
            on_path.discard(id(node))
            expanded[id(node)] = 1 + sum(expanded[id(c)] for c in children)
            if expanded[id(node)] > MAX_NODES:
                raise YamlLimitError(
                    f"more than {MAX_NODES:,} values once its aliases (*name) are expanded: "
                    "an alias bomb or not a spec; remove the anchors and aliases"
                )
            continue
        if id(node) in expanded:
            continue
        if id(node) in on_path:
            raise YamlLimitError("a recursive alias (a node that contains itself): not a spec")
        on_path.add(id(node))
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if id(c) not in expanded)


def load_text(text: str, source: str = "<spec>") -> Any:
    """Parse ``text`` within the limits; YamlLimitError or yaml.YAMLError otherwise."""
    if len(text) > MAX_BYTES:
        raise YamlLimitError(
            f"{source}: {len(text) / 2**20:.1f} MiB; a spec is a few KB: is this the right file?"
        )
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            raise YamlLimitError(f"{source}: nested too deeply to be a spec") from None
        try:
            _check_size(node)
        except YamlLimitError as exc:
            raise YamlLimitError(f"{source}: {exc}") from None
        try:
            return loader.construct_document(node) if node is not None else None
        except YamlLimitError as exc:
            raise YamlLimitError(f"{source}: {exc}") from None
        except RecursionError:
            raise YamlLimitError(f"{source}: nested too deeply to be a spec") from None
    finally:
        loader.dispose()


def read_text_bounded(path: str | os.PathLike[str], limit: int = MAX_BYTES) -> str:
    """A small regular text file's content. FIFOs, devices and folders are refused before opening (opening a FIFO
    waits for a writer); a file over ``limit`` is refused without reading it all."""
    p = Path(path)
    st = p.stat()  # FileNotFoundError / PermissionError pass through
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(f"{p}: is a folder, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise YamlLimitError(f"{p}: not a regular file (a FIFO, socket or device); give the spec file itself")
    if st.st_size > limit:
        raise YamlLimitError(
            f"{p}: {st.st_size / 2**20:.1f} MiB; a spec is a few KB: is this the right file?"
        )
    with open(p, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise YamlLimitError(
            f"{p}: larger than {limit // 2**20} MiB; a spec is a few KB: is this the right file?"
        )
    return data.decode("utf-8")
