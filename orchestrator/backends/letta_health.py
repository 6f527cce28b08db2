"""Is the server at the URL a Letta server? The health check both backends run first.

Owns `check_health`: `GET /v1/health/` with a short timeout, read at most `MAX_BODY` bytes,
and accept only what Letta answers (0.16.8: `{"version": "0.16.8", "status": "ok"}`, JSON).
Anything else (an HTML page, another API's JSON, a 404) is `NotLetta`, whose message says
what the server answered: status, content type and the first characters of the body, with
the API key masked (a foreign server may echo a request header).

Must not: retry, or report a dead server as "not Letta" (connection refused stays
`ServerUnavailable`, a timeout or a 5xx stays a transient `BackendError`).
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import letta_client

from orchestrator.backends.letta_errors import NotLetta, translated
from orchestrator.errors import BackendError

MAX_BODY = 64 * 1024  # a health answer is ~40 bytes; a page that never ends is not read
SHOWN = 80  # characters of a foreign answer quoted in the error
FIX = "check --base-url / LETTA_BASE_URL"
PASS_ON = (401, 403, 408, 409, 429)  # Letta's own refusals: letta_errors maps them


def check_health(client: Any, base_url: str, timeout: float, secret: str | None = None) -> str:
    """The server's version if it answers like Letta; else `NotLetta` or a `BackendError`.
    `client` is a `letta_client.Letta`; `secret` (the API key) is masked in what is quoted."""
    late = (
        f"health check: the server at {base_url} accepted the connection but did not "
        f"answer within {round(timeout, 1):g}s (is it a Letta server? is it overloaded?)"
    )
    with translated("health check", base_url):
        try:
            with client.with_streaming_response.health(timeout=timeout) as response:
                raw = response.http_response
                body = _head(raw, time.monotonic() + timeout)
        except (letta_client.APITimeoutError, httpx.TimeoutException):
            raise BackendError(late, transient=True) from None
        except httpx.TransportError as exc:  # while reading the body: the call itself is mapped
            raise BackendError(
                f"health check: the connection to {base_url} broke while "
                f"reading its answer ({type(exc).__name__})",
                transient=True,
            ) from None
        except letta_client.APIStatusError as exc:
            if exc.status_code >= 500 or exc.status_code in PASS_ON:
                raise
            raise NotLetta(
                not_letta(base_url, _answer(exc.response, exc.response.content, secret))
            ) from None
        if body is None:
            raise BackendError(late, transient=True)
    version = _version(raw, body)
    if version is None:
        raise NotLetta(not_letta(base_url, _answer(raw, body, secret)))
    return version


def not_letta(base_url: str, answer: str) -> str:
    return f"{base_url}: this is not a Letta server (it answered {answer}); {FIX}"


def _head(response: httpx.Response, deadline: float) -> bytes | None:
    """At most MAX_BODY bytes of the body; None if it trickles in past the deadline."""
    data = b""
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) >= MAX_BODY:
            return data[:MAX_BODY]
        if time.monotonic() > deadline:
            return None
    return data


def _version(response: httpx.Response, body: bytes) -> str | None:
    if response.status_code != 200 or "json" not in response.headers.get("content-type", ""):
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    version, status = data.get("version"), data.get("status")
    if isinstance(version, str) and version and isinstance(status, str):
        return version
    return None


def _answer(response: httpx.Response, body: bytes, secret: str | None) -> str:
    kind = response.headers.get("content-type", "").split(";")[0].strip() or "no content type"
    text = body.decode("utf-8", errors="replace")
    if secret:
        text = text.replace(secret, "***")
    text = " ".join(text.split())
    if not text:
        return f"HTTP {response.status_code}, {kind}, with an empty body"
    shown = text if len(text) <= SHOWN else text[:SHOWN] + "..."
    return f"HTTP {response.status_code}, {kind}: {shown!r}"
