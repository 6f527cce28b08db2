"""A JSON step that fails because its replies are not valid keeps the last reply, redacted,
in its record, and `runs show` shows it (issue 15 item 9: it kept `output: None`)."""

from __future__ import annotations

from orchestrator.run.records import UnitKey
from orchestrator.run.render import run_detail

PIPE = """
agents: {a: {}}
inputs: {key: {type: string, secret: true}}
defaults: {retries: {max_attempts: 2, backoff: 0}}
steps:
  judge:
    agent: a
    prompt: "judge it with {{ inputs.key }}"
    output:
      format: json
      schema: {type: object, required: [approved], properties: {approved: {type: boolean}}}
"""


def test_the_last_invalid_reply_is_recorded_redacted_and_shown(harness):
    harness.backend.script(prompt_contains="", replies=["not json, key s3cr3t-value"])
    out = harness.run(PIPE, {"key": "s3cr3t-value"})
    assert out.status == "failed" and len(harness.backend.prompts()) == 2  # + one repair
    unit = harness.records.units(out.run_id)[UnitKey("judge")]
    assert unit["status"] == "failed" and "invalid JSON reply" in unit["error"]
    assert unit["output"] == "not json, key ***"
    shown = run_detail(
        harness.records.run(out.run_id), list(harness.records.units(out.run_id).values())
    )
    assert "  last reply (invalid):\n    not json, key ***" in shown
    assert "s3cr3t" not in shown


def test_a_failure_with_no_reply_records_no_output(harness):
    from orchestrator.errors import BackendError

    harness.backend.script(prompt_contains="", fail=BackendError("HTTP 400: no", status=400))
    out = harness.run(PIPE, {"key": "k"})
    assert out.status == "failed"
    assert harness.records.units(out.run_id)[UnitKey("judge")]["output"] is None
