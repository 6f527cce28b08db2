"""Plan + apply end to end on the in-memory admin backend (the shipped test fake)."""

from __future__ import annotations

import pytest

from orchestrator.backends import identity
from orchestrator.backends.admin import NewAgent, NewBlock
from orchestrator.errors import ProvisionError, SpecError
from orchestrator.provision import DiffOptions, apply, plan
from orchestrator.provision.render import render_json, render_text

from .helpers import SHOUT, Counting, agent, block, resources, tool


def actions(changeset):
    return [(c.action, c.address) for c in changeset.changes]


def test_create_then_second_apply_makes_zero_writes(h):
    res = resources(
        agent(
            "researcher",
            memory_blocks=[block("persona", "curious")],
            tools=["shout"],
            tags=["team-a"],
        ),
        tools=[tool()],
    )
    shown = h.apply(res)
    assert ("create", "agent researcher") in actions(shown)
    assert ("create", "tool shout") in actions(shown)
    created = h.agent("researcher")
    assert {b.label: b.value for b in created.blocks} == {"persona": "curious"}
    assert "shout" in {t.name for t in created.tools}
    assert set(created.tags) == {
        "team-a",
        identity.MANAGED_TAG,
        "orchestrate:id=default/researcher",
    }
    again = h.apply(res)
    assert again.empty
    assert h.backend.writes == []


def test_server_defaults_are_not_drift(h):
    # No system prompt, no block description/limit, base tools attached by the server.
    res = resources(agent("a", memory_blocks=[block("persona", "p")]))
    h.apply(res)
    assert h.plan(res).empty


def test_update_keeps_identity_and_reports_field_diffs(h):
    h.apply(resources(agent("a", system="old", memory_blocks=[block("persona", "v1")])))
    before = h.agent("a").id
    res = resources(
        agent("a", system="new", model="openai-proxy/other", memory_blocks=[block("persona", "v2")])
    )
    shown = h.plan(res)
    fields = {f.field: (f.old, f.new) for c in shown.changes for f in c.fields}
    assert fields["system"] == ("old", "new")
    assert fields["model"] == ("openai-proxy/test-model", "openai-proxy/other")
    assert fields["value"] == ("v1", "v2")
    h.apply(res)
    after = h.agent("a")
    assert after.id == before
    assert after.system == "new" and after.blocks[0].value == "v2"
    assert h.plan(res).empty


def test_drift_made_by_hand_is_detected_and_reverted(h):
    res = resources(agent("a", memory_blocks=[block("persona", "git value")], tags=["x"]))
    h.apply(res)
    a = h.agent("a")
    h.server.update_block(a.blocks[0].id, value="edited by hand")
    h.server.update_agent(a.id, tags=[*a.tags, "hand-tag"])
    drift = h.plan(res)
    assert {c.address for c in drift.changes} == {"agent a", "agent a: block persona"}
    h.apply(res)
    assert h.plan(res).empty
    assert h.agent("a").blocks[0].value == "git value"


def test_agent_owned_block_only_seeds(h):
    res = resources(agent("a", memory_blocks=[block("notes", "seed", agent_owned=True)]))
    h.apply(res)
    a = h.agent("a")
    h.server.update_block(a.blocks[0].id, value="the agent wrote this")
    assert h.plan(res).empty  # never drift
    changed_seed = resources(
        agent("a", memory_blocks=[block("notes", "new seed", agent_owned=True)])
    )
    assert h.plan(changed_seed).empty
    forced = h.plan(changed_seed, force_agent_owned=True)
    (change,) = forced.changes
    assert change.memory_loss and not change.blocked
    h.apply(changed_seed, force_agent_owned=True)
    assert h.agent("a").blocks[0].value == "new seed"


def test_flipping_agent_owned_is_a_metadata_change(h):
    h.apply(resources(agent("a", memory_blocks=[block("notes", "x", agent_owned=True)])))
    flipped = resources(agent("a", memory_blocks=[block("notes", "x")]))
    fields = [f.field for c in h.plan(flipped).changes for f in c.fields]
    assert fields == ["metadata.agent_owned"]


