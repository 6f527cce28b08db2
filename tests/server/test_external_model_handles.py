"""`server start` with an external model endpoint lists the model handles Letta offers for
it (issue 15 item 9), read from the real embedded Letta here."""

from __future__ import annotations

import dataclasses

import pytest

from orchestrator.cli.server_cmds import model_lines
from orchestrator.server.info import StackInfo

pytestmark = pytest.mark.integration


def _info(letta_stack, **changes) -> StackInfo:
    info = StackInfo(
        home=letta_stack.home,
        base_url=letta_stack.base_url,
        model_url=None,
        model_base_url="https://models.example/v1",
        model_handle=None,
        embedding_handle=letta_stack.embedding_handle,
        already_running=True,
        installed=False,
        seconds=0.0,
        pids={},
    )
    return dataclasses.replace(info, **changes)


def test_external_endpoint_lists_letta_s_handles(letta_stack):
    lines = model_lines(_info(letta_stack))
    assert lines[0] == "  model endpoint:  https://models.example/v1 (external)"
    # this Letta's OPENAI_API_BASE is the local model: its one openai-proxy handle
    assert lines[1] == "  model handles:   openai-proxy/orchestrate-local"
    assert "ORCHESTRATE_MODEL," in lines[2]  # one name for the default model (issue 18)


def test_a_chosen_handle_is_shown_and_no_hint(letta_stack):
    lines = model_lines(_info(letta_stack, model_handle="openai-proxy/orchestrate-local"))
    assert lines[1] == "  model handle:    openai-proxy/orchestrate-local"
    assert len(lines) == 3


def test_a_server_that_cannot_be_asked_says_so(letta_stack):
    lines = model_lines(_info(letta_stack, base_url="http://127.0.0.1:9"))
    assert lines[1].startswith("  model handles:   (could not list them: ")


def test_the_local_endpoint_is_not_asked(letta_stack):
    lines = model_lines(
        _info(
            letta_stack,
            base_url="http://127.0.0.1:9",
            model_url="http://127.0.0.1:8284/v1",
            model_handle="openai-proxy/orchestrate-local",
        )
    )
    assert lines == [
        "  model endpoint:  https://models.example/v1",
        "  model handle:    openai-proxy/orchestrate-local",
    ]
