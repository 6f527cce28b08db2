"""The tokens of a turn whose reply was lost and then found in the agent's history count
(issue 15 item 9: steps reconciled after Ctrl-C showed 0 tokens)."""

from __future__ import annotations

from orchestrator.run.records import UnitKey
from orchestrator.run.runner import resume_run

PIPE = """
agents: {a: {}}
defaults: {retries: {max_attempts: 1, backoff: 0}}
steps:
  write: {agent: a, prompt: "write four words here"}
"""


def test_a_lost_reply_recovered_from_history_counts_its_tokens(harness):
    harness.backend.script(prompt_contains="write", lose_reply=True, times=1)
    out = harness.run(PIPE)
    assert out.status == "succeeded" and len(harness.backend.sent) == 1
    unit = harness.records.units(out.run_id)[UnitKey("write")]
    assert (unit["prompt_tokens"], unit["completion_tokens"]) == (4, 5)  # memory: words, 5
    assert out.results["write"].usage.tokens == 9 and out.totals["prompt_tokens"] == 4


def test_a_turn_in_flight_at_ctrl_c_counts_on_resume(harness, compile_text):
    harness.backend.script(prompt_contains="write", lose_reply=True, times=1)
    harness.backend.history_errors = 10**6  # unsettled in this run: as if cut off by Ctrl-C
    plan = compile_text(PIPE)
    first = harness.run(plan)
    harness.backend.history_errors = 0
    harness.records.write_unit(first.run_id, UnitKey("write"), status="cancelled")
    out = resume_run(first.run_id, plan, harness.backend, harness.records, emit=harness.emit)
    assert out.status == "succeeded" and len(harness.backend.sent) == 1
    unit = harness.records.units(first.run_id)[UnitKey("write")]
    assert (unit["prompt_tokens"], unit["completion_tokens"]) == (4, 5)
    assert [k for k, _ in harness.events if k == "step_reconciled"]
