"""YAML read with its size bounded: every place publish reads YAML (book.yaml, metadata blocks,
CSL YAML bibliographies) goes through `load`.

PyYAML shares an aliased node instead of copying it, so nine lines of nested aliases ("billion
laughs") load in microseconds as a graph of a hundred nodes, and then explode into 9^9 values the
first time anything walks or prints them (the issue measured 44 s and 3 GB, then MemoryError).
`load` composes the document, counts the values it stands for with every alias expanded (each
distinct node counted once, so the count itself is linear), and refuses a document that stands
for more than `MAX_VALUES`, or that contains itself (`&a [*a]`, which PyYAML accepts), before
anything is constructed.
"""

from __future__ import annotations

from typing import Any

import yaml

# A book.yaml is a few dozen values; the largest YAML in the corpus (a metadata block or CSL
# YAML bibliography) is far below a thousand. A hundred thousand is far above any real file and
# still takes milliseconds to walk.
MAX_VALUES = 100_000


class YAMLTooLarge(yaml.MarkedYAMLError):
    """A document whose aliases expand past the limit, or that refers to itself."""


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def check_size(root: yaml.Node, limit: int = MAX_VALUES) -> None:
    """Raise `YAMLTooLarge` if `root` stands for more than `limit` values with its aliases
    expanded, or contains itself. Iterative, so a deep document cannot exhaust the stack."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            on_path.discard(key)
            size = 1 + sum(sizes[id(child)] for child in _children(node))
            if size > limit:
                raise YAMLTooLarge(problem=f"its aliases expand to more than {limit:,} values (the limit)",
                                   problem_mark=node.start_mark)
            sizes[key] = size
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise YAMLTooLarge(problem="an alias refers to the value that contains it, so it never ends",
                               problem_mark=node.start_mark)
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def load(text: str, loader: type[yaml.SafeLoader] = yaml.SafeLoader) -> Any:
    """`yaml.load` with a safe loader, refusing a document too large once its aliases are expanded.

    Raises `yaml.YAMLError` (a `YAMLTooLarge` for the size) and `RecursionError` for nesting
    deeper than PyYAML's recursive composer can follow (the caller reports both)."""
    reader = loader(text)
    try:
        node = reader.get_single_node()
        if node is None:
            return None
        check_size(node)
        return reader.construct_document(node)
    finally:
        reader.dispose()
