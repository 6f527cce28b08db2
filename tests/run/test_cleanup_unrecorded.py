"""A run that succeeds also deletes agents tagged with it that no record names (the server
created them for a call the run abandoned on a timeout or Ctrl-C); nothing else is touched."""

from __future__ import annotations

from orchestrator.backends import identity
from orchestrator.backends.base import NewAgent
from orchestrator.errors import BackendError
from orchestrator.run.runner import RunOptions, resume_run

PIPE = """
agents: {a: {}}
defaults: {retries: {max_attempts: 1}}
steps:
  s: {agent: a, prompt: "hello"}
"""


def _orphan(harness, run_id: str, name: str = "orphan") -> str:
    tags = (identity.RUN_TAG, identity.run_tag(run_id))
    return harness.backend.create_agent(NewAgent(name, "memory/echo", "memory/embed", tags=tags)).id


def test_an_unrecorded_agent_of_the_run_is_deleted_when_it_succeeds(harness, compile_text):
    harness.backend.script(prompt_contains="hello", fail=BackendError("no", status=400))
    first = harness.run(PIPE)
    assert first.status == "failed"
    orphan = _orphan(harness, first.run_id)
    other = _orphan(harness, "20990101-000000-aaaaaa", "another run's")
    harness.backend.rules.clear()
    out = resume_run(first.run_id, compile_text(PIPE), harness.backend, harness.records)
    assert out.status == "succeeded", out.error
    assert orphan in harness.backend.deleted
    assert set(harness.backend.agents) == {other}  # another run's agent is not touched


def test_keep_agents_keeps_them(harness, compile_text):
    harness.backend.script(prompt_contains="hello", fail=BackendError("no", status=400))
    first = harness.run(PIPE)
    orphan = _orphan(harness, first.run_id)
    harness.backend.rules.clear()
    out = resume_run(
        first.run_id,
        compile_text(PIPE),
        harness.backend,
        harness.records,
        options=RunOptions(keep_agents=True),
    )
    assert out.status == "succeeded", out.error
    assert orphan in harness.backend.agents
