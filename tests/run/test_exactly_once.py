"""Exactly-once toward the agent when the server answers with an error *after* it stored the
turn (a busy Letta answers HTTP 500 when its database refuses a connection late in the
request): every ambiguous failure is reconciled with the agent's history before anything is
sent again, and a fate that cannot be told is never guessed at."""

from __future__ import annotations

import pytest

from orchestrator.errors import BackendError
from orchestrator.run.records import UnitKey
from orchestrator.run.runner import resume_run

TEXT_STEP = """
agents: {a: {}}
defaults: {retries: {max_attempts: 3, backoff: 0.01, max_backoff: 0.02}}
steps:
  s: {agent: a, prompt: "say hello"}
outputs:
  said: "{{ steps.s.output }}"
"""


@pytest.mark.parametrize("status", [500, 502, 503, 408, 409, 429])
def test_error_after_the_turn_was_stored_is_reconciled_not_resent(harness, status):
    harness.backend.script(
        replies=["hello"],
        times=1,
        lose_with=BackendError(f"HTTP {status}", transient=True, status=status),
    )
    out = harness.run(TEXT_STEP)
    assert out.status == "succeeded", out.error
    assert out.outputs["said"] == "hello"
    assert harness.backend.prompts() == ["say hello"]  # the prompt reached the agent once
    assert [k for k, _ in harness.events if k == "step_reconciled"]


def test_error_before_anything_was_stored_is_retried(harness):
    harness.backend.script(
        replies=["hello"], times=1, fail=BackendError("HTTP 500", transient=True, status=500)
    )
    out = harness.run(TEXT_STEP)
    assert out.status == "succeeded", out.error
    assert harness.backend.prompts() == ["say hello"]  # the failed send stored nothing
    assert out.results["s"].usage.attempts == 2  # two sends (as the records say), one answered


def test_unreadable_history_is_never_guessed_at_and_resume_settles_it(harness):
    # The turn was stored, the answer lost, and the server cannot even say so for a while:
    # sending again would risk a second copy, so the unit fails saying why; resume asks the
    # history again, finds the answer, and sends nothing.
    harness.backend.script(
        replies=["hello"], times=1, lose_with=BackendError("HTTP 500", transient=True, status=500)
    )
    harness.backend.history_errors = 100
    first = harness.run(TEXT_STEP)
    assert first.status == "failed"
    error = first.results["s"].error
    assert "could not tell whether the message reached agent" in error
    assert "orchestrate resume" in error
    assert len(harness.backend.sent) == 1
    harness.backend.history_errors = 0
    out = resume_run(first.run_id, harness.run_plan, harness.backend, harness.records)
    assert out.status == "succeeded", out.error
    assert out.outputs["said"] == "hello"
    assert len(harness.backend.sent) == 1  # resume found the answer: nothing sent again
    row = harness.records.units(first.run_id)[UnitKey("s")]
    assert row["status"] == "succeeded"


def test_a_retry_records_its_own_intent_before_sending(harness):
    # Two failures that stored nothing, then success: each attempt's otid is recorded before
    # its message goes out, and the row ends with the otid of the message that was answered.
    harness.backend.script(
        replies=["hello"], times=2, fail=BackendError("HTTP 503", transient=True, status=503)
    )
    out = harness.run(TEXT_STEP)
    assert out.status == "succeeded", out.error
    row = harness.records.units(out.run_id)[UnitKey("s")]
    assert row["attempts"] == 3
    assert row["otid"] == harness.backend.sent[-1]["otid"]
