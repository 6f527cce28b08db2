"""Privacy policies: guidelines agents must follow and cannot change.

Owns turning an agent's `privacy: {guidelines: TEXT | [ITEM, ...], label: L}` into one
read-only memory block (label `privacy_guidelines` unless given; a list becomes one
`- ITEM` line each), and a fleet-wide `kind: Privacy` document (`name` is the label,
`guidelines`, optional `agents:`) into one shared read-only block attached to every agent
of the directory (or the ones listed); and the rules the schema cannot say (a label must
not clash with an agent's own memory block or a Block; listed agents must exist). Letta refuses every edit of a read-only block by the agent's memory tools
(checked end to end in tests/provision/test_privacy_live.py); people change it through the
YAML and `apply`, like any block.

Must not: read files or know about servers.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from orchestrator.errors import Issue
from orchestrator.spec.model import AgentSpec, BlockSpec
from orchestrator.spec.suggest import did_you_mean
from orchestrator.spec.yaml_marks import MarkedDoc, issue_at

if TYPE_CHECKING:  # resource_build imports this module (through spec.agents)
    from orchestrator.spec.resource_build import ResourceDoc

DEFAULT_LABEL = "privacy_guidelines"
DESCRIPTION = (
    "Privacy guidelines you must follow. Read-only: you cannot change them; "
    "people change them through the agent's definition."
)


def _text(guidelines: Any) -> str:
    if isinstance(guidelines, list):
        return "".join(f"- {item}\n" for item in guidelines)
    return str(guidelines)


def privacy_blocks(doc: MarkedDoc, data: dict, path: tuple) -> tuple[BlockSpec, ...]:
    policy = data.get("privacy")
    if not isinstance(policy, dict) or "guidelines" not in policy:
        return ()
    return (
        BlockSpec(
            label=str(policy.get("label") or DEFAULT_LABEL),
            value=_text(policy["guidelines"]),
            description=DESCRIPTION,
            read_only=True,
            mark=doc.mark(path + ("privacy",)),
        ),
    )


def privacy_issues(doc: MarkedDoc, data: dict, path: tuple) -> list[Issue]:
    policy = data.get("privacy")
    if not isinstance(policy, dict):
        return []
    label = str(policy.get("label") or DEFAULT_LABEL)
    own = {b.get("label") for b in data.get("memory_blocks", ()) if isinstance(b, dict)}
    if label not in own:
        return []
    where = path + ("privacy",)
    return [
        issue_at(
            doc.mark(where),
            where,
            f"the privacy guidelines' block label {label!r} is also a memory block",
            "give `privacy.label` another label, or remove that memory block",
        )
    ]


def apply_policies(
    policies: list[ResourceDoc],
    agents: dict[str, AgentSpec],
    blocks: dict[str, BlockSpec],
    issues: list[Issue],
    partial: bool,
) -> dict[str, AgentSpec]:
    """Add each `kind: Privacy` document's block to `blocks` and attach it to its agents
    (`partial`: only some of the directory's agents were loaded; names listed that are not
    among them are not reported)."""
    for item in policies:
        data, name = item.data, item.data["name"]
        if name in blocks:
            issues.append(
                issue_at(
                    item.doc.mark(("name",)),
                    ("name",),
                    f"a Block named '{name}' exists too",
                    "name the policy after a label no Block uses",
                )
            )
            continue
        blocks[name] = BlockSpec(
            label=name,
            value=_text(data["guidelines"]),
            description=data.get("description") or DESCRIPTION,
            read_only=True,
            mark=item.doc.mark(()),
        )
        listed = data.get("agents")
        for i, agent_name in enumerate(sorted(agents) if listed is None else listed):
            where = ("agents", i)
            agent = agents.get(agent_name)
            if agent is None:
                if not partial:
                    issues.append(
                        issue_at(
                            item.doc.mark(where),
                            where,
                            f"unknown agent '{agent_name}'",
                            did_you_mean(
                                agent_name, agents, fallback="define it in a kind: Agent file"
                            ),
                        )
                    )
                continue
            if name in {b.label for b in agent.memory_blocks}:
                issues.append(
                    issue_at(
                        item.doc.mark(("name",)),
                        ("name",),
                        f"agent '{agent_name}' has a memory block '{name}' too",
                        "rename one of them: labels must be unique per agent",
                    )
                )
                continue
            if name not in agent.shared_blocks:
                agents[agent_name] = dataclasses.replace(
                    agent, shared_blocks=(*agent.shared_blocks, name)
                )
    return agents
