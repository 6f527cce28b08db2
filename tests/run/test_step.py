"""Attempt rules of one agent call: JSON repair, retries with backoff, timeouts, exactly-once."""

from __future__ import annotations

import json
import time

from orchestrator.backends.base import JSON_MARKER
from orchestrator.errors import BackendError, ServerUnavailable
from orchestrator.run.records import UnitKey
from orchestrator.run.step import backoff_delay, make_otid

JSON_STEP = """
agents: {a: {}}
defaults: {retries: {max_attempts: 3, backoff: 0.01, max_backoff: 0.02}}
steps:
  judge:
    agent: a
    prompt: "judge it"
    output:
      format: json
      schema: {type: object, required: [approved], properties: {approved: {type: boolean}}}
outputs:
  verdict: "{{ steps.judge.output.approved }}"
"""


def test_json_step_prompt_carries_marker_and_schema(harness):
    harness.backend.script(json={"approved": True})
    harness.run(JSON_STEP)
    prompt = harness.backend.prompts()[0]
    assert prompt.startswith("judge it\n\n" + JSON_MARKER + "\n```json\n")
    schema = json.loads(prompt.split("```json\n", 1)[1].split("\n```", 1)[0])
    assert schema["required"] == ["approved"]


def test_invalid_json_is_sent_back_with_the_error_then_accepted(harness):
    harness.backend.script(
        replies=["not json at all", '```json\n{"approved": "yes"}\n```', 'Sure! {"approved": true}']
    )
    out = harness.run(JSON_STEP)
    assert out.status == "succeeded", out.error
    assert out.outputs["verdict"] is True
    prompts = harness.backend.prompts()
    assert prompts[1].startswith("Your previous answer was not valid: it is not JSON")
    assert prompts[2].startswith(
        "Your previous answer was not valid: at approved: 'yes' is not of type 'boolean'"
    )
    assert JSON_MARKER in prompts[2]
    assert harness.records.units(out.run_id)[UnitKey("judge")]["attempts"] == 3


def test_invalid_json_exhausts_the_attempt_budget_with_a_clear_error(harness):
    harness.backend.script(replies=["nope"])
    out = harness.run(JSON_STEP)
    assert out.status == "failed"
    assert out.results["judge"].error == (
        "gave up after 3 attempts: invalid JSON reply: it is not JSON "
        "(answer with one JSON value and nothing else)"
    )
    assert len(harness.backend.prompts()) == 3


def test_transient_errors_are_retried_with_backoff(harness):
    harness.backend.script(fail=BackendError("HTTP 503: busy", transient=True, status=503), times=2)
    harness.backend.script(json={"approved": True})
    out = harness.run(JSON_STEP)
    assert out.status == "succeeded", out.error
    retries = [d for k, d in harness.events if k == "step_retry"]
    assert [r["delay"] for r in retries] == [0.01, 0.02]
    assert "HTTP 503" in retries[0]["error"]


def test_permanent_errors_are_not_retried(harness):
    harness.backend.script(fail=BackendError("HTTP 422: bad request", status=422), times=5)
    out = harness.run(JSON_STEP)
    assert out.results["judge"].error == "HTTP 422: bad request"
    assert not [k for k, _ in harness.events if k == "step_retry"]


def test_transient_errors_exhaust_the_budget(harness):
    harness.backend.script(
        fail=BackendError("HTTP 500: llm_error", transient=True, status=500), times=10
    )
    out = harness.run(JSON_STEP)
    assert out.results["judge"].error == "gave up after 3 attempts: HTTP 500: llm_error"


def test_per_attempt_timeout_then_retry(harness):
    plan = JSON_STEP.replace('prompt: "judge it"', 'prompt: "judge it"\n    timeout: 0.05')
    harness.backend.script(delay=0.3, json={"approved": True}, times=1)
    began = time.monotonic()
    out = harness.run(plan)
    assert out.status == "failed"  # every attempt is slower than its timeout
    assert "timed out after 0.05s" in out.results["judge"].error
    assert time.monotonic() - began < 1.0


def test_lost_reply_is_recovered_from_history_not_sent_twice(harness):
    # The message reaches the agent, the connection drops before the answer: the retry
    # asks the agent's history by otid and takes the reply instead of sending again.
    harness.backend.script(json={"approved": True}, lose_reply=True, times=1)
    out = harness.run(JSON_STEP)
    assert out.status == "succeeded", out.error
    assert len(harness.backend.prompts()) == 1
    assert [k for k, _ in harness.events if k == "step_reconciled"]


def test_server_down_for_a_moment_is_survived(harness):
    harness.backend.script(fail=ServerUnavailable("no server"), times=1)
    out = harness.run(JSON_STEP)
    assert out.status == "succeeded"


def test_otid_is_deterministic_and_distinct_per_attempt_and_unit():
    key = UnitKey("s", 2, 1)
    assert make_otid("r1", key, 1) == make_otid("r1", key, 1)
    assert (
        len(
            {
                make_otid("r1", key, 1),
                make_otid("r1", key, 2),
                make_otid("r2", key, 1),
                make_otid("r1", UnitKey("s", 3, 1), 1),
            }
        )
        == 4
    )


def test_backoff_doubles_up_to_the_cap():
    assert [backoff_delay(n, 1.0, 5.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]


def test_per_step_model_override_is_sent_with_the_message(harness):
    plan = """
agents: {a: {model: base/model}}
steps:
  s1: {agent: a, prompt: "one"}
  s2: {agent: a, prompt: "two", model: other/model}
"""
    harness.backend.chat_models += ["base/model", "other/model"]
    harness.run(plan)
    models = {m["prompt"]: m["model"] for m in harness.backend.sent}
    assert models == {"one": None, "two": "other/model"}
    assert [a.request.model for a in harness.backend.agents.values()] in ([], ["base/model"])


def test_no_retry_event_after_the_last_json_attempt(harness):
    harness.backend.script(replies=["nope"])
    out = harness.run(JSON_STEP)
    assert out.results["judge"].error.startswith("gave up after 3 attempts")
    retries = [d for k, d in harness.events if k == "step_retry"]
    assert len(retries) == 2  # a retry is announced only when another attempt follows
    assert len(harness.backend.prompts()) == 3
