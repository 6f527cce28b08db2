"""The shape of a run's DAG, from its plan or its rows, coloured by the rows; its critical path.

Owns `Node`/`Group` (sub-pipelines, loops and for_each steps are groups or stacks;
from the compiled plan when the pipeline file still loads, else from the unit rows alone),
`apply_units` (status, time, items and iterations from the rows) and `critical_path`: the
chain of dependent top-level steps with the largest sum of recorded wall time (a loop or
for_each counts as its whole span; a skipped step as nothing).

Must not: read records or files, or draw (ui.dag lays the shape out and draws it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from orchestrator.compile.plan import Plan, StepPlan
from orchestrator.compile.templates import expression_source
from orchestrator.run.records import NO_ITEM
from orchestrator.run.status import (
    CANCELLED,
    FAILED,
    INTERRUPTED,
    PENDING,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    WAITING_APPROVAL,
)

NODE_W, NODE_H = 176, 52


@dataclass
class Node:
    name: str
    path: str  # the recorded step name: "draft", or "revise.rewrite" in a loop body
    agent: str | None = None
    kind: str = "step"  # step | foreach | loop | uses (a sub-pipeline) | group (rows only)
    body: Group | None = None  # a loop's steps
    repeat: str = ""  # a loop's "until ..." label
    status: str = PENDING
    seconds: float | None = None
    items: list[str] = field(default_factory=list)  # for_each: each item's status
    iterations: int = 0
    critical: bool = False
    # layout
    x: float = 0.0
    y: float = 0.0
    w: float = NODE_W
    h: float = NODE_H


@dataclass
class Group:
    nodes: dict[str, Node]
    edges: list[tuple[str, str]]
    w: float = 0.0
    h: float = 0.0


def from_plan(plan: Plan) -> Group:
    return _group(plan.steps, plan.graph, "")


def _group(steps: Mapping[str, StepPlan], graph: nx.DiGraph, prefix: str) -> Group:
    """One level of the plan. A sub-pipeline's steps (`uses:`, expanded into the plan as
    `X.inputs`, `X.<step>`... and `X` itself, which evaluates its outputs) become one group
    node `X`, its steps inside; edges into and out of it attach to the group."""
    owner = {name: _owner(name, step) for name, step in steps.items()}
    nodes: dict[str, Node] = {}
    for name, step in steps.items():
        top = owner[name]
        if not top:
            nodes[name] = _node(name, prefix + name, step)
            continue
        group = nodes.setdefault(top, Node(top, prefix + top, kind="uses", body=Group({}, [])))
        if name != top:
            assert group.body is not None
            rel = name[len(top) + 1 :]
            group.body.nodes[rel] = _node(rel, prefix + name, step)
    edges: set[tuple[str, str]] = set()
    for up, down in graph.edges:
        a, b = owner.get(up) or up, owner.get(down) or down
        if a != b:
            edges.add((a, b))
        elif up != a and down != b:  # both inside one sub-pipeline
            body = nodes[a].body
            assert body is not None
            body.edges.append((up[len(a) + 1 :], down[len(a) + 1 :]))
    return Group(nodes, sorted(e for e in edges if e[0] in nodes and e[1] in nodes))


def _owner(name: str, step: StepPlan) -> str:
    """The sub-pipeline step a step belongs to ("" for the caller's own steps)."""
    scope = getattr(step, "scope", "") or ""
    if not scope and getattr(step, "uses", None) is not None and name.endswith(".inputs"):
        scope = name[: -len(".inputs")]
    return scope.split(".")[0]


def _node(name: str, path: str, step: StepPlan) -> Node:
    node = Node(name, path, agent=step.agent)
    if step.loop:
        node.kind = "loop"
        node.body = _group(step.loop.steps, step.loop.graph, f"{path}.")
        node.repeat = (
            f"until {expression_source(step.loop.until.source) or step.loop.until.source}"
            if step.loop.until
            else f"repeat (max {step.loop.max_iterations})"
        )
    elif step.for_each:
        node.kind = "foreach"
    return node


def from_units(units: list[dict[str, Any]]) -> Group:
    """The shape the rows imply when the pipeline cannot be loaded: no edges."""
    top: dict[str, Node] = {}
    for unit in units:
        head, _, rest = str(unit["step"]).partition(".")
        node = top.setdefault(head, Node(head, head, agent=unit.get("agent")))
        if rest:  # a loop's body or a sub-pipeline's steps: which, the rows do not say
            node.kind, node.agent = "group", None
            node.body = node.body or Group({}, [])
            node.body.nodes.setdefault(rest, Node(rest, unit["step"], agent=unit.get("agent")))
        elif unit["item"] != NO_ITEM:
            node.kind = "foreach"
    return Group(top, [])


def apply_units(group: Group, units: list[dict[str, Any]]) -> None:
    """Colour the shape from the unit rows: a step's own row, a loop body step's latest
    iteration, a for_each step's item rows."""
    by_step: dict[str, list[dict[str, Any]]] = {}
    for unit in units:
        by_step.setdefault(str(unit["step"]), []).append(unit)
    for node in _walk(group):
        rows = by_step.get(node.path, [])
        own = [r for r in rows if r["item"] == NO_ITEM]
        if own:
            latest = max(own, key=lambda r: r["iteration"])
            node.status = str(latest["status"])
            node.seconds = None if node.status in (SKIPPED, PENDING) else _span(latest)
            node.iterations = max(
                int(latest.get("iterations") or 0), max(r["iteration"] for r in own)
            )
        last = max((r["iteration"] for r in rows), default=0)
        node.items = [
            str(r["status"])
            for r in sorted(
                (r for r in rows if r["item"] != NO_ITEM and r["iteration"] == last),
                key=lambda r: r["item"],
            )
        ]
        if node.items and not own:
            node.status = _worst(node.items)


def _worst(statuses: list[str]) -> str:
    for status in (RUNNING, WAITING_APPROVAL, FAILED, CANCELLED, INTERRUPTED):
        if status in statuses:
            return status
    return SUCCEEDED if all(s == SUCCEEDED for s in statuses) else statuses[-1]


def _span(row: Mapping[str, Any]) -> float | None:
    if row.get("started") is not None and row.get("ended") is not None:
        return max(0.0, float(row["ended"]) - float(row["started"]))
    return float(row["duration"]) if row.get("duration") is not None else None


def _walk(group: Group) -> list[Node]:
    out = []
    for node in group.nodes.values():
        out.append(node)
        if node.body:
            out += _walk(node.body)
    return out


def critical_path(group: Group) -> list[str]:
    """Top-level steps on the longest chain by recorded time (empty if nothing ran)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(group.nodes)
    graph.add_edges_from(group.edges)
    best: dict[str, tuple[float, str | None]] = {}
    for step in nx.topological_sort(graph):
        own = group.nodes[step].seconds or 0.0
        before = max(((best[p][0], p) for p in graph.predecessors(step)), default=(0.0, None))
        best[step] = (before[0] + own, before[1])
    if not best or max(t for t, _ in best.values()) <= 0:
        return []
    name: str | None = max(best, key=lambda n: (best[n][0], bool(group.nodes[n].seconds)))
    path = []
    while name is not None:
        path.append(name)
        name = best[name][1]
    return path[::-1]
