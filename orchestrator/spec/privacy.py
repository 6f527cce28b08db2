"""An agent's `privacy` policy: guidelines the agent must follow and cannot change.

Owns turning `privacy: {guidelines: TEXT | [ITEM, ...], label: L}` into one read-only
memory block (label `privacy_guidelines` unless given; a list becomes one `- ITEM` line
each), and the one rule the schema cannot say (its label must not be one of the agent's own
memory blocks). Letta refuses every edit of a read-only block by the agent's memory tools
(checked end to end in tests/provision/test_privacy_live.py); people change it through the
YAML and `apply`, like any block.

Must not: read files or know about servers.
"""

from __future__ import annotations

from typing import Any

from orchestrator.errors import Issue
from orchestrator.spec.model import BlockSpec
from orchestrator.spec.yaml_marks import MarkedDoc, issue_at

DEFAULT_LABEL = "privacy_guidelines"
DESCRIPTION = ("Privacy guidelines you must follow. Read-only: you cannot change them; "
               "people change them through the agent's definition.")


def _text(guidelines: Any) -> str:
    if isinstance(guidelines, list):
        return "".join(f"- {item}\n" for item in guidelines)
    return str(guidelines)


def privacy_blocks(doc: MarkedDoc, data: dict, path: tuple) -> tuple[BlockSpec, ...]:
    policy = data.get("privacy")
    if not isinstance(policy, dict) or "guidelines" not in policy:
        return ()
    return (BlockSpec(label=str(policy.get("label") or DEFAULT_LABEL),
                      value=_text(policy["guidelines"]), description=DESCRIPTION,
                      read_only=True, mark=doc.mark(path + ("privacy",))),)


def privacy_issues(doc: MarkedDoc, data: dict, path: tuple) -> list[Issue]:
    policy = data.get("privacy")
    if not isinstance(policy, dict):
        return []
    label = str(policy.get("label") or DEFAULT_LABEL)
    own = {b.get("label") for b in data.get("memory_blocks", ()) if isinstance(b, dict)}
    if label not in own:
        return []
    where = path + ("privacy",)
    return [issue_at(doc.mark(where), where,
                     f"the privacy guidelines' block label {label!r} is also a memory block",
                     "give `privacy.label` another label, or remove that memory block")]
