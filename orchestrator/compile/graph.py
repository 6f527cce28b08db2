"""Render a compiled plan's DAG as Mermaid (for READMEs and PRs), Graphviz DOT, or JSON.

Shows steps with their agents, dependency edges, loop bodies as nested subgraphs, each
sub-pipeline (`uses:`) as a group of its steps between its `inputs` and `outputs` (groups
nest as sub-pipelines do), shared memory blocks attached (dotted) to the steps whose agents
use them, and parallel levels.

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


def _label(step: StepPlan, name: str | None = None, group: str = "") -> str:
    """`name`: the step's name inside its group (`draft` for `review.draft`); agents are
    named as in the group's pipeline too."""
    name = name or step.name
    if step.uses is not None:
        when = "\nconditional" if step.when else ""
        return f"{step.uses.role}{when}"
    if step.loop:
        when = ", conditional" if step.when else ""
        return f"{name} (loop, max {step.loop.max_iterations}{when})"
    agent = step.agent or ""
    agent = _local(agent, group or step.scope)
    notes = [f"agent: {agent}"]
    if step.for_each:
        notes.append(f"for each {step.item_var}")
    if step.when:
        notes.append("conditional")
    return f"{name}\n" + "\n".join(notes)


def _group_of(step: StepPlan) -> str:
    """The sub-pipeline group a top-level step is drawn in ("" for the pipeline's own)."""
    if step.uses is not None and step.uses.role == "inputs":
        return step.name.rsplit(".", 1)[0]
    return step.scope


def _groups(plan: Plan) -> dict[str, list[str]]:
    """group -> its own steps, in plan order (every enclosing group is listed too)."""
    groups: dict[str, list[str]] = {"": []}
    for name, step in plan.steps.items():
        group = _group_of(step)
        groups.setdefault(group, []).append(name)
        while group:
            group = group.rpartition(".")[0]
            groups.setdefault(group, [])
    return groups


def _children(groups: Mapping[str, list[str]], group: str) -> list[str]:
    return [g for g in groups if g and g.rpartition(".")[0] == group]


def _group_label(plan: Plan, group: str) -> str:
    exit_step = plan.steps.get(group)
    used = (
        exit_step.uses.file.replace("\\", "/").rsplit("/", 1)[-1]
        if exit_step is not None and exit_step.uses is not None
        else "?"
    )
    return f"{group.rpartition('.')[2]} (uses {used})"


def _local(name: str, group: str) -> str:
    return name[len(group) + 1 :] if group and name.startswith(group + ".") else name


def _drawn(plan: Plan) -> nx.DiGraph:
    """The edges worth drawing: every step of a sub-pipeline depends on its `inputs` and its
    `outputs` on all of them (what the run needs); only the first and last ones are drawn."""
    graph = plan.graph
    if not any(s.uses for s in plan.steps.values()):
        return graph
    drawn = nx.DiGraph()
    drawn.add_nodes_from(graph)
    for up, down in graph.edges:
        start, end = plan.steps[up].uses, plan.steps[down].uses
        if (
            start is not None
            and start.role == "inputs"
            and any(
                u != up and _group_of(plan.steps[u]) == _group_of(plan.steps[up])
                for u in graph.predecessors(down)
            )
        ):
            continue
        if (
            end is not None
            and end.role == "outputs"
            and any(
                d != down and _group_of(plan.steps[d]) == _group_of(plan.steps[down])
                for d in graph.successors(up)
            )
        ):
            continue
        drawn.add_edge(up, down)
    return drawn


def _mid(name: str) -> str:
    """A mermaid node id for a step name (sub-pipeline steps are dotted)."""
    return name.replace(".", "__")


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
    groups = _groups(plan)
    lines += _mermaid_group(plan, groups, "", "  ")
    lines += _mermaid_edges(_drawn(plan), "  ", "")
    for block, users in _block_users(plan).items():
        lines.append(f'  b_{_mid(block)}[("{block}")]')
        lines += [f"  b_{_mid(block)} -.- s_{_mid(user)}" for user in users]
    return "\n".join(lines) + "\n"


def _mermaid_group(
    plan: Plan, groups: Mapping[str, list[str]], group: str, indent: str
) -> list[str]:
    lines = _mermaid_nodes({n: plan.steps[n] for n in groups[group]}, indent, "", group)
    for child in _children(groups, group):
        label = _group_label(plan, child).replace('"', "#quot;")
        lines.append(f'{indent}subgraph g_{_mid(child)}["{label}"]')
        lines += _mermaid_group(plan, groups, child, indent + "  ")
        lines.append(f"{indent}end")
    return lines


