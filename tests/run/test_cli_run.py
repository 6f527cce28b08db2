"""`orchestrate run / runs / resume` through click, on the in-memory backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.backends.memory import MemoryBackend
from orchestrator.cli import main, run_cmds
from orchestrator.errors import BackendError

PIPELINES = Path(__file__).resolve().parents[2] / "pipelines"
RESEARCH = str(PIPELINES / "research-report.yaml")


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCHESTRATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("LETTA_BASE_URL", "http://fake")
    fake = MemoryBackend("http://fake")
    monkeypatch.setattr(run_cmds, "LettaBackend", lambda url, key=None: fake)
    runner = CliRunner()  # click >= 8.2 keeps stderr apart (result.stderr)

    def invoke(*args):
        return runner.invoke(main, list(args), catch_exceptions=False)

    invoke.backend = fake
    return invoke


def test_dry_run_needs_no_server_and_shows_prompts(cli):
    result = cli("run", RESEARCH, "--dry-run", "-i", "topic=owls")
    assert result.exit_code == 0, result.output
    assert "Research owls for an audience of engineers." in result.output
    assert "<steps.research.output>" in result.output
    assert "when: {{ not steps.review.output.approved }}" in result.output
    assert not cli.backend.sent


def test_dry_run_json(cli):
    result = cli("run", RESEARCH, "--dry-run", "--json")
    steps = json.loads(result.output)
    assert [s["name"] for s in steps] == ["research", "draft", "review", "revise",
                                         "revise.rewrite", "revise.recheck"]
    assert steps[0]["prompt"].startswith("Research <inputs.topic> for")


def test_missing_input_exits_1_naming_it(cli):
    result = cli("run", RESEARCH)
    assert result.exit_code == 1
    assert "error: missing required input: topic (pass --input NAME=VALUE or --input-file)" \
        in result.stderr


def test_input_file_and_typed_inputs(cli, tmp_path):
    (tmp_path / "in.yaml").write_text("proposal: sell owls\nsources: [a, b]\n")
    result = cli("run", str(PIPELINES / "parallel-analysis.yaml"), "--input-file",
                 str(tmp_path / "in.yaml"), "--json")
    assert result.exit_code == 0, result.stderr
    outcome = json.loads(result.output.strip().splitlines()[-1])
    assert outcome["status"] == "succeeded"
    summaries = [m for m in cli.backend.sent if m["prompt"].startswith("Summarise")]
    assert len(summaries) == 2
    bad = cli("run", str(PIPELINES / "parallel-analysis.yaml"), "-i", "proposal=x",
              "-i", "sources=notalist")
    assert bad.exit_code == 1
    assert "input 'sources': expected an array, got 'notalist'" in bad.stderr


def test_run_then_list_and_show(cli):
    result = cli("run", RESEARCH, "-i", "topic=owls")
    assert result.exit_code == 0, result.stderr
    assert "run " in result.output and ": succeeded in" in result.output
    assert "outputs:\n  report:" in result.output
    listed = cli("runs", "list", "--json")
    run = json.loads(listed.output)[0]
    assert run["status"] == "succeeded" and run["pipeline"] == "research-report"
    shown = cli("runs", "show", run["id"][:18])
    assert shown.exit_code == 0
    assert "research: succeeded  attempts 1" in shown.output
    assert "Research owls for an audience of engineers." in shown.output
    assert cli("runs", "show", "nope").exit_code == 1


def test_failed_run_exits_1_and_resume_finishes_it(cli):
    cli.backend.script(prompt_contains="Write a short report",
                       fail=BackendError("HTTP 400: rejected", status=400))
    first = cli("run", RESEARCH, "-i", "topic=owls")
    assert first.exit_code == 1
    assert "step 'draft' failed: HTTP 400: rejected" in first.stderr
    run_id = json.loads(cli("runs", "list", "--json").output)[0]["id"]
    assert f"orchestrate resume {run_id}" in first.stderr
    cli.backend.rules.clear()
    again = cli("resume", run_id)
    assert again.exit_code == 0, again.stderr
    assert "research: ok" in again.stderr and "(reused from the earlier attempt)" in again.stderr


def test_unreachable_server_is_a_clean_error(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCHESTRATE_HOME", str(tmp_path))
    monkeypatch.delenv("LETTA_BASE_URL", raising=False)
    result = CliRunner().invoke(main, ["run", RESEARCH, "-i", "topic=x", "--base-url",
                                       "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "no Letta server answers at http://127.0.0.1:9" in result.output
