"""A run's DAG as server-side SVG, drawn from its shape (ui.shape).

Owns `layout` and `dag_svg`. The layout is layered: each group's steps are placed by
`networkx.topological_generations`, one row per generation, a loop's or a sub-pipeline's
steps laid out inside its box, recursively; a loop gets a dashed back edge labelled with
its `until`. Steps are coloured by status (CSS classes `st-<status>`), a for_each is a
stack with a square per item, and the critical path's steps and edges are drawn heavier.
Every string is escaped here (`html.escape`), so the SVG is safe to embed as markup.

Must not: read records or files (callers pass the shape, already coloured).
"""

from __future__ import annotations

import functools
from html import escape

import networkx as nx

from orchestrator.run.status import SUCCEEDED
from orchestrator.ui.shape import NODE_H, NODE_W, Group, Node, critical_path

ITEM_ROW, GAP_X, GAP_Y, PAD, HEADER = 16, 28, 40, 14, 22
ITEMS_DRAWN = 128  # a for_each's items drawn as squares (its label counts them all)


# ----- layout -----


def layout(group: Group) -> None:
    graph = nx.DiGraph()
    graph.add_nodes_from(group.nodes)
    graph.add_edges_from(group.edges)
    order = {name: i for i, name in enumerate(group.nodes)}
    rows = [sorted(gen, key=order.__getitem__) for gen in nx.topological_generations(graph)]
    for node in group.nodes.values():
        _size(node)
    width = max(
        (sum(group.nodes[n].w for n in row) + GAP_X * (len(row) - 1) for row in rows), default=0.0
    )
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
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="dag" role="img" '
        f'aria-label="pipeline graph" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" '
        'markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'class="arrowhead"/></marker></defs>',
    ]
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
        parts.append(
            f'<path class="edge{heavy}" d="M{x1:.1f},{y1:.1f} C{x1:.1f},{mid:.1f} '
            f'{x2:.1f},{mid:.1f} {x2:.1f},{y2:.1f}" marker-end="url(#arrow)"/>'
        )
    for node in group.nodes.values():
        parts += _draw_node(node, ox + node.x, oy + node.y)
    return parts


def _draw_node(node: Node, x: float, y: float) -> list[str]:
    classes = f"node {node.kind} st-{_css(node.status)}" + (" critical" if node.critical else "")
    title = f"{node.path}: {node.status}" + (f", {node.seconds:.1f} s" if node.seconds else "")
    parts = [
        f'<g class="{classes}" data-step="{escape(node.path)}" '
        f'data-status="{escape(node.status)}"><title>{escape(title)}</title>'
    ]
    if node.body is not None:
        parts.append(
            f'<rect class="group" x="{x:.1f}" y="{y:.1f}" width="{node.w:.1f}" '
            f'height="{node.h:.1f}" rx="8"/>'
        )
        its = (
            f", {node.iterations} iteration{'s' * (node.iterations != 1)}"
            if node.iterations
            else ""
        )
        what = {"loop": "loop", "uses": "sub-pipeline"}.get(node.kind, "steps")
        parts.append(_text(x + 8, y + 15, f"{node.name} ({what}{its})", "label"))
        bx, by = x + PAD, y + PAD + HEADER
        parts += _draw_group(node.body, bx, by, set())
        if node.kind == "loop":
            parts += _back_edge(node, bx, by)
        parts.append("</g>")
        return parts
    if node.kind == "foreach":  # a stack of cards: one step, many items
        parts.append(
            f'<rect class="stack" x="{x + 5:.1f}" y="{y - 5:.1f}" width="{node.w:.1f}" '
            f'height="{node.h:.1f}" rx="6"/>'
        )
    parts.append(
        f'<rect class="box" x="{x:.1f}" y="{y:.1f}" width="{node.w:.1f}" '
        f'height="{node.h:.1f}" rx="6"/>'
    )
    parts.append(_text(x + 10, y + 20, _clip(node.name, 24), "label"))
    sub = f"agent: {node.agent}" if node.agent else ""
    if node.kind == "foreach":
        done = sum(s == SUCCEEDED for s in node.items)
        sub = f"for each: {done}/{len(node.items)}" + (f" · {node.agent}" if node.agent else "")
    parts.append(_text(x + 10, y + 38, _clip(sub, 28), "sub"))
    if node.seconds:
        parts.append(_text(x + node.w - 8, y + 20, f"{node.seconds:.1f}s", "secs", anchor="end"))
    for i, status in enumerate(node.items[:ITEMS_DRAWN]):
        cx, cy = x + 10 + (i % 16) * 10, y + NODE_H - 4 + (i // 16) * ITEM_ROW
        parts.append(
            f'<rect class="item st-{_css(status)}" x="{cx:.1f}" y="{cy:.1f}" '
            f'width="8" height="8" rx="2"><title>item {i}: {escape(status)}</title></rect>'
        )
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
    last = body.nodes[
        max((n for n in graph if graph.out_degree(n) == 0), key=lambda n: body.nodes[n].y)
    ]
    first = body.nodes[
        min((n for n in graph if graph.in_degree(n) == 0), key=lambda n: body.nodes[n].y)
    ]
    x1, y1 = bx + last.x + last.w, by + last.y + last.h / 2
    x2, y2 = bx + first.x + first.w, by + first.y + first.h / 2
    right = bx + body.w + 26
    return [
        f'<path class="edge back" d="M{x1:.1f},{y1:.1f} C{right:.1f},{y1:.1f} '
        f'{right:.1f},{y2:.1f} {x2:.1f},{y2:.1f}" marker-end="url(#arrow)">'
        f"<title>{escape(node.repeat)}</title></path>",
        _text(bx + 2, by + body.h + PAD + 6, _clip(node.repeat, 40), "sub"),
    ]


def _text(x: float, y: float, text: str, cls: str, anchor: str = "start") -> str:
    return (
        f'<text class="{cls}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{escape(text)}</text>'
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@functools.lru_cache(maxsize=64)
def _css(status: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in status)
