"""JSON mode always prints its document: `validate --json` keeps every file's result when
one file crashes the checks (exit 3), and `run --json` / `plan --json` print one document
with the errors on a spec error or a bug. Also: `validate FILE` reports the problems of
the resource directory FILE lives in, not only its own, and `--allow-path` widens it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.cli import main
from orchestrator.compile import load_plan, validate

REPO = Path(__file__).resolve().parents[2]
GOOD = str(REPO / "pipelines" / "research-report.yaml")
HEAD = "apiVersion: orchestrate/v1\n"


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def crashing_on(name: str):
    def load(path, *args):
        if Path(path).name == name:
            raise RecursionError("maximum recursion depth exceeded")
        return load_plan(path, *args)

    return load


def test_one_crashing_file_loses_no_other_result(tmp_path, monkeypatch):
    bad = tmp_path / "crash.yaml"
    bad.write_text((REPO / "pipelines" / "support-triage.yaml").read_text())
    monkeypatch.setattr(validate, "load_plan", crashing_on("crash.yaml"))
    result = run("validate", "--json", GOOD, str(bad), str(REPO / "tests/data/invalid/cycle.yaml"))
    assert result.exit_code == 3
    files = json.loads(result.stdout)["files"]
    assert [(f["ok"], f["unexpected"]) for f in files] == [
        (True, False),
        (False, True),
        (False, False),
    ]
    assert (
        files[1]["issues"][0]["message"]
        == "unexpected RecursionError: maximum recursion depth exceeded"
    )
    assert "dependency cycle" in files[2]["issues"][0]["message"]


def test_text_mode_also_goes_on_after_a_crash(tmp_path, monkeypatch):
    bad = tmp_path / "crash.yaml"
    bad.write_text("kind: Pipeline\n")
    monkeypatch.setattr(validate, "load_plan", crashing_on("crash.yaml"))
    result = run("validate", str(bad), GOOD)
    assert result.exit_code == 3
    assert f"{bad}: unexpected RecursionError" in result.stdout
    assert f"{GOOD}: ok" in result.stderr


def test_run_json_prints_a_document_on_a_spec_error_and_on_a_bug(tmp_path, monkeypatch):
    broken = tmp_path / "p.yaml"
    broken.write_text(
        f"{HEAD}kind: Pipeline\nmetadata: {{name: t}}\nagents: {{w: {{}}}}\n"
        "steps:\n  a: {agent: w, prompt: '{{ )( }}'}\n"
    )
    result = run("run", "--json", str(broken))
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["status"] == "error" and doc["issues"][0]["path"] == "steps.a.prompt"
    from orchestrator.cli import run_cmds

    monkeypatch.setattr(run_cmds, "load_plan", lambda path, *args: 1 / 0)
    result = run("run", "--json", GOOD)
    assert result.exit_code == 3
    assert json.loads(result.stdout)["error"] == "unexpected ZeroDivisionError: division by zero"


@pytest.fixture
def resource_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv("LETTA_BASE_URL", raising=False)
    monkeypatch.setenv("ORCHESTRATE_HOME", str(tmp_path / "state"))  # no server there
    res = tmp_path / "res"
    res.mkdir()
    (res / "a.yaml").write_text(f"{HEAD}kind: Agent\nname: w\nshared_blocks: [nope]\n")
    (res / "b.yaml").write_text(f"{HEAD}kind: Block\nname: notes\nvaule: x\n")
    return res


@pytest.mark.parametrize("command", ["plan", "diff", "apply", "destroy"])
def test_provisioning_json_prints_a_document_on_a_spec_error(resource_dir, command):
    result = run(command, "--json", str(resource_dir))
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert [i["message"] for i in doc["issues"]] == [
        "unknown shared block 'nope'",
        "unknown key 'vaule'",
    ]


def test_plan_dir_with_a_non_utf8_file_is_a_located_error(resource_dir):
    (resource_dir / "c.yaml").write_bytes(b"kind: Agent\nname: \xff\n")
    result = run("plan", str(resource_dir))
    assert result.exit_code == 1
    assert f"{resource_dir}/c.yaml: not UTF-8 text (byte 18) (save it as UTF-8)" in result.stderr


def test_validate_a_file_reports_its_siblings_problems_too(resource_dir):
    result = run("validate", str(resource_dir / "a.yaml"))
    assert result.exit_code == 1
    assert [line.split(": ", 1)[0].rsplit("/", 1)[1] for line in result.stdout.splitlines()] == [
        "a.yaml:4:17",
        "b.yaml:4:1",
    ]
    both = run("validate", str(resource_dir / "a.yaml"), str(resource_dir / "b.yaml"))
    assert both.stdout == result.stdout  # each problem once, with its own file


def test_allow_path_lets_a_resource_read_outside_its_directory(resource_dir, tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "system.md").write_text("You write.\n")
    (resource_dir / "b.yaml").unlink()
    (resource_dir / "a.yaml").write_text(
        f"{HEAD}kind: Agent\nname: w\nsystem_file: ../shared/system.md\n"
    )
    refused = run("validate", str(resource_dir / "a.yaml"))
    assert refused.exit_code == 1 and "is outside the resource directory" in refused.stdout
    allowed = run(
        "validate", "--allow-path", str(tmp_path / "shared"), str(resource_dir / "a.yaml")
    )
    assert allowed.exit_code == 0, allowed.output
