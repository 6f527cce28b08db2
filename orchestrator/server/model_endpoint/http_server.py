"""The local model's HTTP server: routes, the request log and the admin endpoints.

Owns `ModelEndpoint` (script + log + global delay, thread-safe) and `make_server`. Routes
(each also without the `/v1` prefix): GET /v1/models, GET /v1/models/<id>,
POST /v1/chat/completions, POST /v1/embeddings, GET /health; admin: GET|POST /_admin/script,
POST /_admin/reset, GET /_admin/requests. Unknown routes answer 404 JSON; a handler error
answers 500 JSON and the server keeps serving. With an admin token (`server start` writes
one to STATE/model-admin.token and passes its path), the admin routes answer 401 to a caller
that does not send it as `Authorization: Bearer TOKEN` (they change what the model answers
and show the prompts it received, which may hold what agents were told).
"""

from __future__ import annotations

import collections
import hmac
import itertools
import json
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import openai_format as fmt
from .conversation import Conversation, default_reply
from .script import Decision, Script, ScriptError

DEFAULT_MODEL_ID = "orchestrate-local"
SERVICE = "orchestrate-model-endpoint"
SYSTEM_EXCERPT = 300
LOG_LIMIT = 2000
ADMIN_REFUSED = (
    "the admin routes need the token `orchestrate server start` wrote to "
    "STATE/model-admin.token, sent as 'Authorization: Bearer TOKEN'"
)


class ModelEndpoint:
    """The model's state: shared by all request threads."""

    def __init__(
        self,
        script: Script | None = None,
        delay: float = 0.0,
        model_id: str = DEFAULT_MODEL_ID,
        home: str | None = None,
        admin_token: str | None = None,
    ):
        self.script = script or Script()
        self.admin_token = admin_token  # None: the admin routes are open (in-process tests)
        self.home = home  # the state dir of the stack it belongs to (None: standalone)
        self.delay = delay
        self.model_id = model_id
        self.requests: collections.deque = collections.deque(maxlen=LOG_LIMIT)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def set_script(self, script: Script) -> None:
        with self._lock:
            self.script = script

    def reset(self) -> None:
        self.script.reset()
        with self._lock:
            self.requests.clear()

    def answer(self, body: dict) -> tuple[Conversation, Decision, int]:
        conv = Conversation.from_request(body)
        decision = self.script.decide(conv)
        n = next(self._ids)
        entry = {
            "n": n,
            "time": time.time(),
            "agent_id": conv.agent_id,
            "model": conv.model,
            "prompt": conv.prompt,
            "system_excerpt": conv.system[:SYSTEM_EXCERPT],
            "system": conv.system,
            "last_role": conv.last_role,
            "tool_rounds": conv.tool_rounds,
            "tools": list(conv.tools),
            "stream": conv.stream,
            "rule": decision.rule,
            "kind": decision.kind,
        }
        with self._lock:
            self.requests.append(entry)
        return conv, decision, n


def make_server(
    endpoint: ModelEndpoint, host: str = "127.0.0.1", port: int = 0
) -> ThreadingHTTPServer:
    handler = type("Handler", (_Handler,), {"endpoint": endpoint})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


