"""Approval gates and the step cache end to end: pipelines/release-approval.yaml through the
CLI on the embedded Letta (the local model scripted): run -> waiting (exit 4) -> approve ->
resume -> succeeded; a rejection that branches; a cached step on the next run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.cli import main
from orchestrator.run.records import Records, UnitKey

pytestmark = pytest.mark.integration
PIPELINE = str(Path(__file__).resolve().parents[2] / "pipelines" / "release-approval.yaml")
ARGS = ["-i", "version=2.1", "-i", "changes=faster start\nfewer bugs"]


@pytest.fixture
def cli(letta_stack, tmp_path, monkeypatch):
    monkeypatch.setenv("ORCHESTRATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("LETTA_BASE_URL", letta_stack.base_url)
    monkeypatch.delenv("ORCHESTRATE_RECORDS_URL", raising=False)

    def invoke(*args: str):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    invoke.records = lambda: Records(tmp_path / "state" / "runs.db")  # type: ignore[attr-defined]
    return invoke


def _events(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def _asked(model_script, needle):
    return [r for r in model_script.requests() if needle in (r.get("prompt") or "")]


def test_approve_twice_then_the_run_succeeds(cli, model_script):
    model_script(
        [
            {"prompt_contains": "Summarise", "reply": "- fast\n- fixed"},
            {"prompt_contains": "Write the release notes", "reply": "NOTES 2.1"},
            {"prompt_contains": "changelog entry", "reply": "ENTRY 2.1"},
        ]
    )
    first = cli("run", PIPELINE, *ARGS, "--json")
    assert first.exit_code == 4, first.output
    events = _events(first.output)
    waiting = [e for e in events if e.get("event") == "approval_waiting"]
    assert [(e["step"], e["stage"]) for e in waiting] == [("draft", "after")]
    assert "NOTES 2.1" in waiting[0]["prompt"]
    outcome = events[-1]
    run_id = outcome["run_id"]
    assert outcome["status"] == "waiting_approval"
    assert f"orchestrate approve {run_id} draft" in outcome["error"]
    listed = cli("runs", "list")
    assert "waiting_approval" in listed.output and "waits for: draft" in listed.output

    approved = cli("approve", run_id, "draft", "--comment", "looks right", "--by", "ed")
    assert approved.exit_code == 0 and "approved: draft" in approved.output
    second = cli("resume", run_id, "--json")
    assert second.exit_code == 4, second.output  # publish asks before it sends
    assert [e["step"] for e in _events(second.output) if e.get("event") == "approval_waiting"] == [
        "publish"
    ]
    assert not _asked(model_script, "changelog entry")

    third = cli("approve", run_id, "publish", "--resume", "--json")
    assert third.exit_code == 0, third.output
    done = _events(third.output)[-1]
    assert done["status"] == "succeeded" and done["outputs"]["entry"] == "ENTRY 2.1"
    assert len(_asked(model_script, "Write the release notes")) == 1  # not sent again
    assert len(_asked(model_script, "changelog entry")) == 1
    records = cli.records()
    decision = records.approval(run_id, UnitKey("draft"), "after")
    assert (decision["status"], decision["comment"], decision["decided_by"]) == (
        "approved",
        "looks right",
        "ed",
    )
    shown = cli("runs", "show", run_id)
    assert "draft [after]: approved by ed" in shown.output

    again = cli("run", PIPELINE, *ARGS, "--json")  # the summary is cached now
    assert again.exit_code == 4
    assert len(_asked(model_script, "Summarise")) == 1
    assert {"event": "step_cached", "step": "summary", "from_run": run_id} in _events(again.output)
    summary = [s for s in _events(again.output)[-1]["steps"] if s["step"] == "summary"][0]
    assert summary["cached"] is True and summary["prompt_tokens"] == 0


def test_a_rejected_draft_takes_the_rework_branch(cli, model_script):
    model_script(
        [
            {"prompt_contains": "Write the release notes", "reply": "NOTES"},
            {"prompt_contains": "rejected the draft", "reply": "REWORK LIST"},
        ]
    )
    first = cli("run", PIPELINE, *ARGS)
    assert first.exit_code == 4
    run_id = cli.records().list_runs(1)[0]["id"]
    out = cli(
        "approve", run_id, "draft", "--reject", "--comment", "too vague", "--resume", "--json"
    )
    assert out.exit_code == 0, out.output
    done = _events(out.output)[-1]
    assert done["status"] == "succeeded"
    assert done["outputs"] == {"entry": "", "rework": "REWORK LIST"}
    rework = _asked(model_script, "rejected the draft")
    assert len(rework) == 1 and "too vague" in rework[0]["prompt"]
    assert not _asked(model_script, "changelog entry")
    assert cli("approve", run_id, "draft").exit_code == 1  # answered already
