"""The local model endpoint over real HTTP (in-process server on a free port, urllib client)."""

from __future__ import annotations

import base64
import json
import math
import struct
import threading
import time
import urllib.error
import urllib.request

import jsonschema
import pytest

from orchestrator.server.model_endpoint import (
    JSON_SCHEMA_MARKER,
    ModelAdmin,
    ModelEndpoint,
    Script,
    make_server,
)

AGENT_A = "agent-aaaaaaaa-0000-0000-0000-000000000001"
AGENT_B = "agent-bbbbbbbb-0000-0000-0000-000000000002"


@pytest.fixture
def endpoint():
    state = ModelEndpoint()
    server = make_server(state, "127.0.0.1", 0)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    root = f"http://127.0.0.1:{server.server_port}"
    yield root, state
    server.shutdown()
    server.server_close()


def call(root: str, path: str, body=None, method: str | None = None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        root + path, data=data, method=method or ("POST" if data else "GET")
    )
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def chat(root: str, prompt: str, agent: str = AGENT_A, system: str = "", **extra):
    messages = [
        {
            "role": "system",
            "content": f"{system}\n<memory_metadata>\n- AGENT_ID: {agent}\n</memory_metadata>",
        },
        {"role": "user", "content": prompt},
        *extra.pop("more", []),
    ]
    status, text = call(
        root, "/v1/chat/completions", {"model": "orchestrate-local", "messages": messages, **extra}
    )
    return status, (json.loads(text) if not extra.get("stream") else text)


def content(resp: dict) -> str:
    return resp["choices"][0]["message"]["content"]


def test_models_and_health(endpoint):
    root, _ = endpoint
    status, text = call(root, "/v1/models")
    assert status == 200
    assert [m["id"] for m in json.loads(text)["data"]] == ["orchestrate-local"]
    assert json.loads(call(root, "/health")[1])["status"] == "ok"
    assert json.loads(call(root, "/v1/models/orchestrate-local")[1])["id"] == "orchestrate-local"


def test_default_reply_names_agent_and_echoes_prompt_with_usage(endpoint):
    root, _ = endpoint
    status, resp = chat(root, "Research   quantum\ncomputing for engineers")
    assert status == 200
    assert (
        content(resp)
        == f"[local-model] {AGENT_A}: reply to: Research quantum computing for engineers"
    )
    assert resp["choices"][0]["finish_reason"] == "stop"
    usage = resp["usage"]
    assert usage["completion_tokens"] == len(content(resp).split())
    assert (
        usage["prompt_tokens"] > 5
        and usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    )


def test_default_reply_truncates_long_prompts(endpoint):
    root, _ = endpoint
    _, resp = chat(root, "word " * 500)
    assert len(content(resp).split("reply to: ", 1)[1]) == 200


def test_json_schema_marker_gets_a_valid_minimal_instance(endpoint):
    root, _ = endpoint
    schema = {
        "type": "object",
        "required": ["approved", "feedback"],
        "properties": {
            "approved": {"type": "boolean"},
            "feedback": {"type": "string", "minLength": 3},
            "score": {"type": "integer", "minimum": 1, "maximum": 5},
            "tags": {"type": "array", "items": {"enum": ["a", "b"]}},
        },
    }
    prompt = (
        f"Review the draft.\n\n{JSON_SCHEMA_MARKER}\n```json\n{json.dumps(schema, indent=2)}\n```"
    )
    _, resp = chat(root, prompt)
    value = json.loads(content(resp))
    jsonschema.validate(value, schema)
    assert value == {
        "approved": True,
        "feedback": "[local-model] feedback: Review the draft.",
        "score": 1,
        "tags": ["a"],
    }


def test_response_format_json_schema_is_honoured(endpoint):
    root, _ = endpoint
    schema = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "t", "schema": schema}}
    _, resp = chat(root, "Name it", response_format=fmt)
    assert json.loads(content(resp)) == {"title": "[local-model] title: Name it"}
    _, resp = chat(root, "Any object", response_format={"type": "json_object"})
    assert json.loads(content(resp)) == {}


def test_marker_with_broken_schema_falls_back_to_echo(endpoint):
    root, _ = endpoint
    _, resp = chat(root, f"Q\n{JSON_SCHEMA_MARKER}\n```json\n{{not json\n```")
    assert content(resp).startswith("[local-model]")


