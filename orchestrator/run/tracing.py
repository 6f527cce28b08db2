"""Whether a run exports OpenTelemetry traces, decided without importing OpenTelemetry.

Owns `TraceSettings` and `settings(...)`: traces are on with `--otel`, or when the standard
OTEL_EXPORTER_OTLP_ENDPOINT / OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (unless
OTEL_SDK_DISABLED=true); prompts and outputs are exported only with `--otel-content` or
OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true (the GenAI instrumentations' own
switch), and even then masked by the run's Redactor. `run.otel`, the only module that
imports the SDK, is imported by the runner only when `on` (a run without traces imports
nothing of OpenTelemetry and pays nothing for it).

Must not: import opentelemetry.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
CONTENT_VAR = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class TraceSettings:
    on: bool = False
    content: bool = False  # prompts and outputs (masked) on the spans
    # where spans go: a full OTLP/HTTP traces URL; None: the OTEL_EXPORTER_OTLP_* variables
    # (or the OTLP default, http://localhost:4318/v1/traces)
    endpoint: str | None = None


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() in _TRUE


def settings(
    flag: bool = False,
    content: bool = False,
    endpoint: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> TraceSettings:
    env = os.environ if environ is None else environ
    if _true(env.get("OTEL_SDK_DISABLED")):
        return TraceSettings()
    on = flag or any(env.get(name, "").strip() for name in ENDPOINT_VARS)
    if not on:
        return TraceSettings()
    return TraceSettings(True, content or _true(env.get(CONTENT_VAR)), endpoint)


def env_endpoint(environ: Mapping[str, str] | None = None) -> str | None:
    """The traces endpoint the OTEL_EXPORTER_OTLP_* variables name, if any."""
    env = os.environ if environ is None else environ
    traces = env.get(ENDPOINT_VARS[0], "").strip()
    if traces:
        return traces
    base = env.get(ENDPOINT_VARS[1], "").strip()
    return base.rstrip("/") + "/v1/traces" if base else None
