"""The in-memory backend: scripted replies and failures, history by otid, bookkeeping."""

from __future__ import annotations

import json

import pytest

from orchestrator.backends.base import JSON_MARKER, NewAgent, RunBackend
from orchestrator.backends.memory import MemoryBackend, placeholder_instance
from orchestrator.errors import BackendError, NotFound, ServerUnavailable


def make(label="a"):
    b = MemoryBackend()
    ref = b.create_agent(
        NewAgent("n", "m", "e", tags=("t1", "t2"), metadata={"orchestrate": {"agent": label}})
    )
    return b, ref


def test_it_implements_the_protocol():
    assert isinstance(MemoryBackend(), RunBackend)


def test_replies_in_order_then_the_last_repeats():
    b, ref = make()
    b.script(agent="a", replies=["one", "two"])
    assert [b.send(ref.id, "p", otid=str(i)).text for i in range(3)] == ["one", "two", "two"]


def test_failures_then_recovery():
    b, ref = make()
    b.script(fail=BackendError("boom", transient=True), times=2)
    for i in range(2):
        with pytest.raises(BackendError, match="boom"):
            b.send(ref.id, "p", otid=str(i))
    assert b.send(ref.id, "p", otid="ok").text.startswith("[memory] a: reply to: p")


def test_lost_reply_is_in_history():
    b, ref = make()
    b.script(lose_reply=True, replies=["kept"])
    with pytest.raises(ServerUnavailable):
        b.send(ref.id, "p", otid="o1")
    delivery = b.delivery(ref.id, "o1")
    assert delivery.received and delivery.reply.text == "kept"
    assert not b.delivery(ref.id, "nope").received


def test_default_answer_to_a_json_request_is_a_valid_instance():
    b, ref = make()
    schema = {
        "type": "object",
        "required": ["ok", "n", "tags"],
        "properties": {
            "ok": {"type": "boolean"},
            "n": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
    }
    prompt = f"judge\n\n{JSON_MARKER}\n```json\n{json.dumps(schema)}\n```"
    assert json.loads(b.send(ref.id, prompt, otid="o").text) == {"ok": True, "n": 0, "tags": []}


def test_find_by_all_tags_and_delete():
    b, ref = make()
    assert [a.id for a in b.find_agents(("t1", "t2"))] == [ref.id]
    assert b.find_agents(("t1", "t3")) == []
    b.delete_agent(ref.id)
    b.delete_agent(ref.id)  # already gone: fine
    with pytest.raises(NotFound):
        b.send(ref.id, "p", otid="o")


def test_server_down():
    b = MemoryBackend(up=False)
    with pytest.raises(ServerUnavailable, match="no Letta server answers at memory://"):
        b.check()


def test_minimal_instance_enum_and_const():
    assert placeholder_instance({"enum": ["x", "y"]}) == "x"
    assert placeholder_instance({"const": 3}) == 3