def test_scripted_rules_first_match_wins_with_per_agent_replies(endpoint):
    root, _ = endpoint
    admin = ModelAdmin(root + "/v1")
    assert (
        admin.set_script(
            [
                {"agent_id": AGENT_B, "reply": "b-only"},
                {
                    "system_contains": "Strict editor",
                    "json": {"approved": False, "feedback": "tighten"},
                },
                {"prompt_regex": r"^draft \d+", "replies": ["one", "two", "three"]},
                {"prompt_contains": "draft", "reply": "never reached for regex matches"},
            ]
        )
        == 4
    )
    assert content(chat(root, "anything", agent=AGENT_B)[1]) == "b-only"
    assert json.loads(content(chat(root, "review", system="persona: Strict editor")[1])) == {
        "approved": False,
        "feedback": "tighten",
    }
    assert [content(chat(root, "draft 1")[1]) for _ in range(4)] == ["one", "two", "three", "three"]
    # another agent has its own position in the same rule
    assert content(chat(root, "draft 9", agent="agent-cccc")[1]) == "one"
    assert content(chat(root, "a draft")[1]) == "never reached for regex matches"
    assert content(chat(root, "unmatched")[1]).startswith("[local-model]")
    admin.reset()  # counters restart
    assert content(chat(root, "draft 1")[1]) == "one"


def test_error_rule_fails_n_times_then_falls_through(endpoint):
    root, _ = endpoint
    admin = ModelAdmin(root)
    admin.set_script(
        [
            {
                "prompt_contains": "flaky",
                "error": {"status": 503, "message": "overloaded", "times": 2},
            },
            {"prompt_contains": "flaky", "reply": "finally"},
        ]
    )
    first, second, third = (chat(root, "flaky call") for _ in range(3))
    assert first[0] == second[0] == 503
    assert first[1]["error"]["message"] == "overloaded"
    assert third == (200, third[1]) and content(third[1]) == "finally"
    kinds = [r["kind"] for r in admin.requests()]
    assert kinds == ["error", "error", "content"]


def test_delay_rule_and_global_delay(endpoint):
    root, state = endpoint
    ModelAdmin(root).set_script([{"prompt_contains": "slow", "delay": 0.3}])
    t0 = time.monotonic()
    _, resp = chat(root, "slow please")
    assert time.monotonic() - t0 >= 0.3
    assert content(resp).startswith("[local-model]")  # a delay-only rule falls through
    state.delay = 0.2
    t0 = time.monotonic()
    chat(root, "fast")
    assert time.monotonic() - t0 >= 0.2


def test_tool_call_then_content_after_the_tool_result(endpoint):
    root, _ = endpoint
    call_args = {"label": "human", "new_string": "Likes tea"}
    ModelAdmin(root).set_script(
        [
            {
                "prompt_contains": "remember",
                "tool_call": {"name": "memory_insert", "arguments": call_args},
                "reply": "Noted.",
            }
        ]
    )
    _, resp = chat(root, "remember this")
    message = resp["choices"][0]["message"]
    assert resp["choices"][0]["finish_reason"] == "tool_calls"
    assert message["content"] is None
    (tool_call,) = message["tool_calls"]
    assert tool_call["function"]["name"] == "memory_insert"
    assert json.loads(tool_call["function"]["arguments"]) == call_args
    after_tool = [
        {"role": "assistant", "content": None, "tool_calls": [tool_call]},
        {"role": "tool", "tool_call_id": tool_call["id"], "content": "ok"},
    ]
    _, resp = chat(root, "remember this", more=after_tool)
    assert content(resp) == "Noted."


def test_streaming_sends_chunks_usage_and_done(endpoint):
    root, _ = endpoint
    status, text = chat(
        root, "stream this answer please", stream=True, stream_options={"include_usage": True}
    )
    assert status == 200
    events = [line[len("data: ") :] for line in text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text_out = "".join(
        c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]
    )
    assert text_out == f"[local-model] {AGENT_A}: reply to: stream this answer please"
    assert len([c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]) > 1
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == len(
        text_out.split()
    )


