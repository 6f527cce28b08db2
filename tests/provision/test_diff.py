"""The pure diff engine, on hand-built actual states. Includes a regression test for every
lettactl drift bug listed in /work/shared/peers.md (issue numbers in the test names)."""

from __future__ import annotations

from orchestrator.backends import identity
from orchestrator.backends.admin import AgentState, Block, Tool
from orchestrator.provision import DiffOptions, diff
from orchestrator.provision.desired import managed_metadata
from orchestrator.provision.state import ActualState

from .helpers import EMBEDDING, MODEL, agent, block, resources

NS = "default"


def server_agent(name, blocks=(), tools=(), tags=(), agent_owned=(), declared_tools=(), **kw):
    tags = (*tags, identity.MANAGED_TAG, identity.agent_tag(NS, name))
    return AgentState(
        id=f"agent-{name}",
        name=name,
        model=MODEL,
        embedding=EMBEDDING,
        system="default system",
        tags=tags,
        blocks=tuple(blocks),
        tools=tuple(tools),
        metadata=managed_metadata(NS, name, list(agent_owned), list(declared_tools), ""),
        **kw,
    )


def shared(name, value, agent_owned=False):
    return Block(
        id=f"block-shared-{name}",
        label=name,
        value=value,
        tags=(identity.MANAGED_TAG, identity.block_tag(NS, name)),
        metadata={"orchestrate": {"id": f"{NS}/{name}", "agent_owned": agent_owned}},
    )


def state(*agents, shared_blocks=(), tools=(), unmanaged=()):
    return ActualState(
        base_url="memory://",
        namespace=NS,
        agents={a.name: a for a in agents},
        shared_blocks={b.label: b for b in shared_blocks},
        tools={t.name: t for t in tools},
        unmanaged=tuple(unmanaged),
    )


def summary(changeset):
    return [(c.action, c.address) for c in changeset.changes]


def test_in_sync_is_empty():
    team = shared("team", "v")
    actual = state(
        server_agent("a", blocks=[Block("b1", "persona", "p"), team]), shared_blocks=[team]
    )
    res = resources(
        agent("a", memory_blocks=[block("persona", "p")], shared_blocks=["team"]),
        blocks=[block("team", "v")],
    )
    assert diff(res, actual, DiffOptions()).empty


def test_lettactl_314_316_block_moved_from_private_to_shared_is_drift():
    team = shared("team", "v")
    private = Block("b-private", "team", "v")
    actual = state(server_agent("a", blocks=[private]), shared_blocks=[team])
    res = resources(agent("a", shared_blocks=["team"]), blocks=[block("team", "v")])
    assert summary(diff(res, actual, DiffOptions())) == [
        ("detach", "agent a: block team"),
        ("attach", "agent a: shared block team"),
    ]


def test_block_moved_from_shared_to_private_is_drift():
    team = shared("team", "v")
    actual = state(server_agent("a", blocks=[team]), shared_blocks=[team])
    res = resources(agent("a", memory_blocks=[block("team", "v")]), blocks=[block("team", "v")])
    assert summary(diff(res, actual, DiffOptions())) == [
        ("detach", "agent a: shared block team"),
        ("create", "agent a: block team"),
    ]


def test_lettactl_317_changed_shared_block_value_is_detected():
    team = shared("team", "old")
    actual = state(server_agent("a", blocks=[team]), shared_blocks=[team])
    res = resources(agent("a", shared_blocks=["team"]), blocks=[block("team", "new")])
    (change,) = diff(res, actual, DiffOptions()).changes
    assert change.address == "block team"
    assert [(f.field, f.old, f.new) for f in change.fields] == [("value", "old", "new")]


def test_lettactl_322_326_328_new_shared_block_is_created_and_attached():
    actual = state(server_agent("a"))
    res = resources(agent("a", shared_blocks=["team"]), blocks=[block("team", "v")])
    assert summary(diff(res, actual, DiffOptions())) == [
        ("create", "block team"),
        ("attach", "agent a: shared block team"),
    ]


