"""Step output caching across runs (`cache: true`) on the in-memory backend: a hit sends
nothing and is marked `cached`; what decides the answer invalidates it; secrets stay out."""

from __future__ import annotations

import dataclasses

from orchestrator.backends.memory import MemoryBackend
from orchestrator.errors import BackendError
from orchestrator.run.records import UnitKey
from orchestrator.run.runner import RunOptions, start_run

PIPE = """
agents:
  a: {system: "You are terse."}
inputs: {topic: {type: string}}
steps:
  research: {agent: a, prompt: "research {{ inputs.topic }}"}
  summary:
    agent: a
    cache: true
    prompt: "summarise {{ inputs.topic }}"
outputs:
  text: "{{ steps.summary.output }}"
"""


def _sent(harness):
    return [p.split()[0] for p in harness.backend.prompts()]


def test_an_unchanged_cached_step_reuses_the_last_output_and_sends_nothing(harness):
    first = harness.run(PIPE, {"topic": "owls"})
    assert first.status == "succeeded" and not first.results["summary"].cached
    second = harness.run(PIPE, {"topic": "owls"})
    assert second.status == "succeeded", second.error
    assert _sent(harness) == ["research", "summarise", "research"]  # research is not cached
    assert second.results["summary"].cached
    assert second.outputs == first.outputs
    row = harness.records.units(second.run_id)[UnitKey("summary")]
    assert row["cached"] == 1 and row["attempts"] == 0 and row["prompt_tokens"] == 0
    assert row["cache_key"] == harness.records.units(first.run_id)[UnitKey("summary")]["cache_key"]
    assert ("step_cached", {"step": "summary", "from_run": first.run_id}) in harness.events


def test_what_decides_the_answer_invalidates_the_cache(harness):
    harness.run(PIPE, {"topic": "owls"})
    changes = [
        (PIPE, {"topic": "bats"}, {}),  # the rendered prompt
        (PIPE.replace("You are terse.", "You are verbose."), {"topic": "owls"}, {}),  # agent
        (
            PIPE.replace("cache: true", "cache: true\n    output: {format: json}"),
            {"topic": "owls"},
            {},
        ),  # output format / schema
        (
            PIPE.replace("cache: true", "cache: true\n    model: memory/other"),
            {"topic": "owls"},
            {},
        ),  # the step's model
        (PIPE, {"topic": "owls"}, {"model": "memory/run-default"}),  # the run's model
    ]
    harness.backend.chat_models = ["memory/echo", "memory/other", "memory/run-default"]
    for body, inputs, options in changes:
        before = len(harness.backend.sent)
        out = harness.run(body, inputs, **options)
        assert out.status == "succeeded", out.error
        assert not out.results["summary"].cached, body
        assert len(harness.backend.sent) == before + 2


def test_a_failed_step_is_not_cached_and_other_pipelines_do_not_share(harness, compile_text):
    rule = harness.backend.script(
        prompt_contains="summarise", fail=BackendError("bad request", status=400)
    )
    assert harness.run(PIPE, {"topic": "owls"}).status == "failed"
    harness.backend.rules.remove(rule)
    assert not harness.run(PIPE, {"topic": "owls"}).results["summary"].cached
    other = dataclasses.replace(compile_text(PIPE), name="other")
    assert not harness.run(other, {"topic": "owls"}).results["summary"].cached
    assert harness.run(PIPE, {"topic": "owls"}).results["summary"].cached


def test_a_prompt_with_a_secret_is_never_cached_nor_keyed(tmp_path, harness):
    body = PIPE.replace(
        "inputs: {topic: {type: string}}",
        "inputs: {topic: {type: string}, token: {type: string, secret: true}}",
    )
    body = body.replace(
        'prompt: "summarise {{ inputs.topic }}"',
        'prompt: "summarise {{ inputs.topic }} with {{ inputs.token }}"',
    )
    first = harness.run(body, {"topic": "owls", "token": "tok-very-secret"})
    second = harness.run(body, {"topic": "owls", "token": "tok-very-secret"})
    assert not second.results["summary"].cached
    for run in (first, second):
        assert harness.records.units(run.run_id)[UnitKey("summary")]["cache_key"] is None
    assert any(k == "warning" and "holds a secret" in d["message"] for k, d in harness.events)


def test_the_cache_spans_records_not_one_backend(tmp_path, harness, compile_text):
    plan = compile_text(PIPE)
    harness.run(plan, {"topic": "owls"})
    fresh = MemoryBackend()  # another server, the same records: still no message
    out = start_run(plan, {"topic": "owls"}, fresh, harness.records, options=RunOptions())
    assert out.results["summary"].cached
    assert [m["prompt"].split()[0] for m in fresh.sent] == ["research"]


def test_a_loop_iteration_is_not_cached_from_the_same_run(harness):
    body = """
agents: {a: {}}
steps:
  again:
    loop:
      max_iterations: 2
      steps:
        ask: {agent: a, prompt: "same question", cache: true}
"""
    first = harness.run(body)
    assert len(harness.backend.sent) == 2  # iteration 2 asked again
    second = harness.run(body)
    assert second.status == first.status == "succeeded"
    assert len(harness.backend.sent) == 2  # both iterations from run 1's answers
