"""On the real Letta, a turn whose answer was lost (HTTP 500 after Letta ran it) and then
found in the agent's history by otid counts the tokens Letta recorded for that turn
(issue 15 item 9: reconciled steps showed 0 tokens)."""

from __future__ import annotations

import pytest
from letta_fault_proxy import FaultProxy, fail_messages

from orchestrator.backends.letta import LettaBackend
from orchestrator.compile import compile_pipeline
from orchestrator.run.records import Records, UnitKey
from orchestrator.run.runner import RunOptions, start_run
from orchestrator.spec import load_pipeline_text

pytestmark = pytest.mark.integration

PIPE = """\
apiVersion: orchestrate/v1
kind: Pipeline
metadata: {name: reconcile-usage}
agents: {a: {}}
steps:
  one: {agent: a, prompt: "Say something short."}
"""


def test_a_reconciled_turn_counts_letta_s_usage(letta_stack, model_script, tmp_path):
    model_script([{"prompt_contains": "Say something", "reply": "short"}])
    records = Records(tmp_path / "runs.db")
    plan = compile_pipeline(load_pipeline_text(PIPE, "p.yaml"))
    with FaultProxy(letta_stack.base_url, fail_messages(500, limit=1)) as proxy:
        out = start_run(
            plan, {}, LettaBackend(proxy.url), records, options=RunOptions(keep_agents=True)
        )
    unit = records.units(out.run_id)[UnitKey("one")]
    records.close()
    try:
        assert out.status == "succeeded", out.error
        assert len(proxy.injected) == 1 and len(model_script.requests()) == 1  # sent once
        assert out.results["one"].output == "short"
        assert unit["prompt_tokens"] > 0 and unit["completion_tokens"] > 0
        assert unit["step_count"] == 1
        # the figures are Letta's own for that turn (what a normal reply would have said)
        from letta_client import Letta

        client = Letta(base_url=letta_stack.base_url)
        page = client.agents.messages.list(unit["agent_id"], limit=20)
        run_id = next(m.run_id for m in page.items if getattr(m, "otid", None) == unit["otid"])
        usage = client.runs.usage.retrieve(run_id)
        assert (unit["prompt_tokens"], unit["completion_tokens"]) == (
            usage.prompt_tokens,
            usage.completion_tokens,
        )
    finally:
        LettaBackend(letta_stack.base_url).delete_agent(unit["agent_id"])
