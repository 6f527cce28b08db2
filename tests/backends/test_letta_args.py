"""The one mapping of `NewBlock`/`NewAgent` onto letta-client arguments, used by both the run
and the provisioning backend: unset fields are left to the server, renames happen here."""

from __future__ import annotations

from orchestrator.backends.letta_args import agent_args, agent_update_args, block_args
from orchestrator.backends.requests import NewAgent, NewBlock


def test_a_block_sends_what_is_set_and_read_only_always():
    assert block_args(NewBlock("persona", "p")) == {
        "label": "persona",
        "value": "p",
        "read_only": False,
    }
    assert block_args(
        NewBlock(
            "team", "v", limit=50, description="d", read_only=True, tags=("t",), metadata={"k": 1}
        )
    ) == {
        "label": "team",
        "value": "v",
        "read_only": True,
        "limit": 50,
        "description": "d",
        "tags": ["t"],
        "metadata": {"k": 1},
    }


def test_an_agent_maps_renamed_fields_and_leaves_unset_ones_to_the_server():
    new = NewAgent(
        "n",
        "m",
        "e",
        system="s",
        context_window=9000,
        tags=("x",),
        memory_blocks=(NewBlock("persona", "p"),),
        block_ids=("block-1",),
        tools=("web_search",),
        tool_env={"KEY": "secret"},
    )
    assert agent_args(new) == {
        "name": "n",
        "model": "m",
        "embedding": "e",
        "tags": ["x"],
        "metadata": {},
        "memory_blocks": [{"label": "persona", "value": "p", "read_only": False}],
        "system": "s",
        "context_window_limit": 9000,
        "block_ids": ["block-1"],
        "tools": ["web_search"],
        "secrets": {"KEY": "secret"},
    }
    assert agent_args(NewAgent("n", "m", "e")) == {
        "name": "n",
        "model": "m",
        "embedding": "e",
        "tags": [],
        "metadata": {},
        "memory_blocks": [],
    }


def test_an_update_uses_the_same_names_as_a_create():
    assert agent_update_args(
        {"context_window": 5, "tool_env": {"K": "v"}, "tags": ("a",), "name": "z"}
    ) == {"context_window_limit": 5, "secrets": {"K": "v"}, "tags": ["a"], "name": "z"}


def test_tool_env_values_never_show_in_a_repr():
    assert "secret" not in repr(NewAgent("n", "m", "e", tool_env={"KEY": "secret"}))
