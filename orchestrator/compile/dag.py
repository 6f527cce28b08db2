"""Dependency graphs: build, find cycles (named `a -> b -> c -> a`), order and level them.

Must not: know about templates or agents; it only sees names and their upstream sets.
"""

from __future__ import annotations

from collections.abc import Mapping

import networkx as nx

from orchestrator.errors import Issue
from orchestrator.spec.model import Mark

CYCLE_HINT = "a step cannot depend on itself through needs or templates: break one link"


def build_graph(deps: Mapping[str, set[str]], attrs: Mapping[str, dict]) -> nx.DiGraph:
    graph = nx.DiGraph()
    for name in deps:
        graph.add_node(name, **attrs.get(name, {}))
    for name, upstream in deps.items():
        graph.add_edges_from((up, name) for up in upstream if up in deps)
    return graph


def cycle_issues(graph: nx.DiGraph, prefix: str, marks: Mapping[str, Mark]) -> list[Issue]:
    """One issue per strongly connected component, naming one concrete cycle in it."""
    if nx.is_directed_acyclic_graph(graph):
        return []
    issues = []
    for component in nx.strongly_connected_components(graph):
        if len(component) < 2:
            continue
        edges = nx.find_cycle(graph.subgraph(component), source=min(component))
        names = [u for u, _ in edges]
        start = names.index(min(names))
        names = names[start:] + names[:start]
        mark = marks.get(names[0], Mark("", 0, 0))
        text = " -> ".join([*names, names[0]])
        issues.append(
            Issue(
                mark.file,
                mark.line,
                mark.col,
                f"{prefix}.{names[0]}",
                f"dependency cycle: {text}",
                CYCLE_HINT,
            )
        )
    return issues


def order_and_levels(graph: nx.DiGraph) -> tuple[list[str], tuple[tuple[str, ...], ...]]:
    """A deterministic topological order (level by level, names sorted within a level)."""
    levels = tuple(tuple(sorted(level)) for level in nx.topological_generations(graph))
    return [name for level in levels for name in level], levels
