"""The sub-pipeline example end to end on the embedded Letta (the local model scripted):
pipelines/release-notes.yaml uses pipelines/review-loop.yaml twice. Run from the CLI with
--json (its events name the sub-pipeline's units), then on the Temporal executor with real
workers: the same units, the same messages, every agent cleaned up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.backends import identity
from orchestrator.backends.letta import LettaBackend
from orchestrator.compile import load_plan
from orchestrator.run.records import Records, UnitKey
from orchestrator.run.runner import start_run

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "pipelines" / "release-notes.yaml"
SCRIPT = [
    {"prompt_contains": "Review this revised text", "json": {"approved": True, "feedback": "ok"}},
    {"prompt_contains": "Review this text", "json": {"approved": False, "feedback": "shorter"}},
    {"prompt_contains": "Revise this text", "reply": "REVISED"},
]
INPUTS = {"changes": "faster startup"}


def _units(records: Records, run_id: str) -> list[tuple]:
    return sorted(
        (k.step, k.item, k.iteration, u["status"]) for k, u in records.units(run_id).items()
    )


def _sent(model_script, records: Records, run_id: str) -> list[dict]:
    ids = {r["letta_id"] for r in records.resources(run_id) if r["kind"] == "agent"}
    return [r for r in model_script.requests() if r.get("agent_id") in ids]


def test_the_example_runs_from_the_cli_with_json_events(letta_stack, model_script, tmp_path):
    model_script(SCRIPT)
    env = {**os.environ, "ORCHESTRATE_HOME": str(tmp_path), "LETTA_BASE_URL": letta_stack.base_url}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestrator",
            "run",
            str(PIPELINE),
            "--json",
            "-i",
            "changes=faster startup",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    outcome = lines[-1]
    assert outcome["status"] == "succeeded"
    assert outcome["outputs"] == {"notes": "REVISED", "announcement": "REVISED", "approved": True}
    finished = {e.get("step") for e in lines if e.get("event") == "step_finished"}
    assert {
        "notes_review.inputs",
        "notes_review.review",
        "notes_review.revise",
        "notes_review",
        "announcement_review.revise",
    } <= finished
    records = Records(tmp_path / "runs.db")
    try:
        units = records.units(outcome["run_id"])
        notes, announcement = (
            units[UnitKey(f"{u}_review.review")] for u in ("notes", "announcement")
        )
        assert notes["agent"] == "notes_review.reviewer"
        assert notes["agent_id"] != announcement["agent_id"]  # each use its own agents
        assert "accurate and complete" in notes["prompt"]  # its `with:`
        assert "clear, correct and concise" in announcement["prompt"]  # the default
        assert units[UnitKey("notes_review.revise.rewrite", -1, 1)]["output"] == "REVISED"
        assert len(_sent(model_script, records, outcome["run_id"])) == 8
    finally:
        records.close()


@pytest.fixture
def workers(temporal_address):
    from tests.run.test_temporal_e2e import Workers

    w = Workers(temporal_address)
    yield w
    w.stop()


def test_the_example_gives_the_same_units_on_temporal(letta_stack, model_script, workers, tmp_path):
    model_script(SCRIPT)
    workers.start()
    records = Records(tmp_path / "runs.db")
    backend = LettaBackend(letta_stack.base_url)
    try:
        local = start_run(load_plan(PIPELINE), INPUTS, backend, records)
        remote = start_run(load_plan(PIPELINE), INPUTS, backend, records, options=workers.options())
        assert local.status == remote.status == "succeeded", (local.error, remote.error)
        assert remote.outputs == local.outputs
        assert _units(records, remote.run_id) == _units(records, local.run_id)
        assert (
            len(_sent(model_script, records, remote.run_id))
            == len(_sent(model_script, records, local.run_id))
            == 8
        )
        assert records.run(remote.run_id)["options"]["executor"] == "temporal"
        assert backend.find_agents((identity.run_tag(remote.run_id),)) == []  # cleaned up
    finally:
        records.close()


def test_a_secret_passed_with_with_reaches_the_agent_on_temporal(
    letta_stack, model_script, workers, tmp_path
):
    # The records hold a sub-pipeline's inputs masked: a worker evaluates them again.
    head = "apiVersion: orchestrate/v1\nkind: Pipeline\nmetadata: {name: NAME}\n"
    (tmp_path / "sub.yaml").write_text(
        head.replace("NAME", "sub")
        + (
            "inputs: {key: {type: string, secret: true}}\nagents: {a: {}}\n"
            "steps:\n  use: {agent: a, prompt: 'Call with key {{ inputs.key }}'}\n"
            "outputs: {said: '{{ steps.use.output }}'}\n"
        )
    )
    (tmp_path / "main.yaml").write_text(
        head.replace("NAME", "main")
        + (
            "inputs: {token: {type: string, secret: true}}\n"
            "steps:\n  s: {uses: ./sub.yaml, with: {key: '{{ inputs.token }}'}}\n"
        )
    )
    model_script([{"prompt_contains": "Call with key", "reply": "done"}])
    workers.start()
    records = Records(tmp_path / "runs.db")
    try:
        out = start_run(
            load_plan(tmp_path / "main.yaml"),
            {"token": "tok-8d1f3a"},
            LettaBackend(letta_stack.base_url),
            records,
            options=workers.options(),
        )
        assert out.status == "succeeded", out.error
        sent = [r["prompt"] for r in _sent(model_script, records, out.run_id)]
        assert any("Call with key tok-8d1f3a" in p for p in sent), sent
        units = records.units(out.run_id)
        assert "tok-8d1f3a" not in json.dumps(list(units.values()), default=str)  # not recorded
    finally:
        records.close()
