"""Each starter end to end on the embedded Letta (issue 14): `init`, `apply`, `run` with
the local model, `destroy`, as its README says. The model is scripted only where the
starter's point needs it: the support agent opens a ticket with its tool, the code
assistant searches with its tool, the research reviewer rejects once so the revise loop runs.
"""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner
from letta_client import Letta

from orchestrator.backends import identity
from orchestrator.cli import main

pytestmark = pytest.mark.integration


@pytest.fixture
def project(letta_stack, tmp_path, monkeypatch):
    monkeypatch.setenv("LETTA_BASE_URL", letta_stack.base_url)
    monkeypatch.setenv("ORCHESTRATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("ORCHESTRATE_DEFAULT_MODEL", letta_stack.model_handle)
    monkeypatch.setenv("ORCHESTRATE_DEFAULT_EMBEDDING", letta_stack.embedding_handle)
    ns = f"starter-{uuid.uuid4().hex[:8]}"
    made: list = []

    def make(name):
        target = tmp_path / name
        assert run("init", name, str(target)).exit_code == 0
        monkeypatch.chdir(target)  # as the README does: cd DIR
        applied = run("apply", ".", "--yes", "--namespace", ns)
        assert applied.exit_code == 0, applied.output
        assert "No changes" in run("apply", ".", "--yes", "--namespace", ns).output
        made.append(target)
        return target

    def run_pipeline(*inputs):
        args = ["run", "pipeline.yaml", "--namespace", ns, "--json"]
        for item in inputs:
            args += ["-i", item]
        done = run(*args)
        assert done.exit_code == 0, done.output
        return json.loads(done.output.strip().splitlines()[-1])

    yield make, run_pipeline, ns
    for target in made:
        monkeypatch.chdir(target)
        assert run("destroy", ".", "--yes", "--allow-memory-loss", "--namespace", ns).exit_code == 0


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def tool_returns(letta_stack, ns, agent):
    client = Letta(base_url=letta_stack.base_url)
    (found,) = client.agents.list(tags=[identity.agent_tag(ns, agent)])
    return [
        str(m.tool_return)
        for m in client.agents.messages.list(found.id, limit=100)
        if m.message_type == "tool_return_message"
    ]


def test_support_starter_answers_and_opens_a_ticket(project, model_script, letta_stack):
    make, run_pipeline, ns = project
    make("support")
    model_script(
        [
            {
                "system_contains": "I triage customer messages",
                "json": {"category": "billing", "urgency": "high", "needs_ticket": True},
            },
            {
                "prompt_contains": "open one with create_ticket",
                "tool_call": {
                    "name": "create_ticket",
                    "arguments": {
                        "title": "Charged twice",
                        "details": "two charges",
                        "priority": "high",
                    },
                },
                "reply": "I opened a ticket for you.",
            },
        ]
    )
    result = run_pipeline("message=I was charged twice this month", "customer=ACME")
    assert result["outputs"] == {"reply": "I opened a ticket for you.", "category": "billing"}
    assert any(
        "opened (high): Charged twice" in r and "TICKET-" in r
        for r in tool_returns(letta_stack, ns, "support")
    )


def test_code_assistant_starter_searches_with_its_tool(project, model_script, letta_stack):
    make, run_pipeline, ns = project
    target = make("code-assistant")
    model_script(
        [
            {
                "prompt_contains": "with search_code",
                "tool_call": {
                    "name": "search_code",
                    "arguments": {"query": "retries", "path": str(target)},
                },
                "reply": "agents/docs/architecture.md:5 says where retries live.",
            }
        ]
    )
    result = run_pipeline("question=Where are retries configured?", f"path={target}")
    assert result["status"] == "succeeded" and result["outputs"]["answer"]
    found = tool_returns(letta_stack, ns, "assistant")
    assert any("agents/docs/architecture.md:5: - Retries and timeouts" in r for r in found), found


def test_research_starter_revises_until_the_reviewer_approves(project, model_script):
    make, run_pipeline, _ns = project
    make("research")
    model_script(
        [
            {
                "system_contains": "strict editor",
                "replies": [
                    {"approved": False, "feedback": "Add sources."},
                    {"approved": True, "feedback": "Good."},
                ],
            }
        ]
    )
    result = run_pipeline("topic=vector databases")
    assert result["status"] == "succeeded"
    assert [s["step"] for s in result["steps"]][:3] == ["research", "write", "review"]
    assert result["outputs"]["feedback"] == "Add sources."
    assert "Revise the report on vector databases" in result["outputs"]["report"]
