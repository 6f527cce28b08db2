"""Text and JSON rendering of a plan: symbols, summaries, secrets never shown."""

from __future__ import annotations

import json

from orchestrator.provision.changes import Change, ChangeSet, FieldChange
from orchestrator.provision.render import render_json, render_text


def _changeset():
    return ChangeSet(
        "default",
        "http://letta",
        (
            Change(
                "create",
                "agent",
                "a",
                "agent",
                fields=(
                    FieldChange("model", None, "m"),
                    FieldChange("tool_env", None, ["KEY"], secret=True),
                ),
            ),
            Change(
                "update",
                "agent_block",
                "persona",
                "agent",
                agent="a",
                server_id="b1",
                fields=(FieldChange("value", "old", "x" * 100),),
            ),
            Change(
                "delete",
                "agent",
                "old",
                "delete",
                server_id="agent-9",
                memory_loss="3 archival passage(s) would be lost",
                blocked=True,
            ),
        ),
        warnings=("something to know",),
    )


def test_text_plan():
    assert render_text(_changeset()) == "\n".join(
        [
            "Plan for namespace 'default' on http://letta:",
            "  warning: something to know",
            "  + create agent a",
            '      model: "m"',
            "      tool_env: (sensitive)",
            "  ~ update agent a: block persona",
            f'      value: "old" -> "{"x" * 59}…" (100 chars)',
            "  - delete agent old",
            "      ! memory loss: 3 archival passage(s) would be lost (needs --allow-memory-loss)",
            "Plan: 1 to create, 1 to update, 1 to delete.",
        ]
    )


def test_empty_plan_says_the_server_matches():
    assert render_text(ChangeSet("ns", "u")).endswith("No changes: the server matches.")


def test_json_plan_hides_secret_values():
    secret = ChangeSet(
        "d",
        "u",
        (
            Change(
                "update",
                "agent",
                "a",
                "agent",
                fields=(FieldChange("tool_env", "sha256:aaa", "sha256:bbb", secret=True),),
            ),
        ),
    )
    data = json.loads(render_json(secret))
    assert data["changes"][0]["fields"] == [
        {"field": "tool_env", "old": "(sensitive)", "new": "(sensitive)"}
    ]
    assert "sha256:bbb" not in render_json(secret) and "sha256:bbb" not in render_text(secret)
    assert data["summary"]["update"] == 1 and len(data["fingerprint"]) == 64
