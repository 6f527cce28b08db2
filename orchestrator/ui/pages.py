"""What the web view's responses are made of: the Jinja environment (autoescaping, the
filters that format times, durations, tokens and cost) and the security headers every
response carries.

Owns `CSP`, `environment()`, `SecurityHeaders` and `HostCheck` (ASGI middleware).

Must not: read records or decide what a page shows (ui.app, ui.queries do).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jinja2
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orchestrator.run.cost import Cost, usd_text

TEMPLATES = Path(__file__).resolve().parent / "templates"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
    )
    env.filters.update(when=_when, seconds=_seconds, tokens=_tokens, usd=_usd, shown=_shown_value)
    return env


def _when(ts: float | None) -> str:
    return "" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def _seconds(value: float | None) -> str:
    if value is None:
        return ""
    if value < 60:
        return f"{value:.1f} s"
    minutes, secs = divmod(int(value), 60)
    return f"{minutes} min {secs} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def _tokens(value: int | None) -> str:
    return f"{int(value or 0):,}"


def _usd(cost: Cost | float | None) -> str:
    if cost is None:
        return ""
    if isinstance(cost, (int, float)):
        return usd_text(float(cost))
    if cost.known:
        return usd_text(cost.usd)
    return f"≥ {usd_text(cost.usd)} (some tokens unpriced)" if cost.usd else "unknown"


def _shown_value(value: Any) -> str:
    if value is None:
        return ""
    return (
        value
        if isinstance(value, str)
        else json.dumps(value, indent=2, ensure_ascii=False, default=str)
    )


class SecurityHeaders:
    """Security headers on every response (pages, fragments, streams, static files)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, sending)


def host_of(header: str) -> str:
    """The host of a Host header, without its port: `[::1]:8290` -> `::1`."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class HostCheck:
    """Answers 400 to a request whose Host is not one this server is reached by: a page on
    another site that rebinds its DNS name to 127.0.0.1 cannot read the records. `None`
    (bound to every address) accepts any Host. Hosts are compared as `--host` gives them
    (`::1`), whatever form the header uses (Starlette's TrustedHostMiddleware matches an
    IPv6 host only in its bracketed form, `[::1]`)."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str] | None):
        self.app, self.allowed = app, allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.allowed is not None:
            headers = dict(scope.get("headers") or [])
            if host_of(headers.get(b"host", b"").decode("latin-1")) not in self.allowed:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 400,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                    }
                )
                await send({"type": "http.response.body", "body": b"Invalid host header"})
                return
        await self.app(scope, receive, send)
