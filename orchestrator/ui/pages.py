"""What the web view's responses are made of: the Jinja environment (autoescaping, the
filters that format times, durations, tokens and cost) and the security headers every
response carries.

Owns `CSP`, `environment()` and `SecurityHeaders` (ASGI middleware).

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
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters.update(when=_when, seconds=_seconds, tokens=_tokens, usd=_usd,
                       shown=_shown_value)
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
    return value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False,
                                                           default=str)


class SecurityHeaders:
    """Security headers on every response (pages, fragments, streams, static files)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", CSP.encode()),
                            (b"x-content-type-options", b"nosniff"),
                            (b"referrer-policy", b"no-referrer"),
                            (b"x-frame-options", b"DENY")]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, sending)