def test_streaming_tool_call(endpoint):
    root, _ = endpoint
    ModelAdmin(root).set_script(
        [{"tool_call": {"name": "memory_replace", "arguments": {"label": "x"}}}]
    )
    _, text = chat(root, "go", stream=True)
    chunks = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[1]["tool_calls"][0]["function"]["name"] == "memory_replace"
    assert json.loads(deltas[2]["tool_calls"][0]["function"]["arguments"]) == {"label": "x"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_embeddings_are_deterministic_unit_vectors(endpoint):
    root, _ = endpoint
    status, text = call(
        root,
        "/v1/embeddings",
        {"model": "text-embedding-3-small", "input": ["red apples", "red apples", "blue sky"]},
    )
    assert status == 200
    vectors = [d["embedding"] for d in json.loads(text)["data"]]
    assert len(vectors[0]) == 1536
    assert vectors[0] == vectors[1]
    assert math.isclose(sum(v * v for v in vectors[0]), 1.0, rel_tol=1e-9)
    _, text = call(root, "/v1/embeddings", {"input": "red apples", "dimensions": 64})
    assert len(json.loads(text)["data"][0]["embedding"]) == 64


def test_embeddings_shared_words_are_closer():
    from orchestrator.server.model_endpoint.openai_format import embed

    a, b, c = (
        embed("tea with milk", 256),
        embed("milk tea", 256),
        embed("quantum physics lecture", 256),
    )

    def dot(x, y):
        return sum(p * q for p, q in zip(x, y, strict=True))

    assert dot(a, b) > dot(a, c)


def test_embeddings_base64_as_the_openai_sdk_asks(endpoint):
    root, _ = endpoint
    _, text = call(
        root, "/v1/embeddings", {"input": "hello", "encoding_format": "base64", "dimensions": 8}
    )
    raw = base64.b64decode(json.loads(text)["data"][0]["embedding"])
    floats = struct.unpack("<8f", raw)
    assert math.isclose(sum(f * f for f in floats), 1.0, rel_tol=1e-5)


def test_unknown_route_bad_json_and_bad_script(endpoint):
    root, _ = endpoint
    status, text = call(root, "/v1/responses", {"x": 1})
    assert status == 404 and "no route" in json.loads(text)["error"]["message"]
    req = urllib.request.Request(root + "/v1/chat/completions", data=b"{nope", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=5)
    assert err.value.code == 400
    with pytest.raises(ValueError, match="rule 0: unknown key 'promt_contains'"):
        ModelAdmin(root).set_script([{"promt_contains": "x", "reply": "y"}])


def test_odd_requests_do_not_crash(endpoint):
    root, _ = endpoint
    status, text = call(
        root,
        "/v1/chat/completions",
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "parts"}]}]},
    )
    assert status == 200 and "reply to: parts" in text
    status, text = call(root, "/v1/chat/completions", {})
    assert status == 200 and "unknown-agent" in text
    status, _ = call(root, "/v1/chat/completions", [1, 2])
    assert status == 400


def test_request_log_records_what_the_model_saw(endpoint):
    root, _ = endpoint
    admin = ModelAdmin(root)
    chat(root, "first prompt", system="persona: Thorough analyst")
    chat(root, "second prompt", agent=AGENT_B)
    (entry,) = admin.requests(agent_id=AGENT_A)
    assert entry["prompt"] == "first prompt"
    assert "Thorough analyst" in entry["system_excerpt"]
    assert entry["kind"] == "default" and entry["last_role"] == "user"
    assert len(admin.requests()) == 2
    admin.reset()
    assert admin.requests() == []


def test_script_loads_from_yaml_file_via_cli_entry(tmp_path):
    path = tmp_path / "script.yaml"
    path.write_text("- prompt_contains: hi\n  replies: [a, b]\n- reply: fallback\n")
    script = Script.from_text(path.read_text())
    assert [r.replies for r in script.rules] == [("a", "b"), ("fallback",)]


def test_marker_is_the_runners_contract(endpoint):
    """The runner's JSON request suffix gets a reply the runner accepts."""
    from orchestrator.backends.base import JSON_MARKER
    from orchestrator.run import jsonout

    assert JSON_MARKER == JSON_SCHEMA_MARKER
    root, _ = endpoint
    schema = {
        "type": "object",
        "required": ["approved", "feedback"],
        "properties": {"approved": {"type": "boolean"}, "feedback": {"type": "string"}},
    }
    _, resp = chat(root, "Review:\nA draft." + jsonout.request_suffix(schema))
    value = jsonout.parse_reply(content(resp))
    jsonout.check(value, schema)
    assert value["approved"] is True
