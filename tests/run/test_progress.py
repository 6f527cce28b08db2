"""Reporters: plain lines and JSON lines say what happened, with nothing secret in them."""

from __future__ import annotations

import io
import json

from orchestrator.run.progress import JsonReporter, PlainReporter, outcome_json


def test_plain_lines_for_a_run(harness):
    out = io.StringIO()
    harness.emit = PlainReporter(out=out)
    harness.backend.script(prompt_contains="two", replies=["done"])
    result = harness.run("""
agents: {a: {}}
steps:
  one: {agent: a, prompt: "one"}
  two: {agent: a, prompt: "two {{ steps.one.output }}"}
""")
    text = out.getvalue()
    assert f"starting run {result.run_id} of t (2 steps)" in text
    assert "one: started" in text and "two: ok in " in text
    last = text.rstrip().splitlines()[-1]
    assert last.endswith(
        f"run {result.run_id} succeeded in {result.duration:.2f}s "
        f"({result.totals['prompt_tokens'] + result.totals['completion_tokens']}"
        " tokens, cost unknown)"
    )  # memory/echo has no price


def test_json_lines_and_outcome(harness):
    out = io.StringIO()
    harness.emit = JsonReporter(out=out)
    result = harness.run(
        """
inputs: {key: {type: string, secret: true}}
agents: {a: {}}
steps:
  one: {agent: a, prompt: "use {{ inputs.key }}"}
outputs: {echo: "{{ steps.one.output }}"}
""",
        {"key": "very-secret"},
    )
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["event"] for e in events] == ["run_started", "step_started", "step_finished"]
    assert events[2]["status"] == "succeeded" and events[2]["attempts"] == 1
    final = json.dumps(outcome_json(result))
    assert "very-secret" not in final and "***" in final