def test_removed_block_is_detached_not_deleted(h):
    h.apply(resources(agent("a", memory_blocks=[block("persona", "p"), block("stale", "s")])))
    stale_id = next(b.id for b in h.agent("a").blocks if b.label == "stale")
    res = resources(agent("a", memory_blocks=[block("persona", "p")]))
    assert actions(h.plan(res)) == [("detach", "agent a: block stale")]
    h.apply(res)
    assert [b.label for b in h.agent("a").blocks] == ["persona"]
    assert stale_id in h.server.blocks  # the value survives on the server
    assert h.plan(res).empty


def test_unmanaged_agents_are_never_touched_even_with_prune(h):
    hand = h.server.create_agent(NewAgent("handmade", "m", "e", tags=("mine",)))
    h.apply(resources(agent("a")))
    shown = h.plan(resources(), prune=True)
    assert all(c.server_id != hand.id for c in shown.changes)
    h.apply(resources(), prune=True)
    assert hand.id in h.server.agents


def test_namesake_unmanaged_agent_warns_and_adopt_takes_it_over(h):
    hand = h.server.create_agent(
        NewAgent("a", "openai-proxy/test-model", "openai/text-embedding-3-small")
    )
    res = resources(agent("a"))
    shown = h.plan(res)
    assert shown.warnings and "--adopt" in shown.warnings[0]
    assert ("create", "agent a") in actions(shown)
    adopted = h.plan(res, adopt=True)
    assert actions(adopted) == [("adopt", "agent a")]
    h.apply(res, adopt=True)
    assert h.agent("a").id == hand.id
    assert h.plan(res).empty


def test_prune_deletes_managed_agents_no_longer_declared(h):
    h.apply(resources(agent("a"), agent("b")))
    shown = h.plan(resources(agent("a")), prune=True)
    assert actions(shown) == [("delete", "agent b")]
    assert h.plan(resources(agent("a"))).empty  # without --prune nothing is deleted
    h.apply(resources(agent("a")), prune=True)
    assert [a.name for a in h.server.list_agents()] == ["a"]


def test_prune_of_agent_with_archival_passages_needs_opt_in(h):
    h.apply(resources(agent("a"), agent("b")))
    h.server.passages[h.agent("b").id] = 3
    res = resources(agent("a"))
    shown = h.plan(res, prune=True)
    (change,) = shown.changes
    assert change.blocked and change.memory_loss == "3 archival passage(s) would be lost"
    with pytest.raises(ProvisionError, match="can destroy memory") as err:
        h.apply(res, prune=True)
    assert "--allow-memory-loss" in str(err.value)
    assert h.backend.writes == []
    h.apply(res, prune=True, allow_memory_loss=True)
    assert [a.name for a in h.server.list_agents()] == ["a"]


def test_interrupted_apply_completes_on_rerun(h):
    res = resources(
        agent("a", memory_blocks=[block("persona", "p")], shared_blocks=["team"], tools=["shout"]),
        agent("b", shared_blocks=["team"]),
        blocks=[block("team", "shared")],
        tools=[tool()],
    )
    options = DiffOptions()
    for fail_after in (1, 2, 3, 4):
        failing = Counting(h.server, fail_after=fail_after)
        shown = plan(res, failing, options, env={})
        with pytest.raises(ProvisionError, match="injected failure") as err:
            apply(shown, res, failing, options, lock_dir=h.lock_dir)
        assert "run apply again to complete" in str(err.value)
    h.apply(res)
    assert h.plan(res).empty
    team = h.server.list_blocks(tags=[identity.block_tag("default", "team")])
    assert len(team) == 1
    assert {a.name for a in h.server.list_agents()} == {"a", "b"}
    assert h.server.list_blocks(tags=[identity.lock_tag("default")]) == []  # lock released


