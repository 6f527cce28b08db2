"""Typed change payloads (issue 18): each kind of change carries the data apply needs as its
own frozen type, and apply performs a change only with the data its kind needs."""

from __future__ import annotations

import dataclasses

import pytest

from orchestrator.backends.admin import NewMcpServer
from orchestrator.backends.admin_memory import MemoryAdmin
from orchestrator.errors import ProvisionError
from orchestrator.provision import Change, ChangeSet
from orchestrator.provision.apply_changes import apply_changes
from orchestrator.provision.payloads import McpServerData, McpToolData, PassageData


def test_a_change_without_the_data_its_kind_needs_is_refused_before_any_write():
    backend = MemoryAdmin()
    changes = ChangeSet("default", "memory://", (Change("create", "tool", "shout", "tool"),))
    with pytest.raises(ProvisionError, match=r"no handler for create tool \(a bug\)"):
        apply_changes(changes, backend)
    assert [t.name for t in backend.list_tools()] == [t.name for t in MemoryAdmin().list_tools()]


def test_a_change_with_another_kinds_data_is_refused():
    backend = MemoryAdmin()
    wrong = Change(
        "create", "agent_passage", "p", "attach", agent="a", data=McpToolData("server", "tool")
    )
    with pytest.raises(ProvisionError, match="no handler for create agent_passage"):
        apply_changes(ChangeSet("default", "memory://", (wrong,)), backend)


def test_payloads_are_frozen_and_never_show_what_they_carry():
    passage = PassageData("the private text", ("t",))
    server = McpServerData(NewMcpServer("s", "stdio", env={"KEY": "hunter2"}), {"env": {}})
    assert "private text" not in repr(passage)
    assert "hunter2" not in repr(server)
    with pytest.raises(dataclasses.FrozenInstanceError):
        passage.text = "other"  # type: ignore[misc]


def test_the_data_is_not_part_of_what_the_plan_shows_or_its_fingerprint():
    bare = Change("create", "agent_passage", "p", "attach", agent="a")
    typed = dataclasses.replace(bare, data=PassageData("text", ("t",)))
    assert bare == typed and bare.to_dict() == typed.to_dict()
    assert ChangeSet("n", "u", (bare,)).fingerprint() == ChangeSet("n", "u", (typed,)).fingerprint()
