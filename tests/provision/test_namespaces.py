"""Namespaces: validated, matched exactly; applies in different namespaces never touch each
other's agents, shared blocks, tools or folders (issues 14 and 15)."""

from __future__ import annotations

import hashlib

import pytest

from orchestrator.backends import identity
from orchestrator.backends.admin import NewAgent, NewBlock
from orchestrator.errors import ProvisionError, SpecError
from orchestrator.provision import DiffOptions

from .helpers import agent, block, folder, resources, tool


def _digest(content: bytes) -> str:
    return "sha256:" + hashlib.sha256(content).hexdigest()


@pytest.mark.parametrize("bad", ["team/sub", "", "a b", "x=y", "-lead", "ü", "a" * 101])
def test_invalid_namespace_is_refused(bad):
    with pytest.raises(ProvisionError, match="invalid namespace"):
        DiffOptions(namespace=bad)


def test_valid_namespaces_pass():
    for good in ("default", "team", "team.sub", "team-sub_2", "T1"):
        assert DiffOptions(namespace=good).namespace == good


def test_a_nested_legacy_namespace_is_not_matched_by_its_prefix(h):
    # What an apply in `--namespace team/sub` made before namespaces were validated.
    legacy = (identity.MANAGED_TAG, "orchestrate:id=team/sub/a")
    kept = h.server.create_agent(NewAgent("a", "m", "e", tags=legacy))
    block_tags = (identity.MANAGED_TAG, "orchestrate:block=team/sub/notes")
    notes = h.server.create_block(NewBlock("notes", "v", tags=block_tags))
    shown = h.plan(resources(), namespace="team", prune=True)
    assert shown.empty
    h.apply(resources(agent("b")), namespace="team", prune=True)
    assert kept.id in h.server.agents and notes.id in h.server.blocks


def test_tagged_name_is_exact():
    assert identity.tagged_name(("orchestrate:id=team/a",), "id", "team") == "a"
    assert identity.tagged_name(("orchestrate:id=team/sub/a",), "id", "team") is None
    assert identity.tagged_name(("orchestrate:id=teamx/a",), "id", "team") is None


def test_shared_blocks_of_the_same_name_in_two_namespaces_are_separate(h):
    res = resources(agent("a", shared_blocks=["team"]), blocks=[block("team", "one")])
    h.apply(res, namespace="ns1")
    other = resources(agent("a", shared_blocks=["team"]), blocks=[block("team", "two")])
    h.apply(other, namespace="ns2")
    h.apply(resources(), namespace="ns2", prune=True)
    assert h.plan(res, namespace="ns1").empty
    assert [b.value for b in h.server.blocks.values() if b.label == "team"] == ["one"]


def test_a_tool_of_another_namespace_is_an_error_not_retagged(h):
    h.apply(resources(agent("a", tools=["shout"]), tools=[tool()]), namespace="ns1")
    before = dict(h.server.tools)
    res = resources(agent("b", tools=["shout"]), tools=[tool()])
    with pytest.raises(SpecError, match="tool 'shout' is managed in namespace 'ns1'") as err:
        h.plan(res, namespace="ns2")
    assert "named server-wide" in err.value.issues[0].hint
    assert h.server.tools == before
    # Using it by name (not declaring it) is reading, not taking: allowed, never re-tagged.
    h.apply(resources(agent("b", tools=["shout"])), namespace="ns2")
    (shout,) = [t for t in h.server.tools.values() if t.name == "shout"]
    assert identity.tool_tag("ns2", "shout") not in shout.tags
    h.apply(resources(), namespace="ns2", prune=True)
    assert shout.id in h.server.tools


def test_a_folder_of_another_namespace_is_named_and_adopt_does_not_take_it(h, tmp_path):
    (tmp_path / "a.txt").write_text("x")
    res = resources(
        agent("a", folders=["docs"]),
        folders=[folder("docs", str(tmp_path), {"a.txt": _digest(b"x")}, embedding="e")],
    )
    h.apply(res, namespace="default")
    for adopt in (False, True):
        with pytest.raises(SpecError) as err:
            h.plan(res, namespace="nc1", adopt=adopt)
        text = str(err.value)
        assert "folder 'docs' is managed in namespace 'default'" in text
        assert "not managed by orchestrate" not in text


def test_an_unmanaged_folder_still_needs_adopt(h, tmp_path):
    h.server.create_folder("docs", None, "e", {})
    res = resources(
        agent("a", folders=["docs"]), folders=[folder("docs", str(tmp_path), {}, embedding="e")]
    )
    with pytest.raises(SpecError, match="not managed by orchestrate"):
        h.plan(res)
    assert any(c.action == "adopt" for c in h.plan(res, adopt=True).changes)


def test_cli_refuses_a_namespace_with_a_slash_before_anything_runs(tmp_path):
    from click.testing import CliRunner

    from orchestrator.cli import main

    for command in ("plan", "apply", "diff", "destroy", "export"):
        args = (
            [command, str(tmp_path)]
            if command != "export"
            else [command, "--all", "--out", str(tmp_path / "o")]
        )
        result = CliRunner().invoke(
            main, [*args, "--namespace", "team/sub", "--base-url", "http://127.0.0.1:9"]
        )
        assert result.exit_code == 2, (command, result.output)
        assert "no '/'" in result.output and "Letta" not in result.output