def test_stale_plan_is_refused_without_writes(h):
    res = resources(agent("a"))
    shown = h.plan(res)
    h.apply(res)  # someone else applied in between
    h.backend.writes.clear()
    with pytest.raises(ProvisionError, match="server changed since this plan"):
        apply(shown, res, h.backend, DiffOptions(), lock_dir=h.lock_dir)
    assert h.backend.writes == ["create_block", "delete_block"]  # only the lock


def test_tool_from_source_is_upserted_and_updated(h):
    res = resources(agent("a", tools=["shout"]), tools=[tool(pip_requirements=("requests",))])
    h.apply(res)
    changed = resources(
        agent("a", tools=["shout"]), tools=[tool(source=SHOUT.replace("upper", "title"))]
    )
    shown = h.plan(changed)
    (change,) = shown.changes
    assert change.address == "tool shout"
    assert [f.field for f in change.fields] == ["source_code", "pip_requirements"]
    h.apply(changed)
    assert h.plan(changed).empty


def test_tool_removed_from_agent_is_detached_base_tools_stay(h):
    h.apply(resources(agent("a", tools=["shout"]), tools=[tool()]))
    res = resources(agent("a"), tools=[tool()])
    assert actions(h.plan(res)) == [("update", "agent a"), ("detach", "agent a: tool shout")]
    h.apply(res)
    assert {t.name for t in h.agent("a").tools} == {
        "conversation_search",
        "memory_insert",
        "memory_replace",
    }


def test_unknown_references_are_collected(h):
    res = resources(agent("a", tools=["nope"], folders=["docs"], shared_blocks=["team"]))
    with pytest.raises(SpecError) as err:
        h.plan(res)
    messages = [i.message for i in err.value.issues]
    assert messages == [
        "unknown folder 'docs'",
        "unknown shared block 'team'",
        "unknown tool 'nope'",
    ]


def test_missing_env_var_is_named_never_valued(h):
    res = resources(agent("a", tool_env={"API_KEY": "${env:MY_SECRET}"}))
    with pytest.raises(SpecError, match="MY_SECRET is not set"):
        h.plan(res)
    shown = h.apply(res, env={"MY_SECRET": "hunter2"})
    assert "hunter2" not in repr(shown.to_dict()) and "hunter2" not in repr(shown)
    assert h.server.agents[h.agent("a").id]["env"] == {"API_KEY": "hunter2"}
    assert h.plan(res, env={"MY_SECRET": "hunter2"}).empty
    rotated = h.plan(res, env={"MY_SECRET": "rotated"})
    assert [f.field for c in rotated.changes for f in c.fields] == ["tool_env"]


def test_secret_in_system_and_block_values_is_never_shown(h):
    res = resources(agent("a", system="key ${env:K}", memory_blocks=[block("creds", "${env:K}")]))
    shown = h.plan(res, env={"K": "s3cr3t"})
    for text in (render_text(shown), render_json(shown), repr(shown)):
        assert "s3cr3t" not in text


def test_namespaces_are_isolated(h):
    h.apply(resources(agent("a")), namespace="team1")
    h.apply(resources(agent("a")), namespace="team2")
    assert len(h.server.list_agents()) == 2
    h.apply(resources(), namespace="team1", prune=True)
    assert [a.tags for a in h.server.list_agents()][0].count("orchestrate:id=team2/a") == 1


def test_new_agent_without_model_is_a_clear_error(h):
    res = resources(agent("a", model=None))
    with pytest.raises(SpecError, match="no model for a new agent"):
        h.plan(res)
    assert not h.plan(res, default_model="openai-proxy/x").empty


def test_duplicate_identity_on_server_is_reported(h):
    tags = (identity.MANAGED_TAG, identity.agent_tag("default", "a"))
    h.server.create_agent(NewAgent("a", "m", "e", tags=tags))
    h.server.create_agent(NewAgent("a", "m", "e", tags=tags))
    with pytest.raises(SpecError, match="2 agents on the server carry this identity"):
        h.plan(resources(agent("a")))


def test_lock_block_is_not_a_shared_block(h):
    h.server.create_block(
        NewBlock("x", "{}", tags=(identity.MANAGED_TAG, identity.lock_tag("default")))
    )
    assert h.plan(resources()).empty
