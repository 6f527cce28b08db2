"""Exactly-once against the real Letta when the server fails *after* it stored the turn.

A fault proxy (letta_fault_proxy.py) sits between the runner and the embedded Letta: Letta
runs each chosen turn for real (the model answers, the messages are stored), and the proxy
answers HTTP 5xx instead of the reply. The runner must find the answer in the agent's
history by otid instead of sending the prompt again: the model's request log and the
agent's own history must each hold every prompt once.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from letta_fault_proxy import FaultProxy, fail_messages

from orchestrator.backends.letta import LettaBackend
from orchestrator.compile import load_plan
from orchestrator.run.records import Records
from orchestrator.run.runner import RunOptions, start_run

pytestmark = pytest.mark.integration
PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"
APPROVE = {"approved": True, "feedback": "good"}


def _run_through(proxy: FaultProxy, tmp_path, name: str, inputs: dict, **options):
    records = Records(tmp_path / "runs.db")
    try:
        out = start_run(
            load_plan(PIPELINES / f"{name}.yaml"),
            inputs,
            LettaBackend(proxy.url),
            records,
            options=RunOptions(keep_agents=True, **options),
        )
        return out, records.units(out.run_id)
    finally:
        records.close()


def _user_messages(letta_url: str, agent_id: str) -> list[str]:
    from letta_client import Letta

    page = Letta(base_url=letta_url).agents.messages.list(agent_id, limit=200)
    return [m.otid for m in page.items if getattr(m, "message_type", "") == "user_message"]


def _cleanup(letta_url: str, units: dict) -> None:
    backend = LettaBackend(letta_url)
    for agent_id in {u["agent_id"] for u in units.values() if u.get("agent_id")}:
        backend.delete_agent(agent_id)


def test_http_500_after_the_turn_was_stored_sends_each_prompt_once(
    letta_stack, model_script, tmp_path
):
    model_script([{"prompt_contains": "Review this report", "json": APPROVE}])
    with FaultProxy(letta_stack.base_url, fail_messages(500, every=2)) as proxy:
        out, units = _run_through(proxy, tmp_path, "research-report", {"topic": "owls"})
    try:
        assert out.status == "succeeded", out.error
        assert len(proxy.injected) >= 2  # research and review were each answered with a 500
        prompts = Counter(r.get("prompt") for r in model_script.requests())
        assert prompts and max(prompts.values()) == 1, prompts.most_common(2)
        for unit in units.values():
            if unit.get("agent_id") and unit.get("otid"):
                otids = _user_messages(letta_stack.base_url, unit["agent_id"])
                assert len(otids) == len(set(otids)), otids  # no message stored twice
                assert unit["otid"] in otids
    finally:
        _cleanup(letta_stack.base_url, units)


@pytest.mark.parametrize("status", [502, 503])
def test_every_message_failing_once_in_a_parallel_run_is_reconciled(
    letta_stack, model_script, tmp_path, status
):
    model_script([])
    with FaultProxy(letta_stack.base_url, fail_messages(status)) as proxy:
        out, units = _run_through(
            proxy, tmp_path, "parallel-analysis", {"proposal": "Sell owl feeders"}, max_parallel=6
        )
    try:
        assert out.status == "succeeded", out.error
        sent = [r.get("prompt") for r in model_script.requests()]
        assert len(proxy.injected) == len(sent) >= 7  # every turn's answer was thrown away
        assert len(set(sent)) == len(sent), Counter(sent).most_common(2)
    finally:
        _cleanup(letta_stack.base_url, units)
