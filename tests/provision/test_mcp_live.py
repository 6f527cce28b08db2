"""MCP servers on the embedded Letta (issue 14): a real MCP server (tests/provision/data/
tiny_mcp.py, on the `mcp` SDK in Letta's own venv) run by Letta over stdio, provisioned with
an agent that attaches one of its tools by server and tool name; the local model calls it.

Letta 0.16.8 refuses SSE / streamable-HTTP MCP servers on private addresses (127.0.0.1
included: "Non-public IP not allowed"), so a test server on this machine can only be stdio;
the embedded stack enables stdio (MCP_DISABLE_STDIO=false, server/components.py).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from letta_client import Letta

from orchestrator.backends.letta_admin import LettaAdmin
from orchestrator.errors import ProvisionError
from orchestrator.provision import DiffOptions, apply, plan
from orchestrator.provision.render import render_text
from orchestrator.spec.model import McpServerSpec

from .helpers import agent, resources

pytestmark = pytest.mark.integration

TINY = Path(__file__).parent / "data" / "tiny_mcp.py"
SECRET = "tiny-live-s3cret"


def test_an_agent_gets_mcp_tools_and_the_model_calls_one(letta_stack, model_script, tmp_path):
    python = letta_stack.home / "letta-venv" / "bin" / "python"
    if not python.exists():
        pytest.skip("not the embedded stack: no Letta venv to run the MCP server with")
    suffix = uuid.uuid4().hex[:8]
    namespace, name = f"mcp-{suffix}", f"tiny-{suffix}"
    spec = McpServerSpec(
        name=name,
        transport="stdio",
        command=str(python),
        args=(str(TINY),),
        env={"TINY_KEY": "${env:TINY_TOKEN}"},
    )
    base = resources(
        agent(
            "a",
            model=letta_stack.model_handle,
            embedding=letta_stack.embedding_handle,
            mcp_tools=((name, "shout"),),
        )
    )
    res = base.__class__(**{**base.__dict__, "mcp_servers": {name: spec}})
    backend, options, env = (
        LettaAdmin(letta_stack.base_url),
        DiffOptions(namespace=namespace),
        {"TINY_TOKEN": SECRET},
    )
    try:
        shown = plan(res, backend, options, env=env)
        assert SECRET not in render_text(shown) + json.dumps(shown.to_dict())
        try:
            apply(shown, res, backend, options, lock_dir=tmp_path / "locks", env=env)
        except ProvisionError as exc:
            assert SECRET not in str(exc)
            if "stdio servers are disabled" in str(exc):
                pytest.skip(
                    "this Letta was started without MCP_DISABLE_STDIO=false: restart "
                    "the embedded stack"
                )
            raise
        assert plan(res, backend, options, env=env).empty
        (made,) = [a for a in backend.list_agents() if f"orchestrate:id={namespace}/a" in a.tags]
        assert "shout" in {t.name for t in made.tools if t.tool_type == "external_mcp"}

        model_script(
            [
                {
                    "prompt_contains": "use the tool",
                    "tool_call": {"name": "shout", "arguments": {"text": "order shipped"}},
                    "reply": "done",
                }
            ]
        )
        client = Letta(base_url=letta_stack.base_url)
        answer = client.agents.messages.create(
            made.id, messages=[{"role": "user", "content": "please use the tool"}]
        )
        returns = [m for m in answer.messages if m.message_type == "tool_return_message"]
        assert returns and "ORDER SHIPPED (with key)" in str(returns[0].tool_return), returns
        assert returns[0].status == "success"
    finally:
        cleanup = resources()
        gone = plan(cleanup, backend, DiffOptions(namespace=namespace, prune=True), env={})
        apply(
            gone,
            cleanup,
            backend,
            DiffOptions(namespace=namespace, prune=True),
            lock_dir=tmp_path / "locks",
            allow_memory_loss=True,
            env={},
        )
    assert name not in {s.name for s in backend.list_mcp_servers()}


@pytest.mark.parametrize("transport", ["streamable_http", "sse"])
def test_an_http_server_is_created_updated_and_destroyed_with_its_headers(
    letta_stack, tmp_path, transport
):
    """Letta keeps an HTTP/SSE server it cannot reach (it lists no tools for it): enough to
    check the config and its secret headers round-trip (a second plan is empty, a changed
    token is an update, the token never printed)."""
    suffix = uuid.uuid4().hex[:8]
    namespace, name = f"mcph-{suffix}", f"web-{suffix}"
    spec = McpServerSpec(
        name=name,
        transport=transport,
        url="https://mcp.example.com/mcp",
        headers={"Authorization": "Bearer ${env:WEB_TOKEN}"},
    )
    res = resources().__class__(root=".", mcp_servers={name: spec})
    backend, options = LettaAdmin(letta_stack.base_url), DiffOptions(namespace=namespace)
    locks = tmp_path / "locks"
    first, second = {"WEB_TOKEN": SECRET}, {"WEB_TOKEN": SECRET + "-rotated"}
    try:
        apply(
            plan(res, backend, options, env=first), res, backend, options, lock_dir=locks, env=first
        )
        (made,) = [s for s in backend.list_mcp_servers() if s.name == name]
        assert (made.transport, made.url) == (transport, "https://mcp.example.com/mcp")
        assert made.headers == {"Authorization": f"Bearer {SECRET}"}
        assert plan(res, backend, options, env=first).empty
        rotated = plan(res, backend, options, env=second)
        assert [(c.action, [f.field for f in c.fields]) for c in rotated.changes] == [
            ("update", ["headers"])
        ]
        assert SECRET not in render_text(rotated) + json.dumps(rotated.to_dict())
        apply(rotated, res, backend, options, lock_dir=locks, env=second)
        assert plan(res, backend, options, env=second).empty
    finally:
        gone = DiffOptions(namespace=namespace, prune=True)
        empty = resources()
        apply(plan(empty, backend, gone, env={}), empty, backend, gone, lock_dir=locks, env={})
    assert name not in {s.name for s in backend.list_mcp_servers()}
