"""Approval gates and the step cache on the PostgreSQL run records (the embedded stack's
PostgreSQL): a run waits, is answered through the records alone, and resumes; a cached
step is found across runs."""

from __future__ import annotations

import pytest

from orchestrator.backends.memory import MemoryBackend
from orchestrator.run.approval import answer
from orchestrator.run.records import Records, UnitKey
from orchestrator.run.runner import resume_run, start_run
from tests.run.conftest import plan_of

pytestmark = pytest.mark.integration
PIPE = """
agents: {a: {}}
steps:
  draft: {agent: a, prompt: "draft", cache: true}
  publish: {agent: a, prompt: "publish {{ steps.draft.output }}", approval: true}
"""


def test_gates_and_cache_on_postgres(pg_url):
    records, backend, plan = Records(pg_url), MemoryBackend(), plan_of(PIPE)
    try:
        first = start_run(plan, {}, backend, records)
        assert first.status == "waiting_approval"
        other = Records(pg_url)  # another process, maybe another machine, answers
        assert answer(other, first.run_id, "publish", approved=True, comment="yes", by="pg") == [
            "publish"
        ]
        other.close()
        out = resume_run(first.run_id, plan, backend, records)
        assert out.status == "succeeded", out.error
        gate = records.approval(first.run_id, UnitKey("publish"), "before")
        assert (gate["status"], gate["comment"], gate["decided_by"]) == ("approved", "yes", "pg")
        again = start_run(plan, {}, backend, records)
        assert again.results["draft"].cached
        assert [m["prompt"] for m in backend.sent].count("draft") == 1
    finally:
        records.close()
