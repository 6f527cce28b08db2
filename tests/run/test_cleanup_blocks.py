"""A run deletes its inline agents' own memory blocks too (Letta deletes an agent, not its
blocks: every run of research-report used to leave one `persona` block per agent behind),
on success and on failure then resume to success; kept agents keep theirs."""

from __future__ import annotations

from orchestrator.backends import identity
from orchestrator.backends.base import NewBlock
from orchestrator.errors import BackendError
from orchestrator.run.runner import RunOptions, resume_run

PIPE = """
agents:
  a: {memory_blocks: [{label: persona, value: "I research."}, {label: notes, value: "-"}]}
  b: {memory_blocks: [{label: persona, value: "I write."}], shared_blocks: [board]}
shared_blocks:
  board: {value: "shared"}
defaults: {retries: {max_attempts: 1}}
steps:
  one: {agent: a, prompt: "hello"}
  two: {agent: b, prompt: "write {{ steps.one.output }}"}
"""


def test_a_run_that_succeeds_leaves_no_block_behind(harness):
    out = harness.run(PIPE)
    assert out.status == "succeeded", out.error
    assert harness.backend.blocks == {}


def test_a_failed_run_keeps_only_what_resume_needs(harness):
    harness.backend.script(prompt_contains="write", fail=BackendError("no", status=400))
    out = harness.run(PIPE)
    assert out.status == "failed"
    # `a` served its only step and was deleted with its blocks; `b` (and what it
    # attaches) stays for resume, tagged with the run
    tagged = harness.backend.find_blocks((identity.run_tag(out.run_id),))
    assert sorted(b.label for b in tagged) == ["board", "persona"]
    assert len(harness.backend.blocks) == 2


def test_failure_then_resume_to_success_leaves_nothing(harness, compile_text):
    harness.backend.script(prompt_contains="write", fail=BackendError("no", status=400))
    first = harness.run(PIPE)
    assert first.status == "failed"
    # a failed run keeps what resume needs: the agents and their blocks, attached
    assert harness.backend.agents and not harness.backend.find_blocks((), unattached=True)
    harness.backend.rules.clear()
    out = resume_run(first.run_id, compile_text(PIPE), harness.backend, harness.records)
    assert out.status == "succeeded", out.error
    assert harness.backend.blocks == {} and harness.backend.agents == {}


def test_kept_agents_keep_their_blocks_and_say_so(harness):
    out = harness.run(PIPE, keep_agents=True)
    assert out.status == "succeeded", out.error
    assert len(harness.backend.blocks) == 4
    assert all(identity.KEEP_TAG in a.ref.tags for a in harness.backend.agents.values())


def test_blocks_of_others_are_not_touched(harness):
    mine = harness.backend.create_block(NewBlock("persona", "hand-made"))
    other_run = harness.backend.create_block(
        NewBlock(
            "persona", "x", tags=(identity.RUN_TAG, identity.run_tag("20990101-000000-aaaaaa"))
        )
    )
    assert harness.run(PIPE).status == "succeeded"
    assert set(harness.backend.blocks) == {mine, other_run}


def test_unrecorded_keep_option_is_not_needed_on_resume(harness, compile_text):
    harness.backend.script(prompt_contains="write", fail=BackendError("no", status=400))
    first = harness.run(PIPE, keep_agents=True)
    harness.backend.rules.clear()
    out = resume_run(
        first.run_id,
        compile_text(PIPE),
        harness.backend,
        harness.records,
        options=RunOptions(keep_agents=True),
    )
    assert out.status == "succeeded", out.error
    assert len(harness.backend.blocks) == 4  # every agent kept, with its memory
