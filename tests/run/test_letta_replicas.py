"""`replicas` against the embedded Letta stack: pipelines/parallel-analysis.yaml runs its
for_each items on different copies of the analyst (different Letta agents), and every copy
is deleted after the successful run."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.backends import identity
from orchestrator.backends.letta import LettaBackend
from orchestrator.compile import load_plan
from orchestrator.run.records import Records, UnitKey
from orchestrator.run.runner import RunOptions, start_run

pytestmark = pytest.mark.integration
PIPELINE = Path(__file__).resolve().parents[2] / "pipelines" / "parallel-analysis.yaml"
SOURCES = ["market report", "customer interviews", "competitor pricing"]


def test_parallel_analysis_fans_out_over_analyst_copies(letta_stack, model_script, tmp_path):
    # a slower model turn makes the overlap certain (a rule with only `delay` falls through)
    model_script([{"prompt_contains": "Summarise what the", "delay": 0.3}])
    backend = LettaBackend(letta_stack.base_url)
    records = Records(tmp_path / "runs.db")
    try:
        out = start_run(
            load_plan(PIPELINE),
            {"proposal": "Sell owl-shaped lamps online"},
            backend,
            records,
            options=RunOptions(),
        )
        assert out.status == "succeeded", out.error
        units = records.units(out.run_id)
        items = [units[UnitKey("summaries", i)] for i in range(len(SOURCES))]
        assert {u["agent"] for u in items} == {"analyst"}
        assert len({u["agent_id"] for u in items}) == len(SOURCES)  # three Letta agents
        assert len({u["replica"] for u in items}) == len(SOURCES)
        # the model saw each summary come from the agent the records name
        seen = {
            r["agent_id"]
            for r in model_script.requests()
            if (r.get("prompt") or "").startswith("Summarise what the")
        }
        assert seen == {u["agent_id"] for u in items}
        # every copy (and the lead) is gone from Letta and marked deleted in the records
        assert backend.find_agents((identity.run_tag(out.run_id),)) == []
        agents = [r for r in records.resources(out.run_id) if r["kind"] == "agent"]
        names = {r["name"] for r in agents}
        assert {"analyst", "analyst#2", "analyst#3", "lead"} <= names
        assert names <= {"lead", "analyst", *(f"analyst#{i}" for i in range(2, 7))}
        assert all(r["deleted"] for r in agents)
    finally:
        records.close()
