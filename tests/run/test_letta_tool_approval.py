"""Letta's own `requires_approval` tool rule, end to end on the embedded Letta: the local
model (scripted) calls a tool that needs approval, the step waits like an approval gate,
`approve` sends the decision to Letta, and the step goes on with what the agent answers."""

from __future__ import annotations

import secrets
import textwrap

import pytest
from letta_client import Letta

from orchestrator.backends import identity
from orchestrator.backends.letta import LettaBackend
from orchestrator.compile import load_plan
from orchestrator.run.approval import answer
from orchestrator.run.records import Records, UnitKey
from orchestrator.run.runner import resume_run, start_run

pytestmark = pytest.mark.integration


@pytest.fixture
def gated_agent(letta_stack):
    client = Letta(base_url=letta_stack.base_url)
    name = "h13-gated-" + secrets.token_hex(3)
    made = client.agents.create(
        name=name,
        model=letta_stack.model_handle or "openai-proxy/orchestrate-local",
        embedding=letta_stack.embedding_handle,
        tags=[identity.MANAGED_TAG, identity.agent_tag("default", name)],
        tool_rules=[{"type": "requires_approval", "tool_name": "conversation_search"}],
    )
    yield name, made.id
    client.agents.delete(made.id)


@pytest.mark.parametrize("approved", [True, False])
def test_a_tool_call_waits_for_approve_then_the_step_goes_on(
    letta_stack, model_script, gated_agent, tmp_path, approved
):
    name, agent_id = gated_agent
    pipeline = tmp_path / "gated.yaml"
    pipeline.write_text(
        textwrap.dedent(f"""\
        apiVersion: orchestrate/v1
        kind: Pipeline
        metadata: {{name: gated}}
        agents: {{keeper: {{ref: {name}}}}}
        steps:
          look: {{agent: keeper, prompt: "look it up"}}
          tell: {{agent: keeper, prompt: "now say: {{{{ steps.look.output }}}}"}}
        """)
    )
    model_script(
        [
            {
                "prompt_contains": "look it up",
                "tool_call": {"name": "conversation_search", "arguments": {"query": "owls"}},
                "reply": "found nothing about owls",
            }
        ]
    )
    backend, records = LettaBackend(letta_stack.base_url), Records(tmp_path / "runs.db")
    plan = load_plan(pipeline)
    first = start_run(plan, {}, backend, records)
    assert first.status == "waiting_approval", first.error
    [row] = records.approvals(first.run_id, status="waiting")
    assert row["stage"].startswith("tool:")
    assert "conversation_search" in row["prompt"] and "owls" in row["prompt"]
    asked = len(model_script.requests())
    assert asked == 1  # the model asked for the tool; Letta ran nothing yet
    assert records.units(first.run_id)[UnitKey("look")]["status"] == "waiting_approval"

    answer(records, first.run_id, "look", approved=approved, comment="ok by me", by="qa")
    out = resume_run(first.run_id, plan, backend, records)
    assert out.status == "succeeded", out.error
    assert out.outputs == {} and out.results["look"].output == "found nothing about owls"
    after = model_script.requests()[asked:]
    assert after[0]["last_role"] == "tool"  # Letta went on with the tool's result (or denial)
    looks = [
        r
        for r in model_script.requests()
        if r.get("prompt") == "look it up" and r["last_role"] == "user"
    ]
    assert len(looks) == 1  # the prompt was sent once
    history = Letta(base_url=letta_stack.base_url).agents.messages.list(agent_id, limit=50).items
    kinds = [getattr(m, "message_type", "") for m in history]
    assert "approval_response_message" in kinds
    returns = [m for m in history if getattr(m, "message_type", "") == "tool_return_message"]
    assert returns and (returns[-1].status == "success") is approved
    records.close()
