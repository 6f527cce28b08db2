"""`orchestrate plan | apply | diff | destroy | export` end to end against the embedded Letta."""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner
from letta_client import Letta

from orchestrator.backends import identity
from orchestrator.cli import main

pytestmark = pytest.mark.integration

AGENT = """apiVersion: orchestrate/v1
kind: Agent
name: helper
memory_blocks:
  - {{label: persona, value: "{persona}"}}
  - {{label: scratch, value: "seed", agent_owned: true}}
shared_blocks: [team]
tools: [{tool}]
folders: [{folder}]
tags: [cli-test]
---
apiVersion: orchestrate/v1
kind: Agent
name: buddy
shared_blocks: [team]
---
apiVersion: orchestrate/v1
kind: Block
name: team
value: shared
---
apiVersion: orchestrate/v1
kind: Tool
name: {tool}
source_file: tool.py
---
apiVersion: orchestrate/v1
kind: Folder
name: {folder}
files: [notes/*.txt]
"""

TOOL = '''def {tool}(x: str) -> str:
    """Echo.

    Args:
        x: the input

    Returns:
        the input
    """
    return x
'''


@pytest.fixture
def cli(letta_stack, tmp_path, monkeypatch):
    suffix = uuid.uuid4().hex[:8]
    ns, tool, folder = f"cli-{suffix}", f"echo_{suffix}", f"notes-{suffix}"
    monkeypatch.setenv("LETTA_BASE_URL", letta_stack.base_url)
    monkeypatch.setenv("ORCHESTRATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("ORCHESTRATE_DEFAULT_MODEL", letta_stack.model_handle)
    monkeypatch.setenv("ORCHESTRATE_DEFAULT_EMBEDDING", letta_stack.embedding_handle)
    src = tmp_path / "agents"
    (src / "notes").mkdir(parents=True)
    (src / "notes" / "a.txt").write_text("first note\n")
    (src / "tool.py").write_text(TOOL.format(tool=tool))

    def write(persona="helpful"):
        (src / "agents.yaml").write_text(AGENT.format(persona=persona, tool=tool, folder=folder))

    def run(*args):
        return CliRunner().invoke(main, [*args, "--namespace", ns], catch_exceptions=False)

    write()
    yield run, src, write, ns
    run("destroy", str(src), "--yes", "--allow-memory-loss")
    client = Letta(base_url=letta_stack.base_url)
    for t in client.tools.list(name=tool):
        client.tools.delete(t.id)


def test_plan_apply_diff_destroy(cli, letta_stack):
    run, src, write, ns = cli
    planned = run("plan", str(src))
    assert planned.exit_code == 0, planned.output
    assert "+ create agent helper" in planned.output and "Plan: " in planned.output
    assert run("diff", str(src)).exit_code == 2
    applied = run("apply", str(src), "--yes")
    assert applied.exit_code == 0, applied.output
    assert "Applied 10 change(s)." in applied.output
    again = run("apply", str(src), "--yes")
    assert "No changes: the server matches." in again.output
    assert run("diff", str(src)).exit_code == 0
    write(persona="changed")
    drift = run("diff", str(src), "--json")
    assert drift.exit_code == 2
    data = json.loads(drift.output)
    assert [c["address"] for c in data["changes"]] == ["agent helper: block persona"]
    destroyed = run("destroy", str(src), "--yes")
    assert destroyed.exit_code == 1 and "--allow-memory-loss" in destroyed.output
    assert run("destroy", str(src), "--yes", "--allow-memory-loss").exit_code == 0
    client = Letta(base_url=letta_stack.base_url)
    assert not list(client.agents.list(tags=[identity.agent_tag(ns, "helper")]))


def test_export_round_trip(cli, tmp_path):
    run, src, _write, _ns = cli
    assert run("apply", str(src), "--yes").exit_code == 0
    out = tmp_path / "exported"
    exported = run("export", "--all", "--out", str(out))
    assert exported.exit_code == 0, exported.output
    assert "Exported 2 agent(s)" in exported.output
    check = run("diff", str(out))
    assert check.exit_code == 0, check.output


def test_bad_source_is_a_located_error_not_a_traceback(cli, tmp_path):
    run, *_ = cli
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.yaml").write_text("apiVersion: orchestrate/v1\nkind: Agent\nname: x\ntools: nope\n")
    result = CliRunner().invoke(main, ["plan", str(bad)])
    assert result.exit_code == 1
    assert "a.yaml:4" in result.output and "Traceback" not in result.output


def test_unreachable_server_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["plan", str(tmp_path), "--base-url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "no Letta server answers at http://127.0.0.1:9" in result.output


def test_export_unmanaged_then_apply_adopt(cli, letta_stack, tmp_path):
    run, _src, _write, ns = cli
    client = Letta(base_url=letta_stack.base_url)
    name = f"hand-{ns}"
    made = client.agents.create(
        name=name,
        model=letta_stack.model_handle,
        embedding=letta_stack.embedding_handle,
        memory_blocks=[{"label": "persona", "value": "made by hand"}],
        tags=["legacy"],
    )
    try:
        out = tmp_path / "adopt"
        assert run("export", name, "--out", str(out)).exit_code == 0
        warned = run("plan", str(out))
        assert "pass --adopt to manage it instead" in warned.output
        adopted = run("apply", str(out), "--adopt", "--yes")
        assert adopted.exit_code == 0, adopted.output
        assert f"~ adopt (start managing) agent {name}" in adopted.output
        assert run("diff", str(out)).exit_code == 0
        (found,) = client.agents.list(tags=[identity.agent_tag(ns, name)])
        assert found.id == made.id  # adopted, not duplicated
        assert len(list(client.agents.list(name=name))) == 1
    finally:
        client.agents.delete(made.id)


def test_another_letta_defaults_diff_after_destroy_and_destroy_wording(
    cli, letta_stack, monkeypatch
):
    """Issue 15: the embedded stack reached by another URL is "another Letta" (its handles
    are not known to the CLI): the error lists what the server offers; diff says drift (2)
    with no model known, also after destroy; destroy refuses as "refusing to destroy"."""
    run, src, _write, _ns = cli
    monkeypatch.delenv("ORCHESTRATE_DEFAULT_MODEL")
    monkeypatch.delenv("ORCHESTRATE_DEFAULT_EMBEDDING")
    other = letta_stack.base_url.replace("127.0.0.1", "localhost")
    planned = run("plan", str(src), "--base-url", other)
    assert planned.exit_code == 1
    assert "agents.helper.model: no model for a new agent" in planned.output
    assert "the server offers: " in planned.output and letta_stack.model_handle in planned.output
    drift = run("diff", str(src), "--base-url", other)
    assert drift.exit_code == 2, drift.output
    assert "apply needs a model" in drift.output
    defaults = (
        "--default-model",
        letta_stack.model_handle,
        "--default-embedding",
        letta_stack.embedding_handle,
    )
    assert run("apply", str(src), "--base-url", other, "--yes", *defaults).exit_code == 0
    assert run("diff", str(src), "--base-url", other).exit_code == 0
    refused = run("destroy", str(src), "--base-url", other, "--yes")
    assert refused.exit_code == 1 and "refusing to destroy" in refused.output
    assert "refusing to apply" not in refused.output
    assert (
        run("destroy", str(src), "--base-url", other, "--yes", "--allow-memory-loss").exit_code == 0
    )
    after = run("diff", str(src), "--base-url", other)
    assert after.exit_code == 2, after.output
