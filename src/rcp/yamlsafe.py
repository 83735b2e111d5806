"""YAML loading with a bound on the work a document can ask for (a leaf module).

YAML anchors and aliases let a few hundred bytes describe a tree of billions of nodes (the
"billion laughs" document: nine anchors, each aliasing the previous one nine times). PyYAML
builds the shared graph cheaply, but everything that walks the result — validation, rendering,
JSON — pays for the expanded tree, for minutes or hours. So before anything is constructed the
composed node graph is measured: aliases may add at most ``ALIAS_BUDGET`` nodes (or
``ALIAS_FACTOR`` times the nodes actually written, for a large file), a recursive alias is
refused, and so is nesting deeper than the parser can follow. Ordinary anchors
(``<<: *defaults`` across a few services, a shared ``env`` block across a fleet) stay well
inside the budget.

Used by templates and fleet files (``rcp.core.templates``) and by the sandbox's fault files;
PyYAML is imported only when a document is parsed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import yaml

# Nodes that aliases may add to a document beyond what is written in it.
ALIAS_BUDGET = 10_000
# ... or this many times the written nodes, whichever is larger (a big fleet file may share
# one env block across thousands of tenants).
ALIAS_FACTOR = 10


class YamlTooComplex(ValueError):
    """The document asks for more work than any real template, fleet or fault file needs."""


def load_bounded(text: str, loader: type[yaml.SafeLoader] | None = None) -> Any:
    """Parse ``text`` with ``loader`` (default ``yaml.SafeLoader``), refusing alias bombs,
    recursive aliases and pathological nesting with ``YamlTooComplex`` before constructing
    anything. Other problems raise PyYAML's own ``yaml.YAMLError``."""
    import yaml

    bounded = _bounded_loader(loader or yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=bounded)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise YamlTooComplex("the document is nested too deeply") from None


def _bounded_loader(base: type[yaml.SafeLoader]) -> type[yaml.SafeLoader]:
    class BoundedLoader(base):  # type: ignore[valid-type, misc]
        def get_single_node(self) -> yaml.Node | None:
            node: yaml.Node | None = super().get_single_node()
            if node is not None:
                check_budget(node)
            return node

    return BoundedLoader


def check_budget(root: yaml.Node) -> None:
    """Refuse a composed document whose expanded size exceeds the alias budget.

    Both passes visit each node of the shared graph once, so the work is proportional to what
    is written, however much the aliases multiply it.
    """
    written = _distinct_nodes(root)
    limit = max(ALIAS_BUDGET, ALIAS_FACTOR * written)
    sizes: dict[int, int] = {}  # id(node) → nodes in its expanded subtree
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            size = 1 + sum(sizes[id(child)] for child in _children(node))
            # The whole document is at least this big: stop as soon as the budget is spent.
            if size - written > limit:
                raise YamlTooComplex(
                    f"aliases expand the document by more than {limit:,} nodes (a YAML alias "
                    "bomb?); write the repeated parts out instead"
                )
            sizes[key] = size
            continue
        if key in sizes:
            continue
        if key in on_path:
            # Only a node's own descendants are pushed above its marker: it contains itself.
            raise YamlTooComplex("a YAML alias refers to a node that contains it (recursive)")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _distinct_nodes(root: yaml.Node) -> int:
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(_children(node))
    return len(seen)


def _children(node: yaml.Node) -> list[yaml.Node]:
    import yaml

    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []
