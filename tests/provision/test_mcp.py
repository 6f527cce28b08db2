"""MCP servers as a resource kind (issue 14): planned, applied, diffed, destroyed and pruned
through the one diff engine; MCP tools attached by server and tool name; env/headers
secrets never in a plan (text or JSON), a repr or an error."""

from __future__ import annotations

import json
import textwrap

import pytest

from orchestrator.errors import SpecError
from orchestrator.provision import DiffOptions, destroy_plan
from orchestrator.provision.render import render_text
from orchestrator.spec.model import McpServerSpec
from orchestrator.spec.resources import load_resources

from .helpers import agent, resources

SECRET = "tiny-s3cret-value"
ENV = {"TINY_TOKEN": SECRET}


def server(name="tiny", **kw):
    kw.setdefault("transport", "stdio")
    kw.setdefault("command", "python")
    kw.setdefault("args", ("tiny_mcp.py",))
    kw.setdefault("env", {"TINY_KEY": "${env:TINY_TOKEN}"})
    return McpServerSpec(name=name, **kw)


def fleet(*servers, tools=(("tiny", "lookup_order"),), name="a"):
    res = resources(agent(name, mcp_tools=tuple(tools)))
    return res.__class__(**{**res.__dict__, "mcp_servers": {s.name: s for s in servers}})


@pytest.fixture
def hm(h):
    h.server.mcp_catalog["tiny"] = ("lookup_order", "shout")
    return h


def mcp_tools_of(h, name="a"):
    return sorted(t.name for t in h.agent(name).tools if t.tool_type == "external_mcp")


def test_a_server_is_created_its_tool_attached_and_a_second_apply_is_a_no_op(hm):
    shown = hm.apply(fleet(server()), env=ENV)
    addresses = [c.address for c in shown.changes]
    assert "mcp server tiny" in addresses
    assert "agent a: mcp tool tiny/lookup_order" in addresses
    (made,) = hm.server.list_mcp_servers()
    assert made.env == {"TINY_KEY": SECRET} and made.args == ("tiny_mcp.py",)
    assert mcp_tools_of(hm) == ["lookup_order"]
    again = hm.plan(fleet(server()), env=ENV)
    assert again.empty, render_text(again)


def test_secrets_are_never_shown_and_a_changed_secret_is_an_update(hm):
    shown = hm.plan(fleet(server(headers={}, env={"TINY_KEY": "${env:TINY_TOKEN}"})), env=ENV)
    text = render_text(shown) + json.dumps(shown.to_dict()) + repr(shown.changes)
    assert SECRET not in text and "(sensitive)" in render_text(shown)
    hm.apply(fleet(server()), env=ENV)
    changed = hm.plan(fleet(server()), env={"TINY_TOKEN": "another-secret"})
    (change,) = changed.changes
    assert (change.action, change.address) == ("update", "mcp server tiny")
    assert [f.field for f in change.fields] == ["env"] and change.fields[0].secret
    assert "another-secret" not in render_text(changed) + json.dumps(changed.to_dict())
    hm.apply(fleet(server()), env={"TINY_TOKEN": "another-secret"})
    assert hm.server.list_mcp_servers()[0].env == {"TINY_KEY": "another-secret"}


def test_a_missing_variable_is_located_and_names_no_value(hm):
    with pytest.raises(SpecError) as caught:
        hm.plan(fleet(server()), env={})
    assert "mcp_servers.tiny.env.TINY_KEY: environment variable TINY_TOKEN is not set" in str(
        caught.value
    )


def test_drift_of_the_config_is_found_and_repaired(hm):
    hm.apply(fleet(server()), env=ENV)
    (made,) = hm.server.list_mcp_servers()
    hm.server.update_mcp_server(
        made.id,
        made.__class__(  # a hand edit
            made.id, "tiny", "stdio", "python3", ("other.py",), dict(made.env)
        ),
    )
    (change,) = hm.plan(fleet(server()), env=ENV).changes
    assert {f.field for f in change.fields} == {"command", "args"}
    hm.apply(fleet(server()), env=ENV)
    assert hm.plan(fleet(server()), env=ENV).empty


def test_an_undeclared_mcp_tool_is_detached_and_a_declared_one_attached(hm):
    hm.apply(fleet(server()), env=ENV)
    both = fleet(server(), tools=(("tiny", "shout"),))
    changes = {(c.action, c.name) for c in hm.plan(both, env=ENV).changes}
    assert changes == {("attach", "tiny/shout"), ("detach", "tiny/lookup_order")}
    hm.apply(both, env=ENV)
    assert mcp_tools_of(hm) == ["shout"]


def test_a_tool_the_server_does_not_offer_is_an_error_naming_its_tools(hm):
    hm.apply(fleet(server()), env=ENV)
    with pytest.raises(SpecError) as caught:
        hm.plan(fleet(server(), tools=(("tiny", "lookup"),)), env=ENV)
    assert "MCP server 'tiny' has no tool 'lookup' (its tools: lookup_order, shout)" in str(
        caught.value
    )


