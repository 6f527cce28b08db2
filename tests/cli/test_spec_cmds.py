"""`orchestrate validate | graph | schema` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.cli import main

REPO = Path(__file__).resolve().parents[2]
PIPELINES = REPO / "pipelines"
DATA = REPO / "tests" / "data"
EXAMPLES = ["research-report", "parallel-analysis", "support-triage"]


def run(*args: str):
    return CliRunner().invoke(main, list(args))


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_validate_clean(name):
    result = run("validate", str(PIPELINES / f"{name}.yaml"))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # no errors, no warnings
    assert result.stderr == f"{PIPELINES / name}.yaml: ok\n"


def test_a_directory_means_its_yaml_files_subdirectories_included():
    result = run("validate", str(PIPELINES))
    assert result.exit_code == 0
    assert result.stderr.count(": ok\n") == len(list(PIPELINES.rglob("*.yaml")))
    assert f"{PIPELINES / 'agents' / 'triager.yaml'}: ok\n" in result.stderr


def test_a_directory_leaves_hidden_directories_out(tmp_path):
    (tmp_path / ".orchestrate").mkdir()
    (tmp_path / ".orchestrate" / "junk.yaml").write_text("not: a pipeline\n")
    (tmp_path / "p.yaml").write_text((PIPELINES / "research-report.yaml").read_text())
    result = run("validate", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.stderr == f"{tmp_path / 'p.yaml'}: ok\n"


def test_every_problem_of_every_file_is_printed_and_exit_is_1():
    bad1, bad2 = DATA / "invalid" / "cycle.yaml", DATA / "invalid" / "unknown-key.yaml"
    result = run("validate", str(bad1), str(PIPELINES / "research-report.yaml"), str(bad2))
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{bad1}:7:6: steps.a: dependency cycle: a -> b -> c -> a "
        "(a step cannot depend on itself through needs or templates: break one link)",
        f"{bad2}:9:5: steps.a: unknown key 'promt' (did you mean 'prompt'?)",
    ]


def test_warnings_are_printed_but_exit_is_0():
    result = run("validate", str(DATA / "valid" / "warnings.yaml"))
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1] == (
        f"{DATA}/valid/warnings.yaml:9:9: agents.idle: agent 'idle' is not used by any step "
        "(remove it, or give it a step) [warning]"
    )


def test_validate_json_is_machine_readable():
    bad = DATA / "invalid" / "unknown-agent.yaml"
    result = run("validate", "--json", str(bad), str(PIPELINES / "support-triage.yaml"))
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    first, second = report["files"]
    assert (first["file"], first["ok"], second["ok"], second["issues"]) == (
        str(bad),
        False,
        True,
        [],
    )
    assert first["issues"][1] == {
        "file": str(bad),
        "line": 7,
        "col": 14,
        "path": "steps.a.agent",
        "message": "unknown agent 'writr'",
        "hint": "did you mean 'writer'?",
        "severity": "error",
    }


def test_missing_file_is_a_problem_not_a_traceback():
    result = run("validate", "nope.yaml")
    assert result.exit_code == 1
    assert result.stdout == "nope.yaml: cannot read file: No such file or directory\n"


def test_graph_prints_mermaid_by_default():
    result = run("graph", str(PIPELINES / "research-report.yaml"))
    assert result.exit_code == 0
    assert result.stdout.startswith("flowchart TD\n")


@pytest.mark.parametrize("fmt", ["dot", "json"])
def test_graph_formats(fmt):
    result = run("graph", str(PIPELINES / "parallel-analysis.yaml"), "--format", fmt)
    assert result.exit_code == 0
    if fmt == "json":
        assert json.loads(result.stdout)["levels"][1] == ["synthesis"]
    else:
        assert result.stdout.startswith('digraph "parallel-analysis" {')


def test_graph_of_an_invalid_file_prints_issues_and_exits_1():
    bad = DATA / "invalid" / "self-reference.yaml"
    result = run("graph", str(bad))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "steps.a.prompt: step 'a' reads its own output" in result.stderr


@pytest.mark.parametrize("kind", ["pipeline", "resources"])
def test_schema_prints_the_shipped_schema(kind):
    result = run("schema", kind)
    assert result.exit_code == 0
    assert json.loads(result.stdout) == json.loads(
        (REPO / "schemas" / f"{kind}.schema.json").read_text()
    )


def test_schema_defaults_to_pipeline():
    assert json.loads(run("schema").stdout)["title"] == "orchestrate Pipeline"


def test_an_empty_directory_is_an_error(tmp_path):
    result = run("validate", str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr == f"Error: no *.yaml or *.yml files in {tmp_path}\n"


def test_resource_files_are_checked_as_resources_with_their_directory(tmp_path):
    import shutil

    agents = tmp_path / "agents"
    shutil.copytree(REPO / "pipelines" / "agents", agents)
    clean = run("validate", str(agents))
    assert clean.exit_code == 0, clean.output
    triager = agents / "triager.yaml"
    triager.write_text(triager.read_text().replace("[team_notes]", "[team_note]"))
    broken = run("validate", str(triager), str(agents / "responder.yaml"))
    assert broken.exit_code == 1
    assert broken.stdout.splitlines() == [
        f"{triager}:14:17: Agent(triager).shared_blocks[0]: unknown shared block 'team_note' "
        "(did you mean 'team_notes'?)"
    ]


def test_run_labels_warnings_as_validate_does(tmp_path):
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(
        "apiVersion: orchestrate/v1\nkind: Pipeline\nmetadata: {name: t}\n"
        'agents:\n  writer: {system: "x"}\n  other: {system: "y"}\n'
        "steps:\n  a: {agent: writer, prompt: hi}\n"
    )
    result = run("run", str(pipeline), "--dry-run")
    assert result.exit_code == 0, result.output
    assert (
        f"{pipeline}:6:10: agents.other: agent 'other' is not used by any step "
        "(remove it, or give it a step) [warning]\n"
    ) in result.stderr
    bad = DATA / "invalid" / "unknown-agent.yaml"  # with an error: the warning still says so
    result = run("run", str(bad), "--dry-run")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].endswith("[warning]")
