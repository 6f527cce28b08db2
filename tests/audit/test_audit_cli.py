"""`orchestrate audit` end to end through click: the planted corpus is found with its
located wording pinned, no planted value reaches any output, and the baseline works."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from orchestrator.cli import main
from tests.audit.corpus import AWS, PLANTED, SLACK, plant

REPO = Path(__file__).resolve().parents[2]

EXPECTED = """\
agents/agent.yaml:7:18: personal data: Agent helper: memory_blocks[0].value: phone number (phone)
agents/agent.yaml:7:45: personal data: Agent helper: memory_blocks[0].value: e-mail address (email)
agents/agent.yaml:12:10: secret: Agent helper: tool_env.SLACK: Slack token 'xoxb-…' (slack-token)
agents/agent.yaml:14:12: secret: comment: AWS access key id 'AKIA…' (aws-access-key)
agents/blocks/notes.txt:1:15: personal data: Agent helper: block notes: payment card number (card-number)
agents/blocks/notes.txt:2:5: personal data: Agent helper: block notes: US social security number (us-ssn)
agents/docs/faq.md:3:1: secret: Folder kb: upload: private key block '-----BEGIN…' (private-key)
agents/docs/faq.md:6:17: personal data: Folder kb: upload: UK national insurance number (uk-nino)
agents/docs/faq.md:6:32: personal data: Folder kb: upload: phone number (phone)
agents/docs/faq.md:7:6: secret: Folder kb: upload: JSON Web Token 'eyJ…' (jwt)
agents/prompts/system.md:2:13: secret: Agent helper: system prompt: Anthropic API key 'sk-ant-…' (anthropic-key)
agents/shared.yaml:14:9: secret: Block ops: value: GitHub token 'github_pat_…' (github-token)
agents/tools/lookup.py:2:14: secret: Tool lookup: tool source: GitHub token 'ghp_…' (github-token)
agents/tools/lookup.py:3:12: secret: Tool lookup: tool source: password in a URL (url-password)
pipeline.yaml:6:18: secret: agents.bot.system: OpenAI API key 'sk-…' (openai-key)
pipeline.yaml:6:55: secret: agents.bot.system: Stripe live key 'sk_live_…' (stripe-key)
pipeline.yaml:7:42: secret: agents.bot.memory_blocks[0].value: high-entropy string (high-entropy)
"""


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, ["audit", *args])


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    plant(tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _assert_clean(data: bytes) -> None:
    for value in PLANTED:
        assert value.encode() not in data, f"a planted value leaked: {value[:4]}…"


def test_every_planted_value_is_found_with_its_place(corpus: Path) -> None:
    result = _run("agents", "pipeline.yaml")
    assert result.exit_code == 1
    assert result.stdout == EXPECTED
    assert result.stderr == "17 finding(s) in 7 file(s) (2 ignored inline)\n"


def test_no_planted_value_in_any_output(corpus: Path) -> None:
    outputs = [
        _run("agents", "pipeline.yaml"),
        _run("agents", "pipeline.yaml", "--json"),
        _run("agents", "pipeline.yaml", "--write-baseline", "base.json"),
    ]
    for result in outputs:
        _assert_clean(result.stdout_bytes + result.stderr_bytes)
    _assert_clean((corpus / "base.json").read_bytes())
    _assert_clean(repr(_run("agents", "--json").stdout).encode())


def test_json_is_one_document_with_the_same_findings(corpus: Path) -> None:
    result = _run("agents", "pipeline.yaml", "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["ok"] is False and doc["ignored"] == 2 and doc["accepted"] == 0
    lines = [
        f"{f['file']}:{f['line']}:{f['col']}: {f['kind']}: {f['where']}: {f['label']}"
        + (f" '{f['masked']}'" if f["masked"] else "")
        + f" ({f['rule']})"
        for f in doc["findings"]
    ]
    assert "\n".join(lines) + "\n" == EXPECTED
    assert "agents/tools/lookup.py" in doc["files"] and doc["problems"] == []


def test_shipped_examples_are_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = _run("pipelines", "--json")
    doc = json.loads(result.stdout)
    assert (result.exit_code, doc["findings"], doc["problems"]) == (0, [], [])
    assert "pipelines/agents/tools/ticket_priority.py" in doc["files"]
    assert "pipelines/agents/docs/handbook.md" in doc["files"]


def test_baseline_accepts_known_findings_by_value_not_line(corpus: Path) -> None:
    assert _run("agents", "--write-baseline", "base.json").exit_code == 0
    entries = json.loads((corpus / "base.json").read_text())["accepted"]
    assert {e["rule"] for e in entries} >= {"slack-token", "aws-access-key", "card-number"}
    accepted = _run("agents", "--baseline", "base.json")
    assert accepted.exit_code == 0 and accepted.stdout == ""
    assert "accepted by the baseline" in accepted.stderr
    agent = corpus / "agents" / "agent.yaml"
    agent.write_text("# a new first line moves every finding\n" + agent.read_text())
    assert _run("agents", "--baseline", "base.json").exit_code == 0
    agent.write_text(agent.read_text().replace(SLACK, SLACK[:-1] + "Z"))
    changed = _run("agents", "--baseline", "base.json")
    assert changed.exit_code == 1
    assert changed.stdout == (
        "agents/agent.yaml:13:10: secret: Agent helper: tool_env.SLACK: "
        "Slack token 'xoxb-…' (slack-token)\n"
    )


def test_rewriting_a_baseline_keeps_its_salt(corpus: Path) -> None:
    _run("agents", "--write-baseline", "base.json")
    first = json.loads((corpus / "base.json").read_text())
    _run("agents", "--write-baseline", "base.json")
    assert json.loads((corpus / "base.json").read_text()) == first


def test_a_broken_baseline_is_a_located_error(corpus: Path) -> None:
    (corpus / "base.json").write_text("{\n  nope\n")
    result = _run("agents", "--baseline", "base.json")
    assert result.exit_code == 1
    assert result.stdout.startswith(
        "base.json:2:3: not JSON: Expecting property name "
        "enclosed in double quotes (pass a file written by "
        "--write-baseline)\n"
    )
    doc = json.loads(_run("agents", "--baseline", "base.json", "--json").stdout)
    assert doc["ok"] is False and doc["problems"][0]["file"] == "base.json"


def test_removing_an_ignore_comment_brings_the_finding_back(corpus: Path) -> None:
    agent = corpus / "agents" / "agent.yaml"
    agent.write_text(agent.read_text().replace("  # audit: ignore[google-api-key]", ""))
    assert (
        "agents/agent.yaml:15:11: secret: Agent helper: tool_env.GOOGLE: Google API key "
        "'AIza…' (google-api-key)" in _run("agents").stdout
    )


def test_an_ignore_comment_names_its_rule(corpus: Path) -> None:
    agent = corpus / "agents" / "agent.yaml"
    agent.write_text(
        agent.read_text().replace(f"# old key: {AWS}", f"# old key: {AWS}  # audit: ignore[email]")
    )
    assert "(aws-access-key)" in _run("agents").stdout
    agent.write_text(agent.read_text().replace("ignore[email]", "ignore[email, aws-access-key]"))
    assert "(aws-access-key)" not in _run("agents").stdout


def test_a_folder_pattern_outside_the_directory_is_a_located_problem(corpus: Path) -> None:
    (corpus / "agents" / "leak.yaml").write_text(
        "apiVersion: orchestrate/v1\nkind: Folder\nname: out\nfiles: [../*.yaml]\n"
    )
    result = _run("agents", "--json")
    doc = json.loads(result.stdout)
    assert result.exit_code == 1
    [problem] = doc["problems"]
    assert (problem["file"], problem["line"], problem["col"], problem["path"]) == (
        "agents/leak.yaml",
        4,
        9,
        "files[0]",
    )
    assert "outside the resource directory" in problem["message"]
    assert "pipeline.yaml" not in doc["files"]


def test_binary_folder_files_are_skipped_and_said_so(corpus: Path) -> None:
    (corpus / "agents" / "docs" / "logo.md").write_bytes(b"\x89PNG\0\0" + AWS.encode())
    result = _run("agents")
    assert "agents/docs/logo.md" not in result.stdout
    assert "1 binary file(s) skipped" in result.stderr


@pytest.mark.parametrize("args", [[], ["no-such-dir"], ["agents", "--bogus"]])
def test_usage_errors_exit_2(corpus: Path, args: list[str]) -> None:
    assert _run(*args).exit_code == 2


def test_clean_directory_exits_0(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "apiVersion: orchestrate/v1\nkind: Block\nname: b\nvalue: ${env:NOTES}\n"
    )
    result = _run(str(tmp_path))
    assert (result.exit_code, result.stdout) == (0, "")


def test_a_file_linked_from_outside_the_directory_is_refused(corpus: Path) -> None:
    outside = corpus / "outside.md"
    outside.write_text(f"stolen {AWS}\n")
    system = corpus / "agents" / "prompts" / "system.md"
    system.unlink()
    system.symlink_to(outside)
    result = _run("agents")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == (
        f"agents/agent.yaml:4:14: system_file: 'prompts/system.md' leads to {outside}, outside "
        f"the resource directory {corpus / 'agents'} (a resource directory may only use files "
        "inside it; allow another directory with --allow-path DIR)"
    )
    assert "outside.md" not in result.stdout.split("\n", 1)[1]


def test_a_python_comment_is_named_as_such(corpus: Path) -> None:
    tool = corpus / "agents" / "tools" / "lookup.py"
    tool.write_text(tool.read_text() + f"# {SLACK}\n")
    assert (
        "agents/tools/lookup.py:6:3: secret: comment: Slack token 'xoxb-…' (slack-token)"
        in _run("agents").stdout.splitlines()
    )
