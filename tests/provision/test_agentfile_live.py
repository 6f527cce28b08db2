"""`orchestrate export --format af` / `orchestrate import` on the embedded Letta (issue 14):
an applied agent with a conversation goes out to a file, is deleted, comes back from the
file with its blocks, tools and messages, and no secret is written to the file; `apply`
afterwards finds it (same identity) and restores the one redacted block value."""

from __future__ import annotations

import uuid

import pytest
from click.testing import CliRunner
from letta_client import Letta

from orchestrator.backends import identity
from orchestrator.cli import main

pytestmark = pytest.mark.integration

SECRET = "af-live-s3cret-value"
ONLY_HERE = "af-block-only-value"  # used in one block only, not in tool_env
AGENT = """apiVersion: orchestrate/v1
kind: Agent
name: keeper
memory_blocks:
  - {{label: persona, value: "I keep notes."}}
  - {{label: vault, value: "code ${{env:AF_SECRET}}"}}
  - {{label: pin, value: "pin ${{env:AF_ONLY_HERE}}"}}
tools: [{tool}]
tool_env: {{API_KEY: "${{env:AF_SECRET}}"}}
---
apiVersion: orchestrate/v1
kind: Tool
name: {tool}
source_file: tool.py
"""
TOOL = '''def {tool}(text: str) -> str:
    """Echo a text.

    Args:
        text: the text

    Returns:
        the same text
    """
    return text
'''


def test_agent_file_round_trip(letta_stack, tmp_path, monkeypatch):
    suffix = uuid.uuid4().hex[:8]
    ns, tool = f"af-{suffix}", f"echo_af_{suffix}"
    for key, value in {
        "LETTA_BASE_URL": letta_stack.base_url,
        "AF_SECRET": SECRET,
        "AF_ONLY_HERE": ONLY_HERE,
        "ORCHESTRATE_HOME": str(tmp_path / "state"),
        "ORCHESTRATE_DEFAULT_MODEL": letta_stack.model_handle,
        "ORCHESTRATE_DEFAULT_EMBEDDING": letta_stack.embedding_handle,
    }.items():
        monkeypatch.setenv(key, value)
    src = tmp_path / "agents"
    src.mkdir()
    (src / "agents.yaml").write_text(AGENT.format(tool=tool))
    (src / "tool.py").write_text(TOOL.format(tool=tool))

    def run(*args):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    client = Letta(base_url=letta_stack.base_url)
    try:
        assert run("apply", str(src), "--yes", "--namespace", ns).exit_code == 0
        (agent,) = client.agents.list(tags=[identity.agent_tag(ns, "keeper")])
        client.agents.messages.create(
            agent.id, messages=[{"role": "user", "content": "remember the af test"}]
        )
        out = tmp_path / "files"
        exported = run("export", "keeper", "--format", "af", "--out", str(out), "--namespace", ns)
        assert exported.exit_code == 0, exported.output
        text = (out / "keeper.af").read_text()
        assert SECRET not in text and ONLY_HERE not in text and "remember the af test" in text
        client.agents.delete(agent.id)

        imported = run(
            "import",
            str(out / "keeper.af"),
            "--model",
            letta_stack.model_handle,
            "--embedding",
            letta_stack.embedding_handle,
        )
        assert imported.exit_code == 0, imported.output
        assert SECRET not in imported.output
        (back,) = client.agents.list(
            tags=[identity.agent_tag(ns, "keeper")],
            include=["agent.blocks", "agent.tools", "agent.secrets"],
        )
        assert back.id != agent.id and back.name == "keeper"
        assert back.model == letta_stack.model_handle
        blocks = {b.label: b.value for b in back.blocks}
        assert blocks["persona"] == "I keep notes." and blocks["vault"] == "code (redacted)"
        assert blocks["pin"] == "pin (redacted)"
        assert tool in {t.name for t in back.tools}
        assert {(s.key, s.value) for s in back.secrets or ()} == {("API_KEY", SECRET)}
        said = [
            m
            for m in client.agents.messages.list(back.id, limit=50)
            if m.message_type == "user_message"
        ]
        assert any("remember the af test" in str(m.content) for m in said)
        again = run("import", str(out / "keeper.af"))
        assert again.exit_code == 1 and f"has the identity '{ns}/keeper'" in again.output

        drift = run("diff", str(src), "--namespace", ns)
        assert drift.exit_code == 2 and "agent keeper: block vault" in drift.output, drift.output
        assert SECRET not in drift.output
        assert run("apply", str(src), "--yes", "--namespace", ns).exit_code == 0
        assert run("diff", str(src), "--namespace", ns).exit_code == 0
    finally:
        run("destroy", str(src), "--yes", "--allow-memory-loss", "--namespace", ns)
        for t in client.tools.list(name=tool):
            client.tools.delete(t.id)
