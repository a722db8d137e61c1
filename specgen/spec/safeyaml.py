"""YAML from users, bounded: a spec is a few KB, so anything far larger, deeper or self-multiplying is refused with a
clear error in well under a second — never a hang, a RecursionError or a memory blow-up later, when the data is
walked. Duplicate keys are an error (TAO's loader rejects them too); so are integers too long to be a setting.
Merge keys (``<<: *base``) are read as TAO's OmegaConf reads them; the alias-expansion bound counts what they
bring in, so a merge bomb is refused like an alias bomb."""

from __future__ import annotations

import os
import re
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
        """Duplicate keys are checked among the mapping's own keys; merge keys (``<<: *base``, which TAO's OmegaConf
        accepts) are then flattened as PyYAML does, so an own key overrides a merged one, as YAML says."""
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
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
        try:
            self.flatten_mapping(node)
        except (
            yaml.constructor.ConstructorError
        ) as exc:  # `<<: 5`: a merge of something that is not a mapping
            raise YamlLimitError(
                f"line {node.start_mark.line + 1}: a merge key (<<) takes a mapping or a list of mappings ({exc.problem})"
            ) from None
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


_FLOW = re.compile(r"[\[\]{}]")


def _flow_too_deep(text: str) -> int | None:
    """The line where ``[``/``{`` nesting passes MAX_DEPTH, found on the text before any parsing: PyYAML's parser
    recurses once per flow level, and thousands of levels cost seconds to reach and unwind its RecursionError.
    Brackets inside quoted strings count too — a spec never holds 64 unclosed ones."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return None
    depth = 0
    for m in _FLOW.finditer(text):
        if m.group() in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return text.count("\n", 0, m.start()) + 1
        elif depth:
            depth -= 1
    return None


def load_text(text: str, source: str = "<spec>") -> Any:
    """Parse ``text`` within the limits; YamlLimitError or yaml.YAMLError otherwise."""
    if len(text) > MAX_BYTES:
        raise YamlLimitError(
            f"{source}: {len(text) / 2**20:.1f} MiB; a spec is a few KB: is this the right file?"
        )
    line = _flow_too_deep(text)
    if line is not None:
        raise YamlLimitError(f"{source}: nesting deeper than {MAX_DEPTH} levels (line {line}): not a spec")
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
    """A small regular text file's content. FIFOs, devices and folders are refused before a byte is read
    (``atomicio.open_regular``: opening a FIFO would wait for a writer); a file over ``limit`` is refused without
    reading it all."""
    from specgen.spec.atomicio import UnsafeTarget, open_regular

    p = Path(path)
    st = p.stat()  # FileNotFoundError / PermissionError pass through
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(f"{p}: is a folder, not a file")
    if st.st_size > limit:
        raise YamlLimitError(
            f"{p}: {st.st_size / 2**20:.1f} MiB; a spec is a few KB: is this the right file?"
        )
    try:
        handle = open_regular(p)
    except UnsafeTarget:
        raise YamlLimitError(
            f"{p}: not a regular file (a FIFO, socket or device); give the spec file itself"
        ) from None
    with handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise YamlLimitError(
            f"{p}: larger than {limit // 2**20} MiB; a spec is a few KB: is this the right file?"
        )
    return data.decode("utf-8")
