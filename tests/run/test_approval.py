"""Approval gates on the in-memory backend: a run waits (recorded), `answer` decides, resume
carries on without sending anything twice; rejection stops the run or branches; timeouts."""

from __future__ import annotations

import time

import pytest

from orchestrator.errors import RunError
from orchestrator.run.approval import answer
from orchestrator.run.records import UnitKey
from orchestrator.run.runner import resume_run

PIPE = """
agents: {a: {}}
inputs: {topic: {type: string}}
steps:
  draft: {agent: a, prompt: "draft {{ inputs.topic }}"}
  publish:
    agent: a
    prompt: "publish {{ steps.draft.output }} ({{ steps.publish_note() if false else '' }})"
    approval: {before: true, prompt: "Publish the draft on {{ inputs.topic }}?"}
outputs:
  text: "{{ steps.publish.output }}|{{ steps.publish.approval.comment }}"
"""
PIPE = PIPE.replace(" ({{ steps.publish_note() if false else '' }})", "")


def _resume(harness, run_id, plan=None):
    return resume_run(
        run_id, plan or harness.run_plan, harness.backend, harness.records, emit=harness.emit
    )


def test_a_before_gate_waits_then_runs_once_approved(harness):
    first = harness.run(PIPE, {"topic": "owls"})
    assert first.status == "waiting_approval", first.error
    assert first.results["publish"].status == "waiting_approval"
    assert [p.split()[0] for p in harness.backend.prompts()] == ["draft"]  # nothing for publish
    assert "orchestrate approve" in first.error and "publish" in first.error
    assert "Publish the draft on owls?" in first.error
    assert harness.records.run(first.run_id)["status"] == "waiting_approval"
    kinds = [k for k, _ in harness.events]
    assert "approval_waiting" in kinds
    # resuming before anyone answers waits again, sends nothing
    again = _resume(harness, first.run_id)
    assert again.status == "waiting_approval"
    assert len(harness.backend.sent) == 1
    assert answer(
        harness.records, first.run_id, "publish", approved=True, comment="ship it", by="alice"
    ) == ["publish"]
    out = _resume(harness, first.run_id)
    assert out.status == "succeeded", out.error
    assert [p.split()[0] for p in harness.backend.prompts()] == ["draft", "publish"]
    assert out.outputs["text"].endswith("|ship it")
    assert out.results["draft"].reused


def test_a_rejection_stops_the_run_cleanly(harness):
    first = harness.run(PIPE, {"topic": "owls"})
    answer(harness.records, first.run_id, "publish", approved=False, comment="not yet", by="bob")
    out = _resume(harness, first.run_id)
    assert out.status == "rejected"
    assert "rejected by bob: not yet" in out.error
    assert len(harness.backend.sent) == 1
    with pytest.raises(RunError, match="answered already"):
        answer(harness.records, first.run_id, "publish", approved=True, comment=None, by="x")


BRANCH = """
agents: {a: {}}
steps:
  draft:
    agent: a
    prompt: "draft"
    approval: {after: true, on_reject: continue, prompt: "use {{ output }}?"}
  publish:
    agent: a
    when: "{{ steps.draft.approval.approved }}"
    prompt: "publish {{ steps.draft.output }}"
  rework:
    agent: a
    when: "{{ not steps.draft.approval.approved }}"
    prompt: "rework, because {{ steps.draft.approval.comment }}"
"""


@pytest.mark.parametrize("approved", [True, False])
def test_an_after_gate_branches_on_the_decision(harness, approved):
    first = harness.run(BRANCH)
    assert first.status == "waiting_approval"
    assert [p.split()[0] for p in harness.backend.prompts()] == ["draft"]
    row = harness.records.approvals(first.run_id)[0]
    assert row["stage"] == "after" and row["prompt"].startswith("use ")
    answer(
        harness.records, first.run_id, "draft", approved=approved, comment="too long", by="carol"
    )
    out = _resume(harness, first.run_id)
    assert out.status == "succeeded", out.error
    sent = [p.split()[0] for p in harness.backend.prompts()]
    assert sent == ["draft", "publish" if approved else "rework,"]  # draft was not sent again
    if not approved:
        assert harness.backend.prompts()[-1] == "rework, because too long"
        assert out.results["draft"].status == "skipped"