def test_an_unmanaged_server_is_not_taken_without_adopt(hm):
    from orchestrator.backends.admin import NewMcpServer

    hm.server.create_mcp_server(NewMcpServer("tiny", "stdio", "python", ("x.py",)))
    with pytest.raises(SpecError, match="an MCP server named 'tiny' exists and is not managed"):
        hm.plan(fleet(server()), env=ENV)
    shown = hm.apply(fleet(server()), env=ENV, adopt=True)
    assert ("adopt", "mcp server tiny") in {(c.action, c.address) for c in shown.changes}
    assert hm.plan(fleet(server()), env=ENV).empty


def test_namespaces_do_not_share_a_server(hm):
    hm.apply(fleet(server()), env=ENV, namespace="team")
    with pytest.raises(SpecError, match="MCP server 'tiny' is managed in namespace 'team'"):
        hm.plan(fleet(server()), env=ENV, namespace="other", adopt=True)


def test_prune_and_destroy_delete_the_server_and_its_marker(hm):
    hm.apply(fleet(server()), env=ENV)
    none = resources(agent("a"))
    assert hm.plan(none, env=ENV).changes[0].action == "detach"  # no --prune: kept
    hm.apply(none, env=ENV, prune=True)
    assert hm.server.list_mcp_servers() == []
    assert not [b for b in hm.server.blocks.values() if b.label == "orchestrate_mcp_server"]
    hm.apply(fleet(server()), env=ENV)
    gone = destroy_plan(fleet(server()), hm.backend, DiffOptions())
    assert "mcp server tiny" in [c.address for c in gone.changes]


def test_the_yaml_kind_loads_and_misuse_is_located(tmp_path):
    (tmp_path / "mcp.yaml").write_text(
        textwrap.dedent("""\
        apiVersion: orchestrate/v1
        kind: McpServer
        name: tiny
        transport: stdio
        command: python
        args: [tiny_mcp.py]
        env: {TINY_KEY: "${env:TINY_TOKEN}"}
        ---
        apiVersion: orchestrate/v1
        kind: Agent
        name: a
        tools: [{mcp: tiny, tool: lookup_order}]
        """)
    )
    loaded = load_resources(tmp_path)
    assert loaded.agents["a"].mcp_tools == (("tiny", "lookup_order"),)
    assert loaded.mcp_servers["tiny"].env == {"TINY_KEY": "${env:TINY_TOKEN}"}
    (tmp_path / "mcp.yaml").write_text(
        textwrap.dedent("""\
        apiVersion: orchestrate/v1
        kind: McpServer
        name: web
        transport: sse
        command: python
        ---
        apiVersion: orchestrate/v1
        kind: Agent
        name: a
        tools: [{mcp: wbe, tool: search}]
        """)
    )
    with pytest.raises(SpecError) as caught:
        load_resources(tmp_path)
    text = str(caught.value)
    assert "mcp.yaml:1:1: McpServer(web).url: a sse MCP server needs 'url'" in text
    assert "mcp.yaml:5:1: McpServer(web).command: 'command' is not used by a sse MCP server" in text
    assert "unknown MCP server 'wbe' (did you mean 'web'?)" in text


def test_export_writes_the_server_without_its_secrets_and_apply_after_is_a_no_op(hm, tmp_path):
    from orchestrator.provision.export import Selection, export_resources

    hm.apply(fleet(server()), env=ENV)
    report = export_resources(hm.server, Selection(all=True), tmp_path / "out")
    assert "mcp_servers/tiny.yaml" in report.files
    written = "".join(p.read_text() for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert SECRET not in written
    assert "TINY_KEY: ${env:TINY_TOKEN}" in (tmp_path / "out/mcp_servers/tiny.yaml").read_text()
    again = load_resources(tmp_path / "out")
    assert again.agents["a"].mcp_tools == (("tiny", "lookup_order"),)
    assert hm.plan(again, env=ENV).empty, render_text(hm.plan(again, env=ENV))


def test_a_missing_variable_is_located_at_its_key_in_the_yaml(hm, tmp_path):
    (tmp_path / "mcp.yaml").write_text(
        textwrap.dedent("""\
        apiVersion: orchestrate/v1
        kind: McpServer
        name: web
        transport: sse
        url: https://mcp.example.com/sse
        headers:
          Authorization: "Bearer ${env:WEB_TOKEN}"
        """)
    )
    with pytest.raises(SpecError) as caught:
        hm.plan(load_resources(tmp_path), env={})
    assert str(caught.value).endswith(
        "mcp.yaml:7:18: mcp_servers.web.headers.Authorization: environment variable WEB_TOKEN "
        "is not set (export it before plan/apply)"
    )


def test_a_private_url_is_refused_where_it_is_written_as_letta_would(tmp_path):
    (tmp_path / "mcp.yaml").write_text(
        textwrap.dedent("""\
        apiVersion: orchestrate/v1
        kind: McpServer
        name: local
        transport: streamable_http
        url: http://127.0.0.1:9799/mcp
        """)
    )
    with pytest.raises(SpecError) as caught:
        load_resources(tmp_path)
    assert (
        "mcp.yaml:5:6: McpServer(local).url: Letta refuses MCP servers on a private "
        "address ('127.0.0.1')" in str(caught.value)
    )
    (tmp_path / "mcp.yaml").write_text(
        (tmp_path / "mcp.yaml").read_text().replace("127.0.0.1:9799", "mcp.example.com")
    )
    assert load_resources(tmp_path).mcp_servers["local"].url == "http://mcp.example.com/mcp"