def _mermaid_nodes(
    steps: Mapping[str, StepPlan], indent: str, prefix: str, group: str = ""
) -> list[str]:
    lines = []
    for name, step in steps.items():
        node = f"s_{prefix}{_mid(name)}"
        text = (
            _label(step, _local(name, group), group).replace("\n", "<br/>").replace('"', "#quot;")
        )
        if step.loop:
            lines.append(f'{indent}subgraph {node}["{text}"]')
            inner = f"{prefix}{_mid(name)}__"
            lines += _mermaid_nodes(step.loop.steps, indent + "  ", inner, step.scope)
            lines += _mermaid_edges(step.loop.graph, indent + "  ", inner)
            label = _repeat_label(step.loop).replace('"', "#quot;")
            lines += [
                f'{indent}  s_{inner}{last} -. "{label}" .-> s_{inner}{first}'
                for last, first in _back_edges(step.loop)
            ]
            lines.append(f"{indent}end")
        else:
            lines.append(f'{indent}{node}["{text}"]')
    return lines


def _mermaid_edges(graph: nx.DiGraph, indent: str, prefix: str) -> list[str]:
    return [
        f"{indent}s_{prefix}{_mid(up)} --> s_{prefix}{_mid(down)}"
        for up, down in sorted(graph.edges)
    ]


# ----- dot -----


def _dot(plan: Plan) -> str:
    lines = [
        f'digraph "{_esc(plan.name)}" {{',
        "  rankdir=TB;",
        '  node [shape=box, fontname="Helvetica"];',
    ]
    lines += _dot_group(plan, _groups(plan), "", "  ")
    lines += [f'  "{up}" -> "{down}";' for up, down in sorted(_drawn(plan).edges)]
    for level in plan.levels:
        if len(level) > 1:
            lines.append("  { rank=same; " + " ".join(f'"{n}";' for n in level) + " }")
    for block, users in _block_users(plan).items():
        lines.append(f'  "block:{block}" [shape=cylinder, label="{_esc(block)}"];')
        lines += [
            f'  "block:{block}" -> "{_dot_id(u)}" [style=dotted, arrowhead=none];' for u in users
        ]
    return "\n".join(lines) + "\n}\n"


def _dot_id(node_id: str) -> str:
    return node_id.replace("__", ".")


def _dot_group(plan: Plan, groups: Mapping[str, list[str]], group: str, indent: str) -> list[str]:
    lines = _dot_nodes({n: plan.steps[n] for n in groups[group]}, indent, "", group)
    for child in _children(groups, group):
        lines.append(f'{indent}subgraph "cluster_uses_{child}" {{')
        lines.append(f'{indent}  label="{_esc(_group_label(plan, child))}"; style=rounded;')
        lines += _dot_group(plan, groups, child, indent + "  ")
        lines.append(f"{indent}}}")
    return lines


def _dot_nodes(
    steps: Mapping[str, StepPlan], indent: str, prefix: str, group: str = ""
) -> list[str]:
    lines = []
    for name, step in steps.items():
        node = f"{prefix}{name}"
        if not step.loop:
            shape = ", shape=ellipse" if step.uses is not None else ""
            lines.append(
                f'{indent}"{node}" [label="{_esc(_label(step, _local(name, group), group))}"'
                f"{shape}];"
            )
            continue
        # The loop's own node stands for the whole loop in the outer graph's edges.
        lines.append(f'{indent}subgraph "cluster_{node}" {{')
        lines.append(f'{indent}  label="{_esc(_label(step, _local(name, group)))}"; style=dashed;')
        lines.append(f'{indent}  "{node}" [shape=diamond, label="{_esc(_local(name, group))}"];')
        lines += _dot_nodes(step.loop.steps, indent + "  ", f"{node}.", step.scope)
        body = step.loop.graph
        lines += [f'{indent}  "{node}.{u}" -> "{node}.{v}";' for u, v in sorted(body.edges)]
        lines += [
            f'{indent}  "{node}" -> "{node}.{root}";'
            for root in sorted(n for n in body if body.in_degree(n) == 0)
        ]
        lines += [
            f'{indent}  "{node}.{last}" -> "{node}.{first}" [style=dashed, constraint=false, '
            f'label="{_esc(_repeat_label(step.loop))}"];'
            for last, first in _back_edges(step.loop)
        ]
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
        "shared_blocks": {
            b: sorted(_dot_id(u) for u in users) for b, users in _block_users(plan).items()
        },
    }
    return json.dumps(data, indent=2) + "\n"


def _json_node(step: StepPlan) -> dict:
    kind = "loop" if step.loop else f"uses-{step.uses.role}" if step.uses else "agent"
    node: dict[str, Any] = {
        "name": step.name,
        "kind": kind,
        "agent": step.agent,
        "depends_on": list(step.depends_on),
        "conditional": step.when is not None,
        "for_each": step.for_each is not None,
        "output_format": step.output_format,
        "fingerprint": step.fingerprint,
    }
    if step.scope:
        node["scope"] = step.scope
    if step.uses is not None:
        node["uses"] = step.uses.file
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
