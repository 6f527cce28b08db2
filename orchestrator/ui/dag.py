"""A run's DAG as server-side SVG: steps coloured by status, loops and for_each as groups,
the critical path marked.

Owns `Group`/`Node` (the shape drawn; sub-pipelines are groups too: from the compiled plan when the pipeline file still
loads, else from the unit rows alone), `critical_path` and `dag_svg`. The layout is layered:
each group's steps are placed by `networkx.topological_generations`, one row per
generation, a loop's body laid out inside its box, recursively. Every string is escaped
here (`html.escape`), so the SVG is safe to embed as markup.

Critical path: the chain of dependent top-level steps with the largest sum of recorded
wall time (a loop or for_each counts as its whole span); the steps on it, and the edges
between them, are drawn heavier.

Must not: read records or files (callers pass the plan and the unit rows).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from typing import Any

import networkx as nx

from orchestrator.compile.plan import Plan, StepPlan
from orchestrator.compile.templates import expression_source
from orchestrator.run.records import NO_ITEM

NODE_W, NODE_H, ITEM_ROW, GAP_X, GAP_Y, PAD, HEADER = 176, 52, 16, 28, 40, 14, 22
ITEMS_DRAWN = 128  # a for_each's items drawn as squares (its label counts them all)


@dataclass
class Node:
    name: str
    path: str  # the recorded step name: "draft", or "revise.rewrite" in a loop body
    agent: str | None = None
    kind: str = "step"  # step | foreach | loop | uses (a sub-pipeline) | group (rows only)
    body: Group | None = None  # a loop's steps
    repeat: str = ""  # a loop's "until ..." label
    status: str = "pending"
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


# ----- the shape -----

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
            rel = name[len(top) + 1:]
            group.body.nodes[rel] = _node(rel, prefix + name, step)
    edges: set[tuple[str, str]] = set()
    for up, down in graph.edges:
        a, b = owner.get(up) or up, owner.get(down) or down
        if a != b:
            edges.add((a, b))
        elif up != a and down != b:  # both inside one sub-pipeline
            body = nodes[a].body
            assert body is not None
            body.edges.append((up[len(a) + 1:], down[len(a) + 1:]))
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
        node.repeat = (f"until {expression_source(step.loop.until.source) or step.loop.until.source}"
                       if step.loop.until else f"repeat (max {step.loop.max_iterations})")
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
            node.seconds = None if node.status in ("skipped", "pending") else _span(latest)
            node.iterations = max(int(latest.get("iterations") or 0),
                                  max(r["iteration"] for r in own))
        last = max((r["iteration"] for r in rows), default=0)
        node.items = [str(r["status"]) for r in sorted(
            (r for r in rows if r["item"] != NO_ITEM and r["iteration"] == last),
            key=lambda r: r["item"])]
        if node.items and not own:
            node.status = _worst(node.items)


def _worst(statuses: list[str]) -> str:
    for status in ("running", "waiting_approval", "failed", "cancelled", "interrupted"):
        if status in statuses:
            return status
    return "succeeded" if all(s == "succeeded" for s in statuses) else statuses[-1]


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


# ----- layout -----

def layout(group: Group) -> None:
    graph = nx.DiGraph()
    graph.add_nodes_from(group.nodes)
    graph.add_edges_from(group.edges)
    order = {name: i for i, name in enumerate(group.nodes)}
    rows = [sorted(gen, key=order.__getitem__) for gen in nx.topological_generations(graph)]
    for node in group.nodes.values():
        _size(node)
    width = max((sum(group.nodes[n].w for n in row) + GAP_X * (len(row) - 1)
                 for row in rows), default=0.0)
    y = 0.0
    for row in rows:
        row_w = sum(group.nodes[n].w for n in row) + GAP_X * (len(row) - 1)
        x = (width - row_w) / 2
        row_h = max(group.nodes[n].h for n in row)
        for name in row:
            node = group.nodes[name]
            node.x, node.y = x, y + (row_h - node.h) / 2
            x += node.w + GAP_X
        y += row_h + GAP_Y
    group.w, group.h = width, max(0.0, y - GAP_Y)


def _size(node: Node) -> None:
    if node.body is not None:
        layout(node.body)
        node.w = max(NODE_W, node.body.w + 2 * PAD + 40)  # room for the back edge
        node.h = node.body.h + 2 * PAD + HEADER + 12  # + the repeat label
    elif node.kind == "foreach":
        node.h = NODE_H + ITEM_ROW * max(1, -(-min(len(node.items), ITEMS_DRAWN) // 16))


# ----- drawing -----

def dag_svg(group: Group) -> str:
    critical = set(critical_path(group))
    for name in critical:
        group.nodes[name].critical = True
    layout(group)
    width, height = group.w + 2 * PAD + 8, group.h + 2 * PAD + 8
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="dag" role="img" '
             f'aria-label="pipeline graph" width="{width:.0f}" height="{height:.0f}" '
             f'viewBox="0 0 {width:.0f} {height:.0f}">',
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" '
             'markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
             'class="arrowhead"/></marker></defs>']
    parts += _draw_group(group, PAD + 4, PAD + 4, critical)
    parts.append("</svg>")
    return "".join(parts)


def _draw_group(group: Group, ox: float, oy: float, critical: set[str]) -> list[str]:
    parts = []
    for up, down in group.edges:
        a, b = group.nodes[up], group.nodes[down]
        x1, y1 = ox + a.x + a.w / 2, oy + a.y + a.h
        x2, y2 = ox + b.x + b.w / 2, oy + b.y
        mid = (y1 + y2) / 2
        heavy = " critical" if up in critical and down in critical else ""
        parts.append(f'<path class="edge{heavy}" d="M{x1:.1f},{y1:.1f} C{x1:.1f},{mid:.1f} '
                     f'{x2:.1f},{mid:.1f} {x2:.1f},{y2:.1f}" marker-end="url(#arrow)"/>')
    for node in group.nodes.values():
        parts += _draw_node(node, ox + node.x, oy + node.y)
    return parts


def _draw_node(node: Node, x: float, y: float) -> list[str]:
    classes = f"node {node.kind} st-{_css(node.status)}" + (" critical" if node.critical else "")
    title = f"{node.path}: {node.status}" + (f", {node.seconds:.1f} s" if node.seconds else "")
    parts = [f'<g class="{classes}" data-step="{escape(node.path)}" '
             f'data-status="{escape(node.status)}"><title>{escape(title)}</title>']
    if node.body is not None:
        parts.append(f'<rect class="group" x="{x:.1f}" y="{y:.1f}" width="{node.w:.1f}" '
                     f'height="{node.h:.1f}" rx="8"/>')
        its = f", {node.iterations} iteration{'s' * (node.iterations != 1)}" if node.iterations else ""
        what = {"loop": "loop", "uses": "sub-pipeline"}.get(node.kind, "steps")
        parts.append(_text(x + 8, y + 15, f"{node.name} ({what}{its})", "label"))
        bx, by = x + PAD, y + PAD + HEADER
        parts += _draw_group(node.body, bx, by, set())
        if node.kind == "loop":
            parts += _back_edge(node, bx, by)
        parts.append("</g>")
        return parts
    if node.kind == "foreach":  # a stack of cards: one step, many items
        parts.append(f'<rect class="stack" x="{x + 5:.1f}" y="{y - 5:.1f}" width="{node.w:.1f}" '
                     f'height="{node.h:.1f}" rx="6"/>')
    parts.append(f'<rect class="box" x="{x:.1f}" y="{y:.1f}" width="{node.w:.1f}" '
                 f'height="{node.h:.1f}" rx="6"/>')
    parts.append(_text(x + 10, y + 20, _clip(node.name, 24), "label"))
    sub = f"agent: {node.agent}" if node.agent else ""
    if node.kind == "foreach":
        done = sum(s == "succeeded" for s in node.items)
        sub = f"for each: {done}/{len(node.items)}" + (f" · {node.agent}" if node.agent else "")
    parts.append(_text(x + 10, y + 38, _clip(sub, 28), "sub"))
    if node.seconds:
        parts.append(_text(x + node.w - 8, y + 20, f"{node.seconds:.1f}s", "secs", anchor="end"))
    for i, status in enumerate(node.items[:ITEMS_DRAWN]):
        cx, cy = x + 10 + (i % 16) * 10, y + NODE_H - 4 + (i // 16) * ITEM_ROW
        parts.append(f'<rect class="item st-{_css(status)}" x="{cx:.1f}" y="{cy:.1f}" '
                     f'width="8" height="8" rx="2"><title>item {i}: {escape(status)}</title></rect>')
    parts.append("</g>")
    return parts


def _back_edge(node: Node, bx: float, by: float) -> list[str]:
    body = node.body
    assert body is not None
    if not body.nodes:
        return []
    graph = nx.DiGraph()
    graph.add_nodes_from(body.nodes)
    graph.add_edges_from(body.edges)
    last = body.nodes[max((n for n in graph if graph.out_degree(n) == 0),
                          key=lambda n: body.nodes[n].y)]
    first = body.nodes[min((n for n in graph if graph.in_degree(n) == 0),
                           key=lambda n: body.nodes[n].y)]
    x1, y1 = bx + last.x + last.w, by + last.y + last.h / 2
    x2, y2 = bx + first.x + first.w, by + first.y + first.h / 2
    right = bx + body.w + 26
    return [f'<path class="edge back" d="M{x1:.1f},{y1:.1f} C{right:.1f},{y1:.1f} '
            f'{right:.1f},{y2:.1f} {x2:.1f},{y2:.1f}" marker-end="url(#arrow)">'
            f"<title>{escape(node.repeat)}</title></path>",
            _text(bx + 2, by + body.h + PAD + 6, _clip(node.repeat, 40), "sub")]


def _text(x: float, y: float, text: str, cls: str, anchor: str = "start") -> str:
    return (f'<text class="{cls}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">'
            f"{escape(text)}</text>")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@functools.lru_cache(maxsize=64)
def _css(status: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in status)
