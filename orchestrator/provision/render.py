"""Render a ChangeSet for people (terraform-like text) and for programs (JSON).

Owns the symbols (`+` create, `~` update/adopt, `-` delete, `>` attach, `<` detach), the
shortening of long values, and the summary line. Secret fields print as "(sensitive)".

Must not: decide anything or talk to a server.
"""

from __future__ import annotations

import json
from typing import Any

from orchestrator.provision.changes import ChangeSet, FieldChange

SYMBOLS = {"create": "+", "update": "~", "adopt": "~", "attach": ">", "detach": "<", "delete": "-"}
VERBS = {
    "create": "create",
    "update": "update",
    "adopt": "adopt (start managing)",
    "attach": "attach",
    "detach": "detach",
    "delete": "delete",
}
MAX_VALUE = 60


def short(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list | tuple):  # tags, tools, requirements: short, shown whole
        return "[" + ", ".join(str(v) for v in value) + "]"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = text.replace("\n", "\\n")
    if isinstance(value, str):
        text = (
            f'"{text}"'
            if len(text) <= MAX_VALUE
            else f'"{text[: MAX_VALUE - 1]}…" ({len(value)} chars)'
        )
    elif len(text) > MAX_VALUE:
        text = text[: MAX_VALUE - 1] + "…"
    return text


def render_field(change: FieldChange) -> str:
    if change.secret:
        return f"{change.field}: (sensitive)"
    if change.old is None:
        return f"{change.field}: {short(change.new)}"
    return f"{change.field}: {short(change.old)} -> {short(change.new)}"


def render_text(
    changeset: ChangeSet, *, title: str = "Plan", memory_loss_allowed: bool = False
) -> str:
    lines = [f"{title} for namespace {changeset.namespace!r} on {changeset.base_url}:"]
    for warning in changeset.warnings:
        lines.append(f"  warning: {warning}")
    if changeset.empty:
        lines.append("  No changes: the server matches.")
        return "\n".join(lines)
    for change in changeset.changes:
        head = f"  {SYMBOLS[change.action]} {VERBS[change.action]} {change.address}"
        if change.note:
            head += f" ({change.note})"
        lines.append(head)
        lines += [f"      {render_field(f)}" for f in change.fields]
        if change.memory_loss:
            flag = (
                "needs --allow-memory-loss"
                if change.blocked and not memory_loss_allowed
                else "accepted"
            )
            lines.append(f"      ! memory loss: {change.memory_loss} ({flag})")
    counts = changeset.summary()
    lines.append(f"{title}: " + ", ".join(f"{n} to {a}" for a, n in counts.items() if n) + ".")
    return "\n".join(lines)


def render_json(changeset: ChangeSet) -> str:
    return json.dumps(changeset.to_dict(), indent=2, sort_keys=True, default=str)
