"""Python-Markdown's inline pass, in time linear in the number of inline elements.

Python-Markdown 3.11's `InlineProcessor.run` finds where to put what a child's tail became with
`list(parent).index(child)` (a copy and a scan of the parent's children, for every child) and
walks its queue with `list.pop(0)`: both cost the square of the number of inline elements in a
block. A 127 KB paragraph of code spans took 83 s. This is the same pass with the child's index
counted as the loop goes (the loop already visits the children in order, so the index is the
loop's own) and a deque for the queue: the same tree, in linear time.

Not upstreamed yet: the copy is kept as close to upstream as the fix allows, so a new version of
Python-Markdown can be compared line by line (tests/test_hostile_input.py pins the output).
"""

from __future__ import annotations

import xml.etree.ElementTree as etree
from collections import deque

from markdown import util
from markdown.extensions import Extension
from markdown.treeprocessors import InlineProcessor


class LinearInlineProcessor(InlineProcessor):
    def run(self, tree: etree.Element, ancestors: list[str] | None = None) -> etree.Element:
        self.stashed_nodes: dict[str, etree.Element | str] = {}
        tree_parents = [] if ancestors is None else ancestors[:]
        self.parent_map = {c: p for p in tree.iter() for c in p}
        stack: deque[tuple[etree.Element, list[str]]] = deque([(tree, tree_parents)])
        self._InlineProcessor__build_ancestors(tree, tree_parents)  # type: ignore[attr-defined]
        handle = self._InlineProcessor__handleInline  # type: ignore[attr-defined]
        placeholders = self._InlineProcessor__processPlaceholders  # type: ignore[attr-defined]

        while stack:
            current, parents = stack.popleft()
            self.ancestors = parents
            if current is not tree:
                self.ancestors.append(current.tag.lower())
            insert_queue = []
            index = 0
            # By index, as upstream's `for child in current` iterates: children inserted after
            # the current one are visited next.
            while index < len(current):
                child = current[index]
                if child.text and not isinstance(child.text, util.AtomicString):
                    self.ancestors.append(child.tag.lower())
                    text = child.text
                    child.text = None
                    lst = placeholders(handle(text), child)
                    for item in lst:
                        self.parent_map[item[0]] = child
                    stack.extend(lst)
                    insert_queue.append((child, lst))
                    self.ancestors.pop()
                if child.tail:
                    tail = handle(child.tail)
                    dummy = etree.Element("d")
                    child.tail = None
                    tail_result = placeholders(tail, dummy, False)
                    if dummy.tail:
                        child.tail = dummy.tail
                    position = index + 1  # upstream: list(current).index(child) + 1
                    tail_result.reverse()
                    for new_child in tail_result:
                        self.parent_map[new_child[0]] = current
                        current.insert(position, new_child[0])
                if len(child):
                    self.parent_map[child] = current
                    stack.append((child, self.ancestors[:]))
                index += 1
            for element, lst in insert_queue:
                for i, obj in enumerate(lst):
                    element.insert(i, obj[0])
        return tree


# The inline passes Python-Markdown and its extensions register: its own, and smarty's (which runs
# a second InlineProcessor with the quote and dash patterns), at their priorities.
PASSES = {"inline": 20, "smarty": 6}


class LinearInlineExtension(Extension):
    """Loaded after every other extension, so that it replaces each inline pass they registered."""

    def extendMarkdown(self, md) -> None:  # noqa: N802, ANN001 - Python-Markdown's API
        for name, priority in PASSES.items():
            if name in md.treeprocessors:
                replaced = md.treeprocessors[name]
                linear = LinearInlineProcessor(md)
                linear.inlinePatterns = replaced.inlinePatterns
                md.treeprocessors.register(linear, name, priority)