class _Handler(BaseHTTPRequestHandler):
    endpoint: ModelEndpoint
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        print(f"{self.address_string()} {format % args}", flush=True)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        if path.startswith("/v1/"):
            path = path[3:]
        try:
            if path.startswith("/_admin") and not self._authorised():
                self.close_connection = True  # its body is left unread
                return self._json(401, fmt.error_body(401, ADMIN_REFUSED))
            body = self._body() if method == "POST" else {}
            route = _ROUTES.get((method, path))
            if route is None and method == "GET" and path.startswith("/models/"):
                route = _Handler._model
            if route is None:
                return self._json(
                    404,
                    {"error": {"message": f"no route {method} {self.path}", "type": "not_found"}},
                )
            route(self, body)
        except _BadRequest as exc:
            self._json(400, fmt.error_body(400, str(exc)))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:  # keep serving whatever a caller sends
            traceback.print_exc()
            self._json(500, fmt.error_body(500, f"local model failed: {exc!r}"))

    def _authorised(self) -> bool:
        token = self.endpoint.admin_token
        if not token:
            return True
        sent = self.headers.get("Authorization") or ""
        scheme, _, value = sent.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), token.encode()
        )

    def _body(self) -> dict | list:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            data = json.loads(raw) if raw.strip() else {}
        except ValueError as exc:
            raise _BadRequest(f"body is not JSON: {exc}") from None
        return data if isinstance(data, (dict, list)) else {}

    def _json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # --- OpenAI routes -------------------------------------------------------------------
    def _models(self, _body: Any) -> None:
        self._json(200, {"object": "list", "data": [self._model_card(self.endpoint.model_id)]})

    def _model(self, _body: Any) -> None:
        self._json(200, self._model_card(self.path.rstrip("/").rsplit("/", 1)[-1]))

    @staticmethod
    def _model_card(model_id: str) -> dict:
        return {"id": model_id, "object": "model", "created": 0, "owned_by": "orchestrate"}

    def _health(self, _body: Any) -> None:
        # `service` and `home` let `server start` elsewhere recognise orchestrate's own stack.
        self._json(
            200,
            {
                "status": "ok",
                "model": self.endpoint.model_id,
                "service": SERVICE,
                "home": self.endpoint.home,
            },
        )

    def _embeddings(self, body: Any) -> None:
        self._json(200, fmt.embeddings(_mapping(body)))

    def _chat(self, body: Any) -> None:
        body = _mapping(body)
        conv, decision, n = self.endpoint.answer(body)
        time.sleep(self.endpoint.delay + decision.delay)
        if decision.kind == "error":
            return self._json(decision.status, fmt.error_body(decision.status, decision.text))
        model = str(body.get("model") or self.endpoint.model_id)
        cid = f"chatcmpl-local-{n}"
        if decision.kind == "tool_call" and decision.tool_call is not None:
            call = fmt.tool_call_json(
                f"call_local_{n}", decision.tool_call.name, decision.tool_call.arguments
            )
            message: dict = {"role": "assistant", "content": None, "tool_calls": [call]}
            finish, completion_text = "tool_calls", call["function"]["arguments"]
        else:
            text = decision.text if decision.kind == "content" else default_reply(conv)
            message, finish, completion_text = {"role": "assistant", "content": text}, "stop", text
        use = fmt.usage(fmt.prompt_tokens(body), fmt.count_tokens(completion_text))
        if not conv.stream:
            return self._json(200, fmt.completion(cid, model, message, finish, use))
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        self._sse(fmt.chunks(cid, model, message, finish, use if include_usage else None))

    def _sse(self, events: Any) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        for event in events:
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    # --- admin routes --------------------------------------------------------------------
    def _get_script(self, _body: Any) -> None:
        self._json(200, {"rules": self.endpoint.script.source})

    def _post_script(self, body: Any) -> None:
        try:
            script = Script.parse(body)
        except ScriptError as exc:
            raise _BadRequest(f"invalid script: {exc}") from None
        self.endpoint.set_script(script)
        self._json(200, {"ok": True, "rules": len(script.rules)})

    def _reset(self, _body: Any) -> None:
        self.endpoint.reset()
        self._json(200, {"ok": True})

    def _requests(self, _body: Any) -> None:
        self._json(200, {"requests": list(self.endpoint.requests)})


class _BadRequest(Exception):
    pass


def _mapping(body: Any) -> dict:
    if not isinstance(body, dict):
        raise _BadRequest("body must be a JSON object")
    return body


_ROUTES = {
    ("GET", "/models"): _Handler._models,
    ("GET", "/health"): _Handler._health,
    ("POST", "/chat/completions"): _Handler._chat,
    ("POST", "/embeddings"): _Handler._embeddings,
    ("GET", "/_admin/script"): _Handler._get_script,
    ("POST", "/_admin/script"): _Handler._post_script,
    ("POST", "/_admin/reset"): _Handler._reset,
    ("GET", "/_admin/requests"): _Handler._requests,
}