def test_existing_shared_block_not_attached_is_attached():
    team = shared("team", "v")
    actual = state(server_agent("a"), shared_blocks=[team])
    res = resources(agent("a", shared_blocks=["team"]), blocks=[block("team", "v")])
    (change,) = diff(res, actual, DiffOptions()).changes
    assert (change.action, change.server_id) == ("attach", team.id)


def test_lettactl_319_no_create_for_an_agent_that_exists():
    actual = state(server_agent("a"))
    assert diff(resources(agent("a")), actual, DiffOptions()).empty


def test_lettactl_257_384_removed_blocks_are_detached_without_touching_archives():
    stale = [Block(f"b{i}", f"stale{i}", "x" * 800) for i in range(5)]
    actual = state(server_agent("a", blocks=stale))
    changes = diff(resources(agent("a")), actual, DiffOptions()).changes
    assert [c.action for c in changes] == ["detach"] * 5
    assert not any(c.memory_loss or c.blocked for c in changes)


def test_shared_agent_owned_value_is_never_drift_unless_forced():
    team = shared("team", "the agents wrote this", agent_owned=True)
    actual = state(server_agent("a", blocks=[team]), shared_blocks=[team])
    res = resources(
        agent("a", shared_blocks=["team"]), blocks=[block("team", "seed", agent_owned=True)]
    )
    assert diff(res, actual, DiffOptions()).empty
    (forced,) = diff(res, actual, DiffOptions(force_agent_owned=True)).changes
    assert forced.memory_loss.startswith("overwrites a value the agent wrote")


def test_undeclared_fields_and_server_defaults_are_ignored():
    base = Tool("t1", "memory_insert", tool_type="letta_sleeptime_core")
    actual = state(server_agent("a", tools=[base], description="set by hand", context_window=30000))
    assert diff(resources(agent("a", model=None, embedding=None)), actual, DiffOptions()).empty


def test_base_tool_declared_then_removed_is_detached():
    base = Tool("t1", "web_search", tool_type="letta_builtin")
    actual = state(server_agent("a", tools=[base], declared_tools=["web_search"]), tools=[base])
    assert summary(diff(resources(agent("a")), actual, DiffOptions())) == [
        ("update", "agent a"),
        ("detach", "agent a: tool web_search"),
    ]


def test_hand_attached_custom_tool_is_drift():
    custom = Tool("t9", "mine", source_code="def mine(): ...")
    actual = state(server_agent("a", tools=[custom]), tools=[custom])
    assert summary(diff(resources(agent("a")), actual, DiffOptions())) == [
        ("detach", "agent a: tool mine")
    ]


def test_prune_of_shared_agent_owned_block_is_blocked():
    team = shared("team", "x", agent_owned=True)
    changes = diff(resources(), state(shared_blocks=[team]), DiffOptions(prune=True)).changes
    (change,) = changes
    assert (change.action, change.blocked) == ("delete", True)


def test_plan_is_deterministic_and_fingerprinted():
    res = resources(agent("a", memory_blocks=[block("persona", "p")]), agent("b"))
    one = diff(res, state(), DiffOptions())
    two = diff(res, state(), DiffOptions())
    assert one.fingerprint() == two.fingerprint()
    assert summary(one) == [("create", "agent a"), ("create", "agent b")]


def test_deleting_an_agent_with_agent_owned_blocks_is_blocked():
    notes = Block(id="block-notes", label="notes", value="the agent wrote this")
    actual = state(server_agent("a", blocks=[notes], agent_owned=["notes"]))
    (block_delete, agent_delete) = diff(resources(), actual, DiffOptions(prune=True)).changes
    assert block_delete.address == "agent a: block notes"
    assert block_delete.blocked and "what the agent wrote" in block_delete.memory_loss
    assert not agent_delete.blocked
    kept = diff(resources(), actual, DiffOptions(prune=True, keep_blocks=True)).changes
    assert [c.address for c in kept] == ["agent a"] and not kept[0].blocked
