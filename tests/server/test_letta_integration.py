"""The embedded stack for real: Letta 0.16.8 on PostgreSQL, driven by letta_client, answered by
the local model endpoint (default answers, scripts, tool calls, streaming, injected errors)."""

from __future__ import annotations

import json
import urllib.request
import uuid

import jsonschema
import pytest
from letta_client import APIStatusError, Letta

from orchestrator.server import stack
from orchestrator.server.model_endpoint import JSON_SCHEMA_MARKER

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(letta_stack):
    return Letta(base_url=letta_stack.base_url, timeout=120)


@pytest.fixture
def make_agent(client, letta_stack):
    created = []

    def make(persona: str = "Thorough research analyst", **extra):
        agent = client.agents.create(
            name=f"test-{uuid.uuid4().hex[:8]}",
            model=letta_stack.model_handle,
            embedding=letta_stack.embedding_handle,
            memory_blocks=[
                {"label": "persona", "value": persona},
                {"label": "human", "value": "Name: Ada"},
            ],
            tags=["orchestrate-test"],
            **extra,
        )
        created.append(agent.id)
        return agent

    yield make
    for agent_id in created:
        client.agents.delete(agent_id)


def send(client, agent_id: str, text: str):
    return client.agents.messages.create(
        agent_id=agent_id, messages=[{"role": "user", "content": text}]
    )


def assistant_texts(response) -> list[str]:
    return [m.content for m in response.messages if m.message_type == "assistant_message"]


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.load(resp)


def test_letta_lists_the_local_model_and_embedding_handles(letta_stack):
    llm = [m["handle"] for m in get_json(f"{letta_stack.base_url}/v1/models/")]
    embedding = [m["handle"] for m in get_json(f"{letta_stack.base_url}/v1/models/embedding")]
    assert letta_stack.model_handle in llm
    assert letta_stack.embedding_handle in embedding


def test_status_and_base_url_of_the_running_stack(letta_stack):
    status = stack.status(letta_stack.home)
    assert status.running and status.base_url == letta_stack.base_url
    letta = status.component("letta")
    assert letta.healthy and letta.rss_bytes > 50_000_000
    assert status.component("postgres").pid
    assert stack.embedded_base_url(letta_stack.home) == letta_stack.base_url


def test_agent_reply_comes_from_the_local_model(client, make_agent, model_script):
    agent = make_agent()
    response = send(client, agent.id, "Research quantum computing for engineers.")
    expected = f"[local-model] {agent.id}: reply to: Research quantum computing for engineers."
    assert assistant_texts(response) == [expected]
    assert response.usage.completion_tokens == len(expected.split())
    assert response.usage.prompt_tokens > 0
    (seen,) = model_script.requests(agent.id)
    assert seen["prompt"] == "Research quantum computing for engineers."
    assert (
        "Thorough research analyst" in seen["system"] and f"AGENT_ID: {agent.id}" in seen["system"]
    )
    assert "memory_insert" in seen["tools"]
    assert (
        client.agents.blocks.retrieve("persona", agent_id=agent.id).value
        == "Thorough research analyst"
    )


def test_scripted_json_reply_keyed_on_the_persona_block(client, make_agent, model_script):
    editor, writer = make_agent("Strict editor"), make_agent("Clear technical writer")
    model_script(
        [
            {
                "system_contains": "Strict editor",
                "json": {"approved": False, "feedback": "cite sources"},
            }
        ]
    )
    assert json.loads(assistant_texts(send(client, editor.id, "Review: draft"))[0]) == {
        "approved": False,
        "feedback": "cite sources",
    }
    assert assistant_texts(send(client, writer.id, "Write it"))[0].startswith("[local-model]")


def test_prompt_with_a_json_schema_gets_a_valid_instance(client, make_agent):
    schema = {
        "type": "object",
        "required": ["approved", "feedback"],
        "properties": {"approved": {"type": "boolean"}, "feedback": {"type": "string"}},
    }
    agent = make_agent("Strict editor")
    prompt = f"Review:\nthe draft\n\n{JSON_SCHEMA_MARKER}\n```json\n{json.dumps(schema)}\n```"
    (reply,) = assistant_texts(send(client, agent.id, prompt))
    value = json.loads(reply)
    jsonschema.validate(value, schema)
    assert value["approved"] is True and "Review: the draft" in value["feedback"]


def test_scripted_tool_call_makes_the_agent_write_its_memory(client, make_agent, model_script):
    agent = make_agent()
    model_script(
        [
            {
                "prompt_contains": "remember",
                "tool_call": {
                    "name": "memory_insert",
                    "arguments": {"label": "human", "new_string": "Likes green tea"},
                },
                "reply": "Noted.",
            }
        ]
    )
    response = send(client, agent.id, "Please remember that I like green tea")
    kinds = [m.message_type for m in response.messages]
    assert kinds == ["tool_call_message", "tool_return_message", "assistant_message"]
    assert assistant_texts(response) == ["Noted."]
    assert response.usage.step_count == 2
    assert (
        client.agents.blocks.retrieve("human", agent_id=agent.id).value
        == "Name: Ada\nLikes green tea"
    )
    seen = model_script.requests(agent.id)
    assert [(r["kind"], r["tool_rounds"], r["last_role"]) for r in seen] == [
        ("tool_call", 0, "user"),
        ("content", 1, "tool"),
    ]


def test_streaming_tokens_through_letta(client, make_agent, model_script):
    agent = make_agent()
    stream = client.agents.messages.create(
        agent_id=agent.id,
        messages=[{"role": "user", "content": "stream a longer answer please"}],
        streaming=True,
        stream_tokens=True,
    )
    events = list(stream)
    text = "".join(e.content for e in events if e.message_type == "assistant_message")
    assert text == f"[local-model] {agent.id}: reply to: stream a longer answer please"
    assert any(e.message_type == "usage_statistics" for e in events)
    assert [r["stream"] for r in model_script.requests(agent.id)] == [True]


def test_one_injected_503_is_retried_and_recovers(client, make_agent, model_script):
    agent = make_agent()
    model_script(
        [
            {
                "prompt_contains": "flaky",
                "error": {"status": 503, "message": "overloaded", "times": 1},
                "reply": "recovered",
            }
        ]
    )
    assert assistant_texts(send(client, agent.id, "a flaky call")) == ["recovered"]
    assert [r["kind"] for r in model_script.requests(agent.id)] == ["error", "content"]


def test_a_persistent_model_error_surfaces_as_an_api_error(client, make_agent, model_script):
    agent = make_agent()
    model_script(
        [
            {
                "prompt_contains": "broken",
                "error": {"status": 503, "message": "model down", "times": 1000},
            }
        ]
    )
    with pytest.raises(APIStatusError) as err:
        send(client, agent.id, "broken model")
    assert err.value.status_code >= 500 and "model down" in str(err.value)
    assert len(model_script.requests(agent.id)) >= 2  # Letta's client retried before giving up
