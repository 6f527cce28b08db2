"""`orchestrate stats --server` on the real embedded Letta: a provisioned agent's messages,
tool calls, archival passages, block sizes against their limits, runs and tokens, as the
server itself lists them (issue 16)."""

from __future__ import annotations

import json
import secrets
import time

import pytest
from click.testing import CliRunner

from orchestrator.backends.letta import LettaBackend
from orchestrator.cli import main

pytestmark = pytest.mark.integration

AGENT = """\
apiVersion: orchestrate/v1
kind: Agent
name: keeper
memory_blocks:
  - {label: persona, value: "I keep notes.", limit: 1000}
  - {label: notes, value: "%s", limit: 100}
"""


def test_stats_server_reads_what_letta_knows(letta_stack, model_script, tmp_path):
    from letta_client import Letta

    namespace = "stats-" + secrets.token_hex(3)
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "keeper.yaml").write_text(AGENT % ("x" * 95))
    env = {"LETTA_BASE_URL": letta_stack.base_url, "ORCHESTRATE_HOME": str(tmp_path / "state")}
    cli = CliRunner()
    applied = cli.invoke(
        main,
        [
            "apply",
            str(tmp_path / "agents"),
            "--yes",
            "--namespace",
            namespace,
            "--default-model",
            letta_stack.model_handle or "",
            "--default-embedding",
            letta_stack.embedding_handle,
        ],
        env=env,
    )
    assert applied.exit_code == 0, applied.output
    client = Letta(base_url=letta_stack.base_url)
    agent_id = next(iter(client.agents.list(tags=[f"orchestrate:id={namespace}/keeper"]))).id
    try:
        model_script(
            [
                {
                    "prompt_contains": "look it up",
                    "tool_call": {"name": "conversation_search", "arguments": {"query": "owls"}},
                    "reply": "found nothing",
                }
            ]
        )
        backend = LettaBackend(letta_stack.base_url)
        replies = [
            backend.send(agent_id, "look it up", otid="stats-1"),
            backend.send(agent_id, "and say hello", otid="stats-2"),
        ]
        client.agents.passages.create(agent_id, text="owls fly at night")
        result = cli.invoke(
            main, ["stats", "--server", "--namespace", namespace, "--json"], env=env
        )
        assert result.exit_code == 0, result.output
        server = json.loads(result.output)["server"]
        assert server["namespace"] == namespace and server["base_url"] == letta_stack.base_url
        [row] = server["agents"]
        listed = client.agents.messages.list(agent_id, limit=1000).items
        assert row["agent"] == "keeper" and row["agent_id"] == agent_id
        assert row["messages"] == len(listed) and not row["messages_capped"]
        assert row["tools"] == {"conversation_search": 1} and row["tool_calls"] == 1
        assert server["tools"] == [
            {"tool": "conversation_search", "calls": 1, "agents": ["keeper"]}
        ]
        assert row["archival_passages"] == 1
        assert row["runs"] == 2 and row["failed_runs"] == 0 and row["run_p50_s"] > 0
        assert row["prompt_tokens"] == sum(r.prompt_tokens for r in replies) > 0
        assert row["completion_tokens"] == sum(r.completion_tokens for r in replies) > 0
        blocks = {b["label"]: b for b in row["blocks"]}
        assert blocks["notes"] == {"label": "notes", "chars": 95, "limit": 100, "used": 0.95}
        assert server["warnings"] == [
            "agent keeper: block 'notes' holds 95 of its 100 characters (95%): near its limit"
        ]
        last = time.mktime(time.strptime(row["last_activity"][:19], "%Y-%m-%dT%H:%M:%S"))
        assert abs(last - time.mktime(time.gmtime())) < 300
        text = cli.invoke(main, ["stats", "--server", "--namespace", namespace], env=env).output
        assert "most-used tools" in text and "conversation_search" in text
        assert "warning: agent keeper: block 'notes'" in text
        other = cli.invoke(
            main, ["stats", "--server", "--namespace", namespace + "x", "--json"], env=env
        )
        assert json.loads(other.output)["server"]["agents"] == []  # another namespace's
    finally:
        gone = cli.invoke(
            main,
            [
                "destroy",
                str(tmp_path / "agents"),
                "--yes",
                "--namespace",
                namespace,
                "--allow-memory-loss",
            ],
            env=env,
        )
        assert gone.exit_code == 0, gone.output
