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
    monkeypatch.setattr(run_cmds, "run_backend", lambda url, key=None, **options: fake)
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
    result = cli("run", RESEARCH, "--dry-run", "--json", "-i", "topic=owls")
    steps = json.loads(result.output)
    assert [s["name"] for s in steps] == [
        "research",
        "draft",
        "review",
        "revise",
        "revise.rewrite",
        "revise.recheck",
    ]
    assert steps[0]["prompt"].startswith("Research owls for")  # inputs are required now


def test_missing_input_exits_1_naming_it(cli):
    result = cli("run", RESEARCH)
    assert result.exit_code == 1
    assert (
        "error: missing required input: topic (pass --input NAME=VALUE or --input-file)"
        in result.stderr
    )


def test_input_file_and_typed_inputs(cli, tmp_path):
    (tmp_path / "in.yaml").write_text("proposal: sell owls\nsources: [a, b]\n")
    result = cli(
        "run",
        str(PIPELINES / "parallel-analysis.yaml"),
        "--input-file",
        str(tmp_path / "in.yaml"),
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    outcome = json.loads(result.output.strip().splitlines()[-1])
    assert outcome["status"] == "succeeded"
    summaries = [m for m in cli.backend.sent if m["prompt"].startswith("Summarise")]
    assert len(summaries) == 2
    bad = cli(
        "run",
        str(PIPELINES / "parallel-analysis.yaml"),
        "-i",
        "proposal=x",
        "-i",
        "sources=notalist",
    )
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
    cli.backend.script(
        prompt_contains="Write a short report", fail=BackendError("HTTP 400: rejected", status=400)
    )
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
    result = CliRunner().invoke(
        main, ["run", RESEARCH, "-i", "topic=x", "--base-url", "http://127.0.0.1:9"]
    )
    assert result.exit_code == 1
    assert "no Letta server answers at http://127.0.0.1:9" in result.output


@pytest.mark.parametrize(
    "args,message",
    [
        ((), "error: missing required input: topic (pass --input NAME=VALUE or --input-file)"),
        (("-i", "topic=x", "-i", "nope=1"), "error: unknown input 'nope'"),
    ],
)
def test_dry_run_checks_inputs_like_a_run(cli, args, message):
    result = cli("run", RESEARCH, "--dry-run", *args)
    assert result.exit_code == 1
    assert message in result.stderr and "<inputs." not in result.output
    typed = cli(
        "run",
        str(PIPELINES / "parallel-analysis.yaml"),
        "--dry-run",
        "-i",
        "proposal=x",
        "-i",
        "sources=not json",
    )
    assert typed.exit_code == 1
    assert "input 'sources': expected an array, got 'not json'" in typed.stderr


def test_dry_run_reports_a_missing_env_var(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("QA_DRY_KEY", raising=False)
    pipe = tmp_path / "p.yaml"
    pipe.write_text("""apiVersion: orchestrate/v1
kind: Pipeline
metadata: {name: p}
agents: {a: {system: "key ${env:QA_DRY_KEY}"}}
steps:
  s: {agent: a, prompt: "hi"}
""")
    result = cli("run", str(pipe), "--dry-run")
    assert result.exit_code == 1
    assert "environment variable QA_DRY_KEY not set" in result.stderr
    monkeypatch.setenv("QA_DRY_KEY", "v4lue")
    assert cli("run", str(pipe), "--dry-run").exit_code == 0


def test_json_run_that_fails_its_checks_still_ends_with_an_outcome(cli, tmp_path):
    bad_input = cli("run", RESEARCH, "--json", "-i", "nope=1")
    assert bad_input.exit_code == 1
    doc = json.loads(bad_input.stdout.strip().splitlines()[-1])
    assert doc["status"] == "error" and doc["run_id"] is None
    assert doc["error"].startswith("unknown input 'nope'")
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "apiVersion: orchestrate/v1\nkind: Pipeline\nmetadata: {name: b}\n"
        "steps: {s: {agent: ghost, prompt: hi}}\n"
    )
    spec = cli("run", str(broken), "--json")
    assert spec.exit_code == 1
    doc = json.loads(spec.stdout.strip().splitlines()[-1])
    assert doc["status"] == "error" and doc["issues"]
    assert any("ghost" in issue["message"] for issue in doc["issues"])
    assert "ghost" in spec.stderr  # the usual report too


def test_runs_show_names_an_ambiguous_prefix(cli):
    for _ in range(2):
        assert cli("run", RESEARCH, "-i", "topic=owls").exit_code == 0
    shown = cli("runs", "show", "20")
    assert shown.exit_code == 1
    assert "error: run id prefix '20' matches 2 runs (" in shown.stderr


def test_runs_list_in_an_empty_directory_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("ORCHESTRATE_HOME", str(tmp_path / "state"))
    listed = CliRunner().invoke(main, ["runs", "list"])
    assert listed.exit_code == 0 and "no runs recorded" in listed.output
    assert json.loads(CliRunner().invoke(main, ["runs", "list", "--json"]).output) == []
    shown = CliRunner().invoke(main, ["runs", "show", "x"])
    assert shown.exit_code == 1 and "no run 'x'" in shown.output
    assert not (tmp_path / "state").exists()


def test_runs_list_columns_stay_aligned_with_interrupted_runs():
    from orchestrator.run.render import runs_table

    runs = [
        {
            "id": "20261125-000000-aaaaaa",
            "pipeline": "p",
            "status": status,
            "started": 1.0,
            "ended": None,
            "tokens": 0,
        }
        for status in ("interrupted", "succeeded", "not_started")
    ]
    lines = runs_table(runs).splitlines()
    assert len({line.index("1970" if i else "STARTED") for i, line in enumerate(lines)}) == 1
