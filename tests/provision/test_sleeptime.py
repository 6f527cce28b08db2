"""Sleep-time agents (`enable_sleeptime`, issue 14): Letta makes a companion agent that
shares the agent's blocks; it is part of the agent (not an unmanaged agent to export or keep
blocks for), and deleting the agent deletes the blocks of both."""

from __future__ import annotations

from orchestrator.provision import DiffOptions, destroy, destroy_plan
from orchestrator.provision.export import Selection, export_resources

from .helpers import agent, block, resources


def sleepy(enabled=True):
    return resources(
        agent("a", memory_blocks=[block("persona", "p")], settings={"enable_sleeptime": enabled})
    )


def companion(h):
    (found,) = [
        row["agent"] for row in h.server.agents.values() if row["agent"].name == "a-sleeptime"
    ]
    return h.server.get_agent(found.id)


def test_enable_sleeptime_creates_a_companion_and_converges(h):
    shown = h.apply(sleepy())
    assert ("enable_sleeptime", True) in [(f.field, f.new) for c in shown.changes for f in c.fields]
    assert h.agent("a").settings["enable_sleeptime"] is True
    assert {b.label for b in companion(h).blocks} == {"persona", "memory_persona"}
    assert h.plan(sleepy()).empty


def test_the_companion_is_not_exported_as_an_agent_of_its_own(h, tmp_path):
    h.apply(sleepy())
    report = export_resources(h.backend, Selection(all=True), tmp_path / "out")
    assert report.agents == ["a"]


def test_destroy_deletes_the_blocks_of_the_agent_and_its_companion(h):
    h.apply(sleepy())
    blocks = {b.id for b in h.agent("a").blocks} | {b.id for b in companion(h).blocks}
    shown = destroy_plan(sleepy(), h.backend, DiffOptions())
    assert [c.address for c in shown.changes] == [
        "agent a: block persona",
        "agent a: block memory_persona",
        "agent a",
    ]
    assert "sleep-time agent a-sleeptime" in shown.changes[1].note
    destroy(shown, sleepy(), h.backend, DiffOptions(), lock_dir=h.lock_dir)
    assert not h.server.agents and not blocks & set(h.server.blocks)


def test_disabling_says_that_letta_keeps_the_companion(h):
    h.apply(sleepy())
    (change,) = h.plan(sleepy(False)).changes
    assert "Letta keeps the sleep-time agent a-sleeptime" in change.note
    h.apply(sleepy(False))
    assert h.plan(sleepy(False)).empty
