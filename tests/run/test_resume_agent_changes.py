"""Resume after an inline agent's definition changed: the affected steps re-run on a Letta
agent made from the new definition (never on the old agent), the old agent is deleted, an
unchanged agent is taken up again, and a provisioned agent replaced since the run re-runs
the steps it had answered."""

from __future__ import annotations

import pytest

from orchestrator.backends.base import NewAgent
from orchestrator.errors import BackendError
from orchestrator.run.runner import RunOptions, resume_run

PIPE = """
agents:
  a: {system: "You are OLD", memory_blocks: [{label: persona, value: "old persona"}]}
  b: {}
shared_blocks: {notes: {value: "old notes"}}
defaults: {retries: {max_attempts: 1}}
steps:
  first: {agent: b, prompt: "first"}
  research: {agent: a, prompt: "research {{ steps.first.output }}"}
"""


def _failed_run(harness, compile_text, pipe=PIPE):
    harness.backend.chat_models += ["other/m", "memory/other"]
    rule = harness.backend.script(
        prompt_contains="research", fail=BackendError("HTTP 400: no", status=400)
    )
    first = harness.run(compile_text(pipe))
    assert first.status == "failed"
    harness.backend.rules.remove(rule)
    return first


@pytest.fixture(autouse=True)
def _made(harness):
    """Every agent request, kept after the agent is deleted."""
    harness.made = {}
    create = harness.backend.create_agent

    def recording(request: NewAgent):
        ref = create(request)
        harness.made[ref.id] = request
        return ref

    harness.backend.create_agent = recording
    harness.block_values, harness.deleted_blocks = {}, []
    create_block, delete_block = harness.backend.create_block, harness.backend.delete_block

    def recording_block(block):
        block_id = create_block(block)
        harness.block_values[block_id] = block.value
        return block_id

    def deleting_block(block_id):
        harness.deleted_blocks.append(block_id)
        delete_block(block_id)

    harness.backend.create_block, harness.backend.delete_block = recording_block, deleting_block


def _request_of(harness, agent_id: str) -> NewAgent:
    return harness.made[agent_id]


def _research_agent(harness) -> str:
    return next(m["agent_id"] for m in harness.backend.sent if m["prompt"].startswith("research"))


@pytest.mark.parametrize(
    "edit,seen",
    [
        (("You are OLD", "You are NEW"), "NEW"),  # the system prompt
        (("old persona", "new persona"), "new persona"),  # a memory block's value
        (("a: {system:", "a: {model: other/m, system:"), "other/m"),  # its model
    ],
)
def test_a_changed_agent_definition_gets_a_new_agent_on_resume(harness, compile_text, edit, seen):
    first = _failed_run(harness, compile_text)
    old = {r.metadata["orchestrate"]["agent"]: agent_id for agent_id, r in harness.made.items()}
    out = resume_run(
        first.run_id, compile_text(PIPE.replace(*edit)), harness.backend, harness.records
    )
    assert out.status == "succeeded", out.error
    used = _research_agent(harness)
    assert used != old["a"]  # not the agent made from the old definition
    request = _request_of(harness, used)
    assert seen in repr(request)
    assert old["a"] in harness.backend.deleted
    assert out.results["first"].reused  # b's step did not change: not sent again


def test_an_unchanged_agent_is_taken_up_again(harness, compile_text):
    first = _failed_run(harness, compile_text)
    made = set(harness.backend.agents)
    out = resume_run(
        first.run_id,
        compile_text(PIPE),
        harness.backend,
        harness.records,
        options=RunOptions(keep_agents=True),
    )
    assert out.status == "succeeded", out.error
    assert set(harness.backend.agents) == made  # nothing new was created


def test_a_changed_shared_block_is_made_again_for_every_agent_that_attaches_it(
    harness, compile_text
):
    pipe = PIPE.replace("b: {}", "b: {shared_blocks: [notes]}").replace(
        "a: {system:", "a: {shared_blocks: [notes], system:"
    )
    first = _failed_run(harness, compile_text, pipe)
    (old_block,) = harness.block_values
    out = resume_run(
        first.run_id,
        compile_text(pipe.replace("old notes", "new notes")),
        harness.backend,
        harness.records,
    )
    assert out.status == "succeeded", out.error
    (block_id,) = _request_of(harness, _research_agent(harness)).block_ids
    assert block_id != old_block
    assert harness.block_values[block_id] == "new notes"
    assert harness.deleted_blocks[0] == old_block  # before the new agents were made
    assert not harness.backend.blocks  # and the new one at the end
    # `first` re-ran too (its agent attaches the changed block), on a new agent of b
    assert not out.results["first"].reused


def test_a_changed_run_model_gets_agents_on_that_model(harness, compile_text):
    first = _failed_run(harness, compile_text)
    out = resume_run(
        first.run_id,
        compile_text(PIPE),
        harness.backend,
        harness.records,
        options=RunOptions(model="memory/other"),
    )
    assert harness.made[_research_agent(harness)].model == "memory/other"
    assert out.status == "succeeded", out.error
    assert _request_of(harness, _research_agent(harness)).model == "memory/other"


def test_a_replaced_provisioned_agent_reruns_the_steps_it_answered(harness, compile_text):
    pipe = """
agents: {p: {ref: researcher}}
defaults: {retries: {max_attempts: 1}}
steps:
  first: {agent: p, prompt: "first"}
  second: {agent: p, prompt: "second {{ steps.first.output }}"}
"""
    tags = ("orchestrate:managed", "orchestrate:id=default/researcher")
    made = harness.backend.create_agent(
        NewAgent(name="researcher", model="memory/echo", embedding="memory/embed", tags=tags)
    )
    harness.backend.script(prompt_contains="second", fail=BackendError("no", status=400), times=1)
    first = harness.run(compile_text(pipe))
    assert first.status == "failed"
    harness.backend.delete_agent(made.id)  # destroyed and applied again: a new agent
    harness.backend.create_agent(
        NewAgent(name="researcher", model="memory/echo", embedding="memory/embed", tags=tags)
    )
    out = resume_run(first.run_id, compile_text(pipe), harness.backend, harness.records)
    assert out.status == "succeeded", out.error
    assert not out.results["first"].reused
    assert [m["prompt"].split()[0] for m in harness.backend.sent] == ["first", "first", "second"]
