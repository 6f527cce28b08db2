"""Provisioning against the embedded Letta server (real letta-client calls).

Each test works in its own namespace with unique tool/folder names (tools and folders are
named server-wide), and destroys what it made at the end.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from pathlib import Path

import pytest
from letta_client import Letta

from orchestrator.backends import identity
from orchestrator.backends.letta_admin import LettaAdmin
from orchestrator.errors import ProvisionError
from orchestrator.provision import DiffOptions, apply, plan

from .helpers import SHOUT, Counting, Paused, agent, block, folder, resources, tool

pytestmark = pytest.mark.integration


class Live:
    def __init__(self, stack, lock_dir: Path) -> None:
        self.suffix = uuid.uuid4().hex[:8]
        self.namespace = f"it-{self.suffix}"
        self.model, self.embedding = stack.model_handle, stack.embedding_handle
        self.backend = Counting(LettaAdmin(stack.base_url))
        self.client = Letta(base_url=stack.base_url)
        self.lock_dir = lock_dir
        self.tool_name = f"shout_{self.suffix}"

    def agent(self, name, **kw):
        return agent(name, model=self.model, embedding=self.embedding, **kw)

    def tool(self, source=SHOUT):
        return tool(self.tool_name, source.replace("def shout(", f"def {self.tool_name}("))

    def options(self, **kw):
        return DiffOptions(namespace=self.namespace, **kw)

    def plan(self, res, **kw):
        return plan(res, self.backend, self.options(**kw), env={})

    def apply(self, res, allow_memory_loss=False, **kw):
        shown = self.plan(res, **kw)
        self.backend.writes.clear()
        apply(
            shown,
            res,
            self.backend,
            self.options(**kw),
            lock_dir=self.lock_dir,
            allow_memory_loss=allow_memory_loss,
            env={},
        )
        return shown

    def find(self, name):
        found = list(
            self.client.agents.list(
                tags=[identity.agent_tag(self.namespace, name)],
                include=["agent.blocks", "agent.tools", "agent.sources", "agent.tags"],
            )
        )
        assert len(found) == 1, [a.id for a in found]
        return found[0]

    def cleanup(self):
        self.apply(resources(), prune=True, allow_memory_loss=True)
        for t in self.client.tools.list(name=self.tool_name):
            self.client.tools.delete(t.id)


@pytest.fixture
def live(letta_stack, tmp_path):
    env = Live(letta_stack, tmp_path / "locks")
    yield env
    env.cleanup()


def test_create_noop_and_shared_block_on_two_agents(live):
    res = resources(
        live.agent(
            "a",
            memory_blocks=[block("persona", "p")],
            shared_blocks=["team"],
            tools=[live.tool_name],
            tags=["t1"],
        ),
        live.agent("b", shared_blocks=["team"]),
        blocks=[block("team", "shared notes")],
        tools=[live.tool()],
    )
    live.apply(res)
    a, b = live.find("a"), live.find("b")
    team_a = next(x for x in a.blocks if x.label == "team")
    team_b = next(x for x in b.blocks if x.label == "team")
    assert team_a.id == team_b.id and team_a.value == "shared notes"
    assert live.tool_name in {t.name for t in a.tools}
    assert "t1" in a.tags
    again = live.apply(res)
    assert again.empty and live.backend.writes == []


def test_update_keeps_identity_and_archival_memory(live):
    res = resources(live.agent("a", system="You are v1.", memory_blocks=[block("persona", "v1")]))
    live.apply(res)
    before = live.find("a")
    live.client.agents.passages.create(before.id, text="remember this")
    res2 = resources(live.agent("a", system="You are v2.", memory_blocks=[block("persona", "v2")]))
    live.apply(res2)
    after = live.find("a")
    assert after.id == before.id and after.system == "You are v2."
    assert [x.value for x in after.blocks if x.label == "persona"] == ["v2"]
    assert len(live.client.agents.passages.list(after.id)) == 1
    assert live.plan(res2).empty


def test_drift_made_by_hand_is_reported_and_reverted(live):
    res = resources(
        live.agent(
            "a", memory_blocks=[block("persona", "git"), block("notes", "seed", agent_owned=True)]
        )
    )
    live.apply(res)
    a = live.find("a")
    by_label = {x.label: x for x in a.blocks}
    live.client.blocks.update(by_label["persona"].id, value="hand edit")
    live.client.blocks.update(by_label["notes"].id, value="agent wrote this")
    live.client.agents.update(a.id, tags=[*a.tags, "stray"])
    drift = live.plan(res)
    assert {c.address for c in drift.changes} == {"agent a", "agent a: block persona"}
    live.apply(res)
    assert live.plan(res).empty
    blocks = {x.label: x.value for x in live.find("a").blocks}
    assert blocks == {"persona": "git", "notes": "agent wrote this"}


def test_prune_and_unmanaged_agent_untouched(live):
    hand = live.client.agents.create(
        name=f"hand-{live.suffix}", model=live.model, embedding=live.embedding
    )
    try:
        live.apply(resources(live.agent("a"), live.agent("b")))
        shown = live.plan(resources(live.agent("a")), prune=True)
        assert [(c.action, c.address) for c in shown.changes] == [("delete", "agent b")]
        live.apply(resources(live.agent("a")), prune=True)
        assert live.client.agents.retrieve(hand.id).name == f"hand-{live.suffix}"
        assert not list(live.client.agents.list(tags=[identity.agent_tag(live.namespace, "b")]))
    finally:
        live.client.agents.delete(hand.id)


def test_interrupted_apply_then_reapply(live):
    res = resources(
        live.agent(
            "a",
            memory_blocks=[block("persona", "p")],
            shared_blocks=["team"],
            tools=[live.tool_name],
        ),
        live.agent("b", shared_blocks=["team"]),
        blocks=[block("team", "shared")],
        tools=[live.tool()],
    )
    inner = live.backend.inner
    for fail_after in (3, 5):  # lock create = write 1: fail inside the changes
        failing = Counting(inner, fail_after=fail_after)
        shown = plan(res, failing, live.options(), env={})
        with pytest.raises(ProvisionError, match="injected failure") as err:
            apply(shown, res, failing, live.options(), lock_dir=live.lock_dir)
        assert "were applied; run apply again to complete" in str(err.value)
    live.apply(res)
    assert live.plan(res).empty
    assert (
        len(list(live.client.blocks.list(tags=[identity.block_tag(live.namespace, "team")]))) == 1
    )
    assert not list(live.client.blocks.list(tags=[identity.lock_tag(live.namespace)]))


def test_custom_tool_update_from_source(live):
    res = resources(live.agent("a", tools=[live.tool_name]), tools=[live.tool()])
    live.apply(res)
    changed = resources(
        live.agent("a", tools=[live.tool_name]),
        tools=[live.tool(SHOUT.replace("text.upper()", "text.upper() + '!'"))],
    )
    (change,) = live.plan(changed).changes
    assert change.address == f"tool {live.tool_name}"
    live.apply(changed)
    assert live.plan(changed).empty
    (found,) = live.client.tools.list(name=live.tool_name)
    assert "+ '!'" in found.source_code


def test_folder_with_file_uploaded_and_attached(live, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "guide.md").write_text("# Guide\nUse the shout tool.\n")
    name = f"docs-{live.suffix}"

    def folder_res():
        digest = hashlib.sha256((docs / "guide.md").read_bytes()).hexdigest()
        return resources(
            live.agent("a", folders=[name]),
            folders=[
                folder(name, str(tmp_path), {"docs/guide.md": digest}, embedding=live.embedding)
            ],
        )

    live.apply(folder_res())
    a = live.find("a")
    assert [s.name for s in a.sources] == [name]
    folder_id = a.sources[0].id
    assert [f.original_file_name for f in live.client.folders.files.list(folder_id)] == [
        "docs/guide.md"
    ]
    assert live.plan(folder_res()).empty
    (docs / "guide.md").write_text("# Guide v2\n")
    (change,) = live.plan(folder_res()).changes
    assert (change.action, change.kind, change.name) == ("update", "file", "docs/guide.md")
    live.apply(folder_res())
    assert live.plan(folder_res()).empty
    files = list(live.client.folders.files.list(folder_id))
    assert [f.original_file_name for f in files] == ["docs/guide.md"]


def test_concurrent_applies_from_two_machines(live, tmp_path):
    """Different lock dirs (two machines): the server lock block refuses the second apply."""
    res = resources(live.agent("a"))
    first = Paused(live.backend.inner)
    errors = []

    def run_first():
        try:
            apply(
                plan(res, first, live.options(), env={}),
                res,
                first,
                live.options(),
                lock_dir=tmp_path / "machine-1",
            )
        except Exception as exc:  # noqa: BLE001 - checked below
            errors.append(exc)

    thread = threading.Thread(target=run_first)
    thread.start()
    assert first.inside.wait(30)
    try:
        shown = live.plan(res)
        with pytest.raises(ProvisionError, match="another apply holds the server lock"):
            apply(shown, res, live.backend, live.options(), lock_dir=tmp_path / "machine-2")
    finally:
        first.release.set()
        thread.join(60)
    assert errors == []
    assert live.plan(res).empty
    assert len(list(live.client.agents.list(tags=[identity.agent_tag(live.namespace, "a")]))) == 1


def test_destroy_and_prune_delete_private_blocks_and_message_history_is_memory(live):
    from orchestrator.provision import destroy, destroy_plan

    res = resources(
        live.agent("a", memory_blocks=[block("persona", "p")]),
        live.agent("b", memory_blocks=[block("scratch", "s")]),
    )
    live.apply(res)
    a, b = live.find("a"), live.find("b")
    b_blocks = [x.id for x in b.blocks]
    live.client.agents.messages.create(b.id, messages=[{"role": "user", "content": "hi"}])
    shown = live.plan(resources(res.agents["a"]), prune=True)
    assert [(c.address, c.blocked) for c in shown.changes] == [
        ("agent b: block scratch", False),
        ("agent b", True),
    ]
    assert "message(s) of conversation history would be lost" in shown.changes[1].memory_loss
    with pytest.raises(ProvisionError, match="refusing to apply"):
        live.apply(resources(res.agents["a"]), prune=True)
    live.apply(resources(res.agents["a"]), prune=True, allow_memory_loss=True)
    for block_id in b_blocks:
        with pytest.raises(Exception, match="(?i)not found"):
            live.client.blocks.retrieve(block_id)
    a_blocks = [x.id for x in a.blocks]
    only_a = resources(res.agents["a"])
    gone = destroy_plan(only_a, live.backend, live.options())
    assert [c.address for c in gone.changes] == ["agent a: block persona", "agent a"]
    destroy(gone, only_a, live.backend, live.options(), lock_dir=live.lock_dir)
    for block_id in a_blocks:
        with pytest.raises(Exception, match="(?i)not found"):
            live.client.blocks.retrieve(block_id)


def test_tool_rules_and_settings_converge_on_letta(live):
    first = {"type": "run_first", "tool_name": live.tool_name}
    limit = {"type": "max_count_per_step", "tool_name": live.tool_name, "max_count_limit": 2}
    exits = {"type": "exit_loop", "tool_name": "conversation_search"}
    route = {
        "type": "conditional",
        "tool_name": live.tool_name,
        "child_output_mapping": {"LOUD": "conversation_search"},
    }

    def res(*rules, **settings):
        return resources(
            live.agent("a", tools=[live.tool_name], tool_rules=tuple(rules), settings=settings),
            tools=[live.tool()],
        )

    live.apply(res(first, limit, timezone="Europe/Paris", message_buffer_autoclear=True))
    found = live.find("a")
    assert found.timezone == "Europe/Paris" and found.message_buffer_autoclear is True
    kinds = {(r.type, r.tool_name) for r in found.tool_rules}
    assert {("run_first", live.tool_name), ("max_count_per_step", live.tool_name)} <= kinds
    assert live.plan(
        res(first, limit, timezone="Europe/Paris", message_buffer_autoclear=True)
    ).empty
    live.apply(res(first, exits, route, timezone="UTC"))
    assert live.plan(res(first, exits, route, timezone="UTC")).empty
    kinds = {(r.type, r.tool_name) for r in live.find("a").tool_rules}
    assert ("max_count_per_step", live.tool_name) not in kinds
    assert {("exit_loop", "conversation_search"), ("conditional", live.tool_name)} <= kinds
    live.apply(res())
    assert live.plan(res()).empty
    assert not {r.tool_name for r in live.find("a").tool_rules if r.type != "continue_loop"}


def test_archival_seeding_is_idempotent_on_letta(live):
    from orchestrator.spec.model import PassageSpec

    sla, refunds = PassageSpec("Our SLA is 4 hours.", ("faq",)), PassageSpec("Refunds: 5 days.")

    def res(*passages):
        return resources(live.agent("a", archival=passages))

    live.apply(res(sla, refunds))
    agent_id = live.find("a").id
    assert live.plan(res(sla, refunds)).empty
    live.apply(res(sla, refunds))
    found = list(live.client.agents.passages.list(agent_id))
    assert sorted(p.text for p in found) == ["Our SLA is 4 hours.", "Refunds: 5 days."]
    assert "faq" in next(p for p in found if p.text == sla.text).tags
    live.client.agents.passages.create(agent_id, text="the agent's own note")
    kept = live.plan(res(sla))
    assert kept.empty and kept.warnings
    live.apply(res(sla), prune=True, allow_memory_loss=True)
    assert sorted(p.text for p in live.client.agents.passages.list(agent_id)) == [
        "Our SLA is 4 hours.",
        "the agent's own note",
    ]


def test_sleeptime_agent_converges_and_goes_with_its_agent(live, tmp_path):
    from orchestrator.provision import destroy, destroy_plan
    from orchestrator.provision.export import Selection, export_resources

    res = resources(
        live.agent("a", memory_blocks=[block("persona", "p")], settings={"enable_sleeptime": True})
    )
    live.apply(res)
    assert live.plan(res).empty
    main = live.find("a")
    (companion,) = [
        x for x in live.client.agents.list(name=f"{main.name}-sleeptime", include=["agent.blocks"])
    ]
    blocks = {b.id for b in main.blocks} | {b.id for b in companion.blocks}
    exported = export_resources(
        live.backend, Selection(names=("a",), all=False), tmp_path / "out", live.namespace
    )
    assert exported.agents == ["a"]
    shown = destroy_plan(res, live.backend, live.options())
    assert [c.address for c in shown.changes][-1] == "agent a"
    assert len(shown.changes) == 1 + len(blocks)
    destroy(shown, res, live.backend, live.options(), lock_dir=live.lock_dir)
    assert not list(live.client.agents.list(name=companion.name))
    for block_id in blocks:
        with pytest.raises(Exception, match="(?i)not found"):
            live.client.blocks.retrieve(block_id)
