"""Approval gates on `--executor temporal` (real workers, the embedded Letta):
pipelines/release-approval.yaml stops waiting for approval with its downstream steps not
started, the decision recorded by `approve` reaches the workers (templates read it), and
resume carries on on Temporal, sending nothing twice."""

from __future__ import annotations

import pytest

from orchestrator.backends.letta import LettaBackend
from orchestrator.compile import load_plan
from orchestrator.run.approval import answer
from orchestrator.run.records import Records
from orchestrator.run.runner import resume_run, start_run
from tests.run.test_temporal_e2e import PIPELINES, _sent, workers  # noqa: F401

pytestmark = pytest.mark.integration
INPUTS = {"version": "4.0", "changes": "one change"}


def test_gates_wait_and_branch_on_temporal(
    letta_stack,
    model_script,
    workers,  # noqa: F811
    tmp_path,
):
    model_script(
        [
            {"prompt_contains": "Write the release notes", "reply": "NOTES 4"},
            {"prompt_contains": "rejected the draft", "reply": "REWORK 4"},
        ]
    )
    workers.start()
    records = Records(tmp_path / "runs.db")
    try:
        plan = load_plan(PIPELINES / "release-approval.yaml")
        backend = LettaBackend(letta_stack.base_url)
        first = start_run(plan, INPUTS, backend, records, options=workers.options())
        assert first.status == "waiting_approval", first.error
        assert {n: r.status for n, r in first.results.items()} == {
            "summary": "succeeded",
            "draft": "waiting_approval",
            "publish": "not_started",
            "rework": "not_started",
        }
        answer(records, first.run_id, "draft", approved=False, comment="too short", by="t")
        out = resume_run(first.run_id, plan, backend, records)
        assert out.status == "succeeded", out.error
        assert out.outputs == {"entry": "", "rework": "REWORK 4"}
        prompts = [r.get("prompt") or "" for r in _sent(model_script, records, out.run_id)]
        assert sum(p.startswith("Write the release notes") for p in prompts) == 1
        assert any("too short" in p for p in prompts if p.startswith("The editor rejected"))
    finally:
        records.close()


def test_approved_gates_carry_on_on_temporal(
    letta_stack,
    model_script,
    workers,  # noqa: F811
    tmp_path,
):
    model_script(
        [
            {"prompt_contains": "Write the release notes", "reply": "NOTES 4"},
            {"prompt_contains": "changelog entry", "reply": "ENTRY 4"},
        ]
    )
    workers.start()
    records = Records(tmp_path / "runs.db")
    try:
        plan = load_plan(PIPELINES / "release-approval.yaml")
        backend = LettaBackend(letta_stack.base_url)
        first = start_run(plan, INPUTS, backend, records, options=workers.options())
        answer(records, first.run_id, "draft", approved=True, comment=None, by="t")
        second = resume_run(first.run_id, plan, backend, records)
        assert second.status == "waiting_approval"  # publish asks before it sends
        assert second.results["publish"].status == "waiting_approval"
        answer(records, first.run_id, "publish", approved=True, comment=None, by="t")
        out = resume_run(first.run_id, plan, backend, records)
        assert out.status == "succeeded", out.error
        assert out.outputs == {"entry": "ENTRY 4", "rework": ""}
        prompts = [r.get("prompt") or "" for r in _sent(model_script, records, out.run_id)]
        assert [
            sum(p.startswith(s) for p in prompts)
            for s in ("Write the release notes", "Format these notes")
        ] == [1, 1]
    finally:
        records.close()


def test_the_schedule_postpones_only_what_waits_behind_a_gate():
    from orchestrator.run.temporal.schedule import Schedule

    deps = {"a": [], "b": ["a"], "c": ["b"], "x": [], "y": ["x"]}
    schedule = Schedule(order=list(deps), deps=deps, needs={}, replicas={})
    started, _ = schedule.start(10)
    assert [n for n, _ in started] == ["a", "x"]
    schedule.finish("a", "waiting_approval")
    schedule.finish("x", "not_started")  # e.g. the run's budget: what follows is blocked
    _, settled = schedule.start(10)
    assert {n: schedule.settled[n] for n in settled} == {
        "b": "not_started",
        "c": "not_started",
        "y": "blocked",
    }
