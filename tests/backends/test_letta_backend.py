"""LettaBackend without a server: letta-client failures map onto our errors, and replies,
usage and message history are read correctly (a fake HTTP transport plays the server)."""

from __future__ import annotations

import json

import httpx
import pytest

from orchestrator.backends.letta import LettaBackend
from orchestrator.errors import BackendError, NotFound, ServerUnavailable

AGENT = "agent-11111111-1111-4111-8111-111111111111"


def backend(handler) -> LettaBackend:
    return LettaBackend(
        "http://letta.test",
        "sk-secret-key",
        http_client=httpx.Client(transport=httpx.MockTransport(handler)),
    )


def status(code: int, body: dict):
    return lambda request: httpx.Response(code, json=body)


@pytest.mark.parametrize(
    "code,transient",
    [(500, True), (503, True), (429, True), (408, True), (400, False), (422, False)],
)
def test_http_errors_map_to_backend_errors(code, transient):
    b = backend(status(code, {"error": {"message": "LLM failed", "detail": "model said no"}}))
    with pytest.raises(BackendError) as err:
        b.send(AGENT, "hi", otid="o1")
    assert err.value.transient is transient
    assert err.value.status == code
    assert str(err.value) == f"message to agent {AGENT}: HTTP {code}: model said no"


def test_not_found_is_its_own_error():
    with pytest.raises(NotFound):
        backend(status(404, {"detail": "Agent not found"})).send(AGENT, "hi", otid="o1")


def test_delete_of_a_missing_agent_is_not_an_error():
    backend(status(404, {"detail": "gone"})).delete_agent(AGENT)


def test_connection_refused_names_the_url_and_how_to_start_a_server():
    def refuse(request):
        raise httpx.ConnectError("refused")

    with pytest.raises(ServerUnavailable) as err:
        backend(refuse).check()
    assert str(err.value) == (
        "health check: no Letta server answers at http://letta.test "
        "(start the embedded one with `orchestrate server start`, "
        "or pass --base-url)"
    )
    assert err.value.transient


def test_send_passes_otid_and_model_override_and_reads_usage():
    seen = {}

    def handler(request):
        seen.update(json.loads(request.content))
        return httpx.Response(
            200,
            json={
                "messages": [
                    {
                        "id": "m1",
                        "message_type": "reasoning_message",
                        "reasoning": "hmm",
                        "date": "2026-01-01T00:00:00Z",
                    },
                    {
                        "id": "m2",
                        "message_type": "assistant_message",
                        "content": "hello",
                        "date": "2026-01-01T00:00:00Z",
                    },
                ],
                "stop_reason": {"stop_reason": "end_turn", "message_type": "stop_reason"},
                "usage": {
                    "message_type": "usage_statistics",
                    "prompt_tokens": 11,
                    "completion_tokens": 3,
                    "step_count": 1,
                    "total_tokens": 14,
                },
            },
        )

    reply = backend(handler).send(AGENT, "hi", otid="orch-1", model="openai/gpt-x")
    assert (reply.text, reply.prompt_tokens, reply.completion_tokens, reply.step_count) == (
        "hello",
        11,
        3,
        1,
    )
    assert seen["messages"] == [{"role": "user", "content": "hi", "otid": "orch-1"}]
    assert seen["override_model"] == "openai/gpt-x"


def _message(kind, otid, content, n):
    data = {
        "id": f"message-{n}",
        "message_type": kind,
        "otid": otid,
        "date": "2026-01-01T00:00:00Z",
        "content": content,
    }
    return data


def test_delivery_finds_the_reply_that_followed_the_otid():
    history = [
        _message("user_message", "a", "first", 1),
        _message("assistant_message", "x", "answer one", 2),
        _message("user_message", "b", "second", 3),
        _message("assistant_message", "y", "answer two", 4),
    ]
    b = backend(lambda request: httpx.Response(200, json=history))
    assert b.delivery(AGENT, "a").reply.text == "answer one"
    assert b.delivery(AGENT, "b").reply.text == "answer two"


def test_delivery_of_a_message_never_received_asks_whether_the_agent_is_busy():
    def handler(request):
        if "/runs" in request.url.path:
            return httpx.Response(
                200, json=[{"id": "run-1", "status": "created", "agent_id": AGENT}]
            )
        return httpx.Response(200, json=[_message("user_message", "a", "first", 1)])

    d = backend(handler).delivery(AGENT, "zzz")
    assert (d.received, d.reply, d.busy) == (False, None, True)
    d = backend(handler).delivery(AGENT, "a")
    assert (d.received, d.reply) == (True, None)


def test_the_api_key_never_shows_in_repr():
    assert "sk-secret" not in repr(backend(status(200, {})))


def test_a_backend_for_another_run_shares_the_connections_not_the_deadline():
    # A batch makes one backend per item: each keeps its own run deadline, all share one
    # HTTP client (a new one per item cost ~20% of a batch's CPU in TLS and pool setup).
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json=[])

    base = LettaBackend(
        "http://letta.test", http_client=httpx.Client(transport=httpx.MockTransport(answer))
    )
    short, long = base.for_run(run_timeout=5), base.for_run(run_timeout=500)
    assert short._letta is base._letta is long._letta
    assert base._limits.remaining() is None
    assert 0 < short._limits.remaining() <= 5 < 400 < long._limits.remaining() <= 500
    assert short._limits.call() <= 5  # its calls are bounded by its own deadline
    short.find_agents(("run:x",))
    long.find_agents(("run:y",))
    assert len(seen) == 2  # both through the one client
