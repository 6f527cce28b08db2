"""Deleting agents (destroy, --prune): what they owned goes with them unless kept, message
history is memory, and an agent left behind (a rename without --prune) is named (issue 14)."""

from __future__ import annotations

import pytest

from orchestrator.backends.admin import NewAgent
from orchestrator.errors import ProvisionError
from orchestrator.provision import DiffOptions, destroy, destroy_plan
from orchestrator.provision.render import render_text

from .helpers import agent, block, resources


def actions(changeset):
    return [(c.action, c.address) for c in changeset.changes]


def _destroy(h, res, allow_memory_loss=False, **opts):
    options = DiffOptions(**opts)
    shown = destroy_plan(res, h.backend, options)
    destroy(
        shown, res, h.backend, options, lock_dir=h.lock_dir, allow_memory_loss=allow_memory_loss
    )
    return shown


SECRET_AGENT = agent(
    "a", memory_blocks=[block("persona", "p"), block("creds", "${env:K}")], shared_blocks=["team"]
)
TEAM = block("team", "shared")


def test_destroy_deletes_the_agents_private_blocks_not_shared_ones(h):
    res = resources(SECRET_AGENT, blocks=[TEAM])
    h.apply(res, env={"K": "s3cr3t"})
    private = {b.id for b in h.agent("a").blocks if b.label != "team"}
    shown = destroy_plan(resources(SECRET_AGENT), h.backend, DiffOptions())
    assert actions(shown) == [
        ("delete", "agent a: block persona"),
        ("delete", "agent a: block creds"),
        ("delete", "agent a"),
    ]
    assert "s3cr3t" not in render_text(shown) and "would be lost" not in render_text(shown)
    _destroy(h, resources(SECRET_AGENT))
    assert not h.server.agents
    assert not private & set(h.server.blocks)
    assert [b.value for b in h.server.blocks.values()] == ["shared"]  # not declared here


def test_prune_deletes_the_private_blocks_too(h):
    h.apply(resources(agent("a"), agent("b", memory_blocks=[block("persona", "p")])))
    persona = h.agent("b").blocks[0].id
    shown = h.plan(resources(agent("a")), prune=True)
    assert actions(shown) == [("delete", "agent b: block persona"), ("delete", "agent b")]
    h.apply(resources(agent("a")), prune=True)
    assert persona not in h.server.blocks


def test_keep_blocks_leaves_them_detached_and_says_so(h):
    res = resources(
        agent("a", memory_blocks=[block("persona", "p"), block("notes", "n", agent_owned=True)])
    )
    h.apply(res)
    kept = {b.id for b in h.agent("a").blocks}
    shown = destroy_plan(res, h.backend, DiffOptions(keep_blocks=True))
    (change,) = shown.changes
    assert change.note == "its blocks persona, notes are kept on the server, detached"
    assert not change.blocked  # the agent-owned value survives
    _destroy(h, res, keep_blocks=True)
    assert kept <= set(h.server.blocks)


def test_deleting_agent_owned_private_blocks_needs_opt_in(h):
    res = resources(agent("a", memory_blocks=[block("notes", "n", agent_owned=True)]))
    h.apply(res)
    shown = destroy_plan(res, h.backend, DiffOptions())
    (blocked,) = shown.blocked
    assert blocked.address == "agent a: block notes"
    assert "what the agent wrote" in blocked.memory_loss
    with pytest.raises(ProvisionError, match="refusing to destroy"):
        _destroy(h, res)
    assert h.server.agents
    _destroy(h, res, allow_memory_loss=True)
    assert not h.server.agents and not h.server.blocks


def test_a_block_another_agent_also_uses_is_kept(h):
    h.apply(resources(agent("a", memory_blocks=[block("persona", "p")])))
    persona = h.agent("a").blocks[0]
    hand = h.server.create_agent(NewAgent("hand", "m", "e"))
    h.server.attach_block(hand.id, persona.id)
    shown = destroy_plan(resources(agent("a")), h.backend, DiffOptions())
    (change,) = shown.changes
    assert "persona is kept (another agent uses it)" in change.note
    _destroy(h, resources(agent("a")))
    assert persona.id in h.server.blocks


def test_message_history_is_memory(h):
    h.apply(resources(agent("a"), agent("b")))
    h.server.messages[h.agent("b").id] = 4
    shown = h.plan(resources(agent("a")), prune=True)
    (change,) = shown.changes
    assert (
        change.blocked
        and change.memory_loss == "4 message(s) of conversation history would be lost"
    )
    with pytest.raises(ProvisionError, match="can destroy memory"):
        h.apply(resources(agent("a")), prune=True)
    h.apply(resources(agent("a")), prune=True, allow_memory_loss=True)
    assert [a.name for a in h.server.list_agents()] == ["a"]


def test_a_rename_without_prune_says_the_old_agent_is_left_behind(h):
    h.apply(resources(agent("old")))
    shown = h.plan(resources(agent("new")))
    assert actions(shown) == [("create", "agent new")]
    (warning,) = shown.warnings
    assert "'old' is managed in namespace 'default' but not declared" in warning
    assert "left on the server" in warning and "--prune" in warning
    assert "a rename creates a new agent" in warning


def test_a_rename_with_prune_warns_that_memory_is_not_moved(h):
    h.apply(resources(agent("old")))
    h.server.messages[h.agent("old").id] = 2
    shown = h.plan(resources(agent("new")), prune=True)
    assert ("delete", "agent old") in actions(shown)
    assert any("memory is not moved" in w for w in shown.warnings)
    assert shown.blocked