def test_for_each_items_and_loop_iterations_are_units(harness):
    body = """
agents: {a: {}}
steps:
  each:
    agent: a
    for_each: "{{ ['x', 'y'] }}"
    prompt: "do {{ item }}"
    approval: {before: true, prompt: "do {{ item }}?"}
  again:
    loop:
      max_iterations: 2
      steps:
        check: {agent: a, prompt: "check {{ loop.index }}", approval: true}
"""
    first = harness.run(body)
    assert first.status == "waiting_approval"
    waiting = {
        f"{r['step']}/{r['item']}/{r['iteration']}"
        for r in harness.records.approvals(first.run_id, status="waiting")
    }
    assert waiting == {"each/0/0", "each/1/0", "again.check/-1/1"}
    assert answer(
        harness.records, first.run_id, "each[1]", approved=True, comment=None, by="d"
    ) == ["each[1]"]
    assert _resume(harness, first.run_id).status == "waiting_approval"
    assert harness.backend.prompts() == ["do y"]
    answer(harness.records, first.run_id, "each", approved=True, comment=None, by="d")
    answer(harness.records, first.run_id, "again.check#1", approved=True, comment=None, by="d")
    second = _resume(harness, first.run_id)
    assert second.status == "waiting_approval"  # iteration 2 asks in its turn
    assert "again.check#2" in second.error
    answer(harness.records, first.run_id, "again", approved=True, comment=None, by="d")
    out = _resume(harness, first.run_id)
    assert out.status == "succeeded", out.error
    sent = harness.backend.prompts()
    assert sent[0] == "do y" and sorted(sent[1:]) == ["check 1", "check 2", "do x"]


@pytest.mark.parametrize("on_timeout", ["approve", "reject"])
def test_an_unanswered_gate_is_decided_by_its_timeout(harness, on_timeout):
    body = PIPE.replace(
        "approval: {before: true,",
        f"approval: {{before: true, timeout: 0.2, on_timeout: {on_timeout},",
    )
    first = harness.run(body, {"topic": "owls"})
    assert first.status == "waiting_approval"
    assert "answer by" in first.error
    time.sleep(0.3)
    out = _resume(harness, first.run_id)
    assert out.status == ("succeeded" if on_timeout == "approve" else "rejected"), out.error
    row = harness.records.approval(first.run_id, UnitKey("publish"), "before")
    assert row["decided_by"] == "timeout"


def test_answer_names_what_waits_when_the_unit_is_wrong(harness):
    first = harness.run(PIPE, {"topic": "owls"})
    with pytest.raises(RunError, match=r"no approval of 'draft' is waiting \(waiting: publish\)"):
        answer(harness.records, first.run_id, "draft", approved=True, comment=None, by="x")


TOOL = """
agents: {a: {}}
steps:
  lookup: {agent: a, prompt: "look it up"}
  after: {agent: a, prompt: "then {{ steps.lookup.output }}"}
"""


@pytest.mark.parametrize("approved", [True, False])
def test_a_tool_call_that_needs_approval_pauses_the_step(harness, approved):
    harness.backend.script(
        prompt_contains="look it up", ask_tool="send_email", replies=["looked it up"]
    )
    first = harness.run(TOOL)
    assert first.status == "waiting_approval", first.error
    [row] = harness.records.approvals(first.run_id, status="waiting")
    assert row["stage"].startswith("tool:") and "send_email" in row["prompt"]
    assert "orchestrate approve" in first.error
    assert _resume(harness, first.run_id).status == "waiting_approval"  # nothing sent
    assert [m["prompt"] for m in harness.backend.sent] == ["look it up"]
    assert harness.backend.decisions == []
    answer(harness.records, first.run_id, "lookup", approved=approved, comment="fine", by="e")
    out = _resume(harness, first.run_id)
    assert out.status == "succeeded", out.error
    [decision] = harness.backend.decisions  # the answer went once, to the same agent
    assert (
        decision["approve"] is approved
        and decision["agent_id"] == harness.backend.sent[0]["agent_id"]
    )
    assert out.results["lookup"].output == ("looked it up" if approved else "denied: fine")
    assert [m["prompt"].split()[0] for m in harness.backend.sent] == ["look", "then"]


def test_a_secret_in_an_approval_prompt_is_never_recorded_or_shown(harness):
    body = """
agents: {a: {}}
inputs: {token: {type: string, secret: true}}
steps:
  deploy:
    agent: a
    prompt: "deploy with {{ inputs.token }}"
    approval: {before: true, prompt: "deploy with token {{ inputs.token }}?"}
"""
    out = harness.run(body, {"token": "tok-5up3r-s3cret"})
    assert out.status == "waiting_approval"
    [row] = harness.records.approvals(out.run_id)
    assert "tok-5up3r-s3cret" not in row["prompt"] and "deploy with token" in row["prompt"]
    assert "tok-5up3r-s3cret" not in (out.error or "")
    assert "tok-5up3r-s3cret" not in repr(harness.events)
