"""Models are checked before the first step: every handle the run would ask for that the
server does not offer is named at once, with where it comes from, a "did you mean" and the
handles the server really offers; nothing is created or sent."""

from __future__ import annotations

import pytest

from orchestrator.errors import BackendError, RunError
from orchestrator.run.runner import RunOptions, resume_run

PIPE = """
agents:
  a: {model: openai-proxy/gpt-4o}
  b: {}
  p: {ref: researcher}
defaults: {retries: {max_attempts: 1}}
steps:
  s1: {agent: a, prompt: "one"}
  s2: {agent: b, prompt: "two", model: memory/ech0}
  s3: {agent: b, prompt: "three {{ steps.s1.output }}"}
"""


def test_unknown_models_fail_the_run_before_anything_is_created(harness):
    harness.backend.chat_models = ["memory/echo", "openai-proxy/local-model"]
    with pytest.raises(RunError) as caught:
        harness.run(PIPE, model="openai/gpt-4o")
    assert str(caught.value) == (
        "agents.a.model: model 'openai-proxy/gpt-4o' is not offered by the server at "
        "memory:// (did you mean 'openai-proxy/local-model'?); "
        "--model: model 'openai/gpt-4o' is not offered by the server at memory://; "
        "steps.s2.model: model 'memory/ech0' is not offered by the server at memory:// "
        "(did you mean 'memory/echo'?). The server offers: memory/echo, "
        "openai-proxy/local-model (choose one with --model, also on `orchestrate resume`)"
    )
    assert not harness.backend.agents and not harness.backend.sent


def test_resume_with_another_model_fixes_a_bad_run_model(harness, compile_text):
    pipe = "agents: {a: {}}\nsteps:\n  s: {agent: a, prompt: hi}\n"
    harness.backend.chat_models = ["memory/echo", "memory/other"]
    first = harness.run(pipe, model="memory/other")
    assert first.status == "succeeded"
    harness.backend.chat_models = ["memory/echo"]  # the model went away
    with pytest.raises(RunError, match="--model: model 'memory/other' is not offered"):
        harness.run(pipe, model="memory/other")
    assert [r["id"] for r in harness.records.list_runs(5)] == [first.run_id]  # not recorded


def test_a_server_that_lists_no_models_is_not_second_guessed(harness):
    harness.backend.chat_models = []
    out = harness.run("agents: {a: {}}\nsteps:\n  s: {agent: a, prompt: hi}\n")
    assert "offers no chat model: pass --model" in out.error


def test_resume_takes_another_model(harness, compile_text):
    pipe = (
        "agents: {a: {}}\ndefaults: {retries: {max_attempts: 1}}\n"
        "steps:\n  s: {agent: a, prompt: hi}\n"
    )
    harness.backend.chat_models = ["memory/echo", "memory/other"]
    harness.backend.script(prompt_contains="hi", fail=BackendError("HTTP 400: bad", status=400))
    first = harness.run(pipe)
    assert first.status == "failed"
    harness.backend.rules.clear()
    with pytest.raises(RunError, match="--model: model 'memory/gone' is not offered"):
        resume_run(
            first.run_id,
            compile_text(pipe),
            harness.backend,
            harness.records,
            options=RunOptions(model="memory/gone"),
        )
    out = resume_run(
        first.run_id,
        compile_text(pipe),
        harness.backend,
        harness.records,
        options=RunOptions(model="memory/other"),
    )
    assert out.status == "succeeded", out.error
