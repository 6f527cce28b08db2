"""End to end against the embedded Letta stack, with the local model scripted per test.

Real pipelines from pipelines/ run through the real runner and LettaBackend; what the model
received is read back from the model endpoint's request log.
"""

from __future__ import annotations

import secrets
import textwrap
from pathlib import Path

import pytest

from orchestrator.backends import identity
from orchestrator.backends.base import NewAgent
from orchestrator.backends.letta import LettaBackend
from orchestrator.compile import load_plan
from orchestrator.run.records import Records, UnitKey
from orchestrator.run.runner import RunOptions, start_run

pytestmark = pytest.mark.integration
PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"
APPROVE = {"approved": True, "feedback": "good"}


@pytest.fixture
def run_env(letta_stack, tmp_path):
    backend = LettaBackend(letta_stack.base_url)
    records = Records(tmp_path / "runs.db")
    yield backend, records
    records.close()


def _run(run_env, name, inputs, **options):
    backend, records = run_env
    plan = load_plan(PIPELINES / f"{name}.yaml") if isinstance(name, str) else load_plan(name)
    return start_run(plan, inputs, backend, records, options=RunOptions(**options))


def _prompts(model_script, needle):
    return [r for r in model_script.requests() if needle in (r.get("prompt") or "")]


def test_research_report_is_approved_on_round_two(run_env, model_script):
    model_script(
        [
            {
                "prompt_contains": "Review this revised report",
                "replies": ['{"approved": false, "feedback": "add numbers"}', APPROVE],
            },
            {
                "prompt_contains": "Review this report",
                "json": {"approved": False, "feedback": "too short"},
            },
            {"prompt_contains": "Revise the report", "reply": "REVISED REPORT"},
        ]
    )
    out = _run(run_env, "research-report", {"topic": "owls"})
    assert out.status == "succeeded", out.error
    assert out.results["revise"].iterations == 2
    assert out.outputs["report"] == "REVISED REPORT"
    rewrites = _prompts(model_script, "Revise the report on owls")
    assert len(rewrites) == 2
    assert "too short" in rewrites[0]["prompt"] and "add numbers" in rewrites[1]["prompt"]
    units = run_env[1].units(out.run_id)
    assert units[UnitKey("revise.recheck", -1, 2)]["output"] == APPROVE
    assert units[UnitKey("research")]["prompt_tokens"] > 0


def test_invalid_json_first_then_valid_with_shared_block(run_env, model_script, monkeypatch):
    monkeypatch.setenv("CRM_TOKEN", "crm-" + secrets.token_hex(8))
    model_script(
        [
            {
                "system_contains": "I triage support tickets",
                "replies": [
                    "It is probably billing.",
                    {"category": "bug", "urgent": False, "summary": "login fails"},
                ],
            }
        ]
    )
    out = _run(run_env, "support-triage", {"ticket": "I cannot log in"})
    assert out.status == "succeeded", out.error
    assert out.results["escalate"].status == "skipped"
    assert out.outputs["escalation"] == "not escalated"
    triage = run_env[1].units(out.run_id)[UnitKey("triage")]
    assert triage["attempts"] == 2
    assert triage["output"]["category"] == "bug"
    repair = [
        r
        for r in model_script.requests()
        if "Your previous answer was not valid" in (r.get("prompt") or "")
    ]
    assert len(repair) == 1 and "it is not JSON" in repair[0]["prompt"]
    # the shared block reached both agents that declare it
    systems = [r["system"] for r in model_script.requests() if "No notes yet." in r["system"]]
    assert (
        len({r["agent_id"] for r in model_script.requests() if "No notes yet." in r["system"]}) == 2
    ), systems[:1]


def test_transient_model_error_is_retried(run_env, model_script):
    # Letta itself retries the model up to 3 times; the 4th failure reaches us as HTTP 500.
    model_script(
        [
            {
                "prompt_contains": "List the five most important facts",
                "error": {"status": 503, "times": 3},
            },
            {"prompt_contains": "Review this report", "json": APPROVE},
        ]
    )
    out = _run(run_env, "research-report", {"topic": "owls"})
    assert out.status == "succeeded", out.error
    assert run_env[1].units(out.run_id)[UnitKey("research")]["attempts"] == 2
    assert out.results["revise"].status == "skipped"


def test_referenced_agent_is_reused_and_keeps_its_memory(run_env, model_script, tmp_path):
    backend, _ = run_env
    managed = "h3-memo-" + secrets.token_hex(3)
    agent = backend.create_agent(
        NewAgent(
            name=managed,
            model="openai-proxy/orchestrate-local",
            embedding="openai/text-embedding-3-small",
            tags=(identity.MANAGED_TAG, identity.agent_tag("default", managed)),
        )
    )
    pipeline = tmp_path / "memo.yaml"
    pipeline.write_text(
        textwrap.dedent(f"""\
        apiVersion: orchestrate/v1
        kind: Pipeline
        metadata: {{name: memo}}
        inputs: {{word: {{type: string}}}}
        agents: {{memo: {{ref: {managed}}}}}
        steps:
          tell: {{agent: memo, prompt: "Remember the word {{{{ inputs.word }}}}."}}
        """)
    )
    model_script([])
    try:
        first = _run(run_env, pipeline, {"word": "alpha"})
        second = _run(run_env, pipeline, {"word": "beta"})
        assert first.status == second.status == "succeeded"
        agent_ids = {r["agent_id"] for r in model_script.requests()}
        assert agent_ids == {agent.id}  # found by identity, not created
        otid = run_env[1].units(first.run_id)[UnitKey("tell")]["otid"]
        assert backend.delivery(agent.id, otid).received  # run 1's turn is in its memory
        assert backend.find_agents((identity.agent_tag("default", managed),))  # not deleted
    finally:
        backend.delete_agent(agent.id)


def test_inline_agents_are_deleted_after_success(run_env, model_script):
    backend, _ = run_env
    model_script([{"prompt_contains": "Review this report", "json": APPROVE}])
    out = _run(run_env, "research-report", {"topic": "owls"})
    assert out.status == "succeeded"
    assert backend.find_agents((identity.run_tag(out.run_id),)) == []


def test_server_down_at_start_is_a_clear_error(tmp_path):
    from orchestrator.errors import ServerUnavailable

    backend = LettaBackend("http://127.0.0.1:9")
    records = Records(tmp_path / "runs.db")
    with pytest.raises(
        ServerUnavailable,
        match=r"no Letta server answers at "
        r"http://127.0.0.1:9 \(start the embedded one",
    ):
        start_run(load_plan(PIPELINES / "research-report.yaml"), {"topic": "x"}, backend, records)
