"""MemoryAdmin honours the whole shared `NewAgent`: blocks by id and tools by name are
attached at creation, as Letta does for the run backend."""

from __future__ import annotations

import pytest

from orchestrator.backends.admin_memory import MemoryAdmin
from orchestrator.backends.requests import NewAgent, NewBlock
from orchestrator.errors import NotFound


def test_shared_blocks_and_tools_are_attached_at_creation():
    admin = MemoryAdmin()
    team = admin.create_block(NewBlock("team", "notes"))
    agent = admin.create_agent(
        NewAgent(
            "a",
            "m",
            "e",
            memory_blocks=(NewBlock("persona", "p"),),
            block_ids=(team.id,),
            tools=("open_files",),
        )
    )
    assert [b.label for b in agent.blocks] == ["persona", "team"]
    assert "open_files" in [t.name for t in agent.tools]


def test_a_missing_shared_block_is_not_found_and_creates_nothing():
    admin = MemoryAdmin()
    with pytest.raises(NotFound):
        admin.create_agent(
            NewAgent(
                "a", "m", "e", memory_blocks=(NewBlock("persona", "p"),), block_ids=("block-9999",)
            )
        )
    assert admin.agents == {} and admin.blocks == {}
