"""`--otel` and `--otel-content` for `run` and `resume`: the run's `TraceSettings`.

Owns the two flags (kept in the click context, so the commands' signatures stay as they
are) and where spans go when no OTEL_EXPORTER_OTLP_* variable says: the trace viewer of
this state dir if it runs (`orchestrate server start --traces`), else the OTLP default.

Must not: import opentelemetry (run.tracing decides; run.otel is imported by the runner).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from orchestrator.cli.common import state_home
from orchestrator.run import tracing

_KEY = "orchestrate.otel"


def _keep(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    ctx.meta.setdefault(_KEY, {})[param.name] = value
    return value


def otel_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option(
        "--otel-content",
        is_flag=True,
        expose_value=False,
        callback=_keep,
        help="With traces: also export prompts and outputs (secrets masked; default: "
        f"${tracing.CONTENT_VAR}=true).",
    )(fn)
    fn = click.option(
        "--otel",
        is_flag=True,
        expose_value=False,
        callback=_keep,
        help="Export OpenTelemetry traces over OTLP/HTTP (default: on when "
        "OTEL_EXPORTER_OTLP_ENDPOINT is set; else to `server start --traces`'s viewer).",
    )(fn)
    return fn


def trace_settings() -> tracing.TraceSettings:
    flags = click.get_current_context().meta.get(_KEY, {})
    wanted = tracing.settings(bool(flags.get("otel")), bool(flags.get("otel_content")))
    if not wanted.on or tracing.env_endpoint():
        return wanted
    from orchestrator.server.phoenix import running_endpoint

    return tracing.TraceSettings(True, wanted.content, running_endpoint(state_home()))
