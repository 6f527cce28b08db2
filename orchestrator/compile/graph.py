"""Render a compiled plan's DAG as Mermaid (for READMEs and PRs), Graphviz DOT, or JSON.

Shows steps with their agents, dependency edges, loop bodies as nested subgraphs, shared
memory blocks attached (dotted) to the steps whose agents use them, and parallel levels.

Must not: compute anything the plan does not already hold.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import networkx as nx

from orchestrator.compile.plan import LoopPlan, Plan, StepPlan
from orchestrator.compile.templates import expression_source

FORMATS = ("mermaid", "dot", "json")


def render_graph(plan: Plan, fmt: str = "mermaid") -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown graph format {fmt!r}: use one of {', '.join(FORMATS)}")
    return {"mermaid": _mermaid, "dot": _dot, "json": _json}[fmt](plan)


def _label(step: StepPlan) -> str:
    if step.loop:
        when = ", conditional" if step.when else ""
        return f"{step.name} (loop, max {step.loop.max_iterations}{when})"
    notes = [f"agent: {step.agent}"]
    if step.for_each:
        notes.append(f"for each {step.item_var}")
    if step.when:
        notes.append("conditional")
    return f"{step.name}\n" + "\n".join(notes)


def _block_users(plan: Plan) -> dict[str, list[str]]:
    """shared block -> node ids of the steps whose agent attaches it."""
    users: dict[str, list[str]] = {name: [] for name in plan.shared_blocks}
    for node_id, step in _all_steps(plan.steps):
        agent = plan.agents.get(step.agent) if step.agent else None
        for block in agent.shared_blocks if agent else ():
            users.setdefault(block, []).append(node_id)
    return users


def _all_steps(steps: Mapping[str, StepPlan], prefix: str = "") -> Iterator[tuple[str, StepPlan]]:
    for name, step in steps.items():
        if step.loop:
            yield from _all_steps(step.loop.steps, f"{prefix}{name}__")
        else:
            yield f"{prefix}{name}", step


# ----- mermaid -----

def _back_edges(loop: LoopPlan) -> list[tuple[str, str]]:
    """The next iteration: from each last body step back to each first one."""
    body = loop.graph
    firsts = sorted(n for n in body if body.in_degree(n) == 0)
    lasts = sorted(n for n in body if body.out_degree(n) == 0)
    return [(last, first) for last in lasts for first in firsts]


def _repeat_label(loop: LoopPlan) -> str:
    if loop.until is None:
        return f"repeat (max {loop.max_iterations})"
    until = expression_source(loop.until.source) or loop.until.source
    return f"until {until}"


def _mermaid(plan: Plan) -> str:
    lines = ["flowchart TD"]
    lines += _mermaid_nodes(plan.steps, "  ", "")
    lines += _mermaid_edges(plan.graph, plan.steps, "  ", "")
    for block, users in _block_users(plan).items():
        lines.append(f'  b_{block}[("{block}")]')
        lines += [f"  b_{block} -.- s_{user}" for user in users]
    return "\n".join(lines) + "\n"


def _mermaid_nodes(steps: Mapping[str, StepPlan], indent: str, prefix: str) -> list[str]:
    lines = []
    for name, step in steps.items():
        node = f"s_{prefix}{name}"
        text = _label(step).replace("\n", "<br/>").replace('"', "#quot;")
        if step.loop:
            lines.append(f'{indent}subgraph {node}["{text}"]')
            lines += _mermaid_nodes(step.loop.steps, indent + "  ", f"{prefix}{name}__")
            lines += _mermaid_edges(step.loop.graph, step.loop.steps, indent + "  ", f"{prefix}{name}__")
            label = _repeat_label(step.loop).replace('"', "#quot;")
            lines += [f'{indent}  s_{prefix}{name}__{last} -. "{label}" .-> s_{prefix}{name}__{first}'
                      for last, first in _back_edges(step.loop)]
            lines.append(f"{indent}end")
        else:
            lines.append(f'{indent}{node}["{text}"]')
    return lines


def _mermaid_edges(graph: nx.DiGraph, steps: Mapping[str, StepPlan], indent: str, prefix: str) -> list[str]:
    return [f"{indent}s_{prefix}{up} --> s_{prefix}{down}" for up, down in sorted(graph.edges)]


# ----- dot -----

def _dot(plan: Plan) -> str:
    lines = [f'digraph "{_esc(plan.name)}" {{', "  rankdir=TB;", '  node [shape=box, fontname="Helvetica"];']
    lines += _dot_nodes(plan.steps, "  ", "")
    lines += [f'  "{up}" -> "{down}";' for up, down in sorted(plan.graph.edges)]
    for level in plan.levels:
        if len(level) > 1:
            lines.append("  { rank=same; " + " ".join(f'"{n}";' for n in level) + " }")
    for block, users in _block_users(plan).items():
        lines.append(f'  "block:{block}" [shape=cylinder, label="{_esc(block)}"];')
        lines += [f'  "block:{block}" -> "{_dot_id(u)}" [style=dotted, arrowhead=none];' for u in users]
    return "\n".join(lines) + "\n}\n"


def _dot_id(node_id: str) -> str:
    return node_id.replace("__", ".")


def _dot_nodes(steps: Mapping[str, StepPlan], indent: str, prefix: str) -> list[str]:
    lines = []
    for name, step in steps.items():
        node = f"{prefix}{name}"
        if not step.loop:
            lines.append(f'{indent}"{node}" [label="{_esc(_label(step))}"];')
            continue
        # The loop's own node stands for the whole loop in the outer graph's edges.
        lines.append(f'{indent}subgraph "cluster_{node}" {{')
        lines.append(f'{indent}  label="{_esc(_label(step))}"; style=dashed;')
        lines.append(f'{indent}  "{node}" [shape=diamond, label="{_esc(name)}"];')
        lines += _dot_nodes(step.loop.steps, indent + "  ", f"{node}.")
        body = step.loop.graph
        lines += [f'{indent}  "{node}.{u}" -> "{node}.{v}";' for u, v in sorted(body.edges)]
        lines += [f'{indent}  "{node}" -> "{node}.{root}";'
                  for root in sorted(n for n in body if body.in_degree(n) == 0)]
        lines += [f'{indent}  "{node}.{last}" -> "{node}.{first}" [style=dashed, constraint=false, '
                  f'label="{_esc(_repeat_label(step.loop))}"];'
                  for last, first in _back_edges(step.loop)]
        lines.append(f"{indent}}}")
    return lines


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


# ----- json -----

def _json(plan: Plan) -> str:
    data = {
        "name": plan.name,
        "nodes": [_json_node(step) for step in plan.steps.values()],
        "edges": [list(edge) for edge in sorted(plan.graph.edges)],
        "levels": [list(level) for level in plan.levels],
        "shared_blocks": {b: sorted(_dot_id(u) for u in users) for b, users in _block_users(plan).items()},
    }
    return json.dumps(data, indent=2) + "\n"


def _json_node(step: StepPlan) -> dict:
    node: dict[str, Any] = {"name": step.name, "kind": "loop" if step.loop else "agent", "agent": step.agent,
            "depends_on": list(step.depends_on), "conditional": step.when is not None,
            "for_each": step.for_each is not None, "output_format": step.output_format,
            "fingerprint": step.fingerprint}
    if step.loop:
        graph = step.loop.graph
        node["loop"] = {
            "max_iterations": step.loop.max_iterations,
            "until": step.loop.until.source if step.loop.until else None,
            "nodes": [_json_node(s) for s in step.loop.steps.values()],
            "edges": [list(edge) for edge in sorted(graph.edges)],
            "levels": [sorted(level) for level in nx.topological_generations(graph)],
        }
    return node
