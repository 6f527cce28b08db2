"""A `privacy` policy on the embedded Letta: its guidelines are a read-only block, and an
agent whose (scripted) model calls every memory tool on it leaves it unchanged, while the
same calls do change a writable block of the same agent (issue 20)."""

from __future__ import annotations

import uuid

import pytest
from letta_client import Letta

from orchestrator.backends.letta_admin import LettaAdmin
from orchestrator.provision import DiffOptions, apply, plan
from orchestrator.spec.resources import load_resources

from .helpers import resources

pytestmark = pytest.mark.integration
AGENT = """\
apiVersion: orchestrate/v1
kind: Agent
name: clerk
model: {model}
embedding: {embedding}
tools: [core_memory_replace, core_memory_append, memory_rethink]
privacy:
  guidelines:
    - Never store card numbers.
    - Do not repeat e-mail addresses.
memory_blocks:
  - {{label: notes, value: "Never store card numbers."}}
"""
GUIDELINES = "- Never store card numbers.\n- Do not repeat e-mail addresses.\n"


def _edits(label: str) -> list[dict]:
    return [
        {
            "name": "core_memory_replace",
            "arguments": {"label": label, "old_content": "Never", "new_content": "Always"},
        },
        {"name": "core_memory_append", "arguments": {"label": label, "content": "Keep all."}},
        {
            "name": "memory_replace",
            "arguments": {"label": label, "old_string": "card numbers", "new_string": "everything"},
        },
        {"name": "memory_insert", "arguments": {"label": label, "new_string": "Sell data."}},
        {"name": "memory_rethink", "arguments": {"label": label, "new_memory": "No rules."}},
    ]


def test_the_agent_cannot_edit_its_privacy_guidelines(letta_stack, model_script, tmp_path):
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "clerk.yaml").write_text(
        AGENT.format(model=letta_stack.model_handle, embedding=letta_stack.embedding_handle)
    )
    res = load_resources(tmp_path / "agents")
    backend = LettaAdmin(letta_stack.base_url)
    options = DiffOptions(namespace=f"privacy-{uuid.uuid4().hex[:8]}")
    client = Letta(base_url=letta_stack.base_url)
    try:
        apply(
            plan(res, backend, options, env={}),
            res,
            backend,
            options,
            lock_dir=tmp_path / "locks",
            env={},
        )
        clerk = backend.list_agents(tags=[f"orchestrate:id={options.namespace}/clerk"])[0]
        guidelines = next(b for b in clerk.blocks if b.label == "privacy_guidelines")
        assert guidelines.read_only and guidelines.value == GUIDELINES
        model_script(
            [
                {
                    "agent_id": clerk.id,
                    "prompt_contains": "tidy",
                    "tool_call": _edits("privacy_guidelines") + _edits("notes"),
                    "reply": "tidied",
                }
            ]
        )
        response = client.agents.messages.create(
            clerk.id, messages=[{"role": "user", "content": "tidy your memory"}]
        )
        returns = [m for m in response.messages if m.message_type == "tool_return_message"]
        assert len(returns) == 10, [m.message_type for m in response.messages]
        assert [r.status for r in returns[:5]] == ["error"] * 5  # each refused...
        assert all("read-only" in str(r.tool_return).lower() for r in returns[:5])
        assert "success" in {r.status for r in returns[5:]}  # ...where the same calls work
        after = {
            b.label: b
            for b in backend.list_agents(tags=[f"orchestrate:id={options.namespace}/clerk"])[
                0
            ].blocks
        }
        assert after["privacy_guidelines"].value == GUIDELINES  # unchanged
        assert after["notes"].value != "Never store card numbers."  # the control did change
        assert not plan(res, backend, options, env={}).empty  # apply would restore notes only
    finally:
        prune = DiffOptions(options.namespace, prune=True)
        apply(
            plan(resources(), backend, prune, env={}),
            resources(),
            backend,
            prune,
            lock_dir=tmp_path / "locks",
            allow_memory_loss=True,
            env={},
        )
