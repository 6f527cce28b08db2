"""Every setting orchestrate reads from the environment, declared once (issue 18).

Owns: the name, default, meaning and kind of each variable, the old names still accepted
(with a deprecation notice, once per process), and the settings table in docs/settings.md,
generated from this module (`python3 -m orchestrator.settings --markdown`; a test keeps
the file in step). Code reads a setting with `value(NAME)` (or `int_value`), never with
`os.environ` directly: tests/test_settings.py fails on an ORCHESTRATE_* name read anywhere
that is not declared here.
Must not: import anything of orchestrate's (every layer imports this), do I/O beyond the
environment and stderr, or print a secret's value.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    name: str
    default: str  # as documented ("" when none)
    doc: str
    area: str  # which part reads it: stack, runs, provisioning, temporal, traces, cli
    secret: bool = False  # never printed, logged or recorded
    aliases: tuple[str, ...] = ()  # old names, accepted with a deprecation notice


_ALL = (
    Setting(
        "ORCHESTRATE_HOME",
        "the per-user state dir",
        "state dir: the embedded stack, run records, prices, keys (also `--home`); "
        "see docs/local-stack.md#where-state-lives",
        "stack",
    ),
    Setting("ORCHESTRATE_LETTA_PORT", "8283", "the embedded Letta's port", "stack"),
    Setting("ORCHESTRATE_MODEL_PORT", "8284", "the local model endpoint's port", "stack"),
    Setting(
        "ORCHESTRATE_MODEL_SCRIPT",
        "",
        "a rules file for the local model (docs/model-endpoint.md)",
        "stack",
    ),
    Setting(
        "ORCHESTRATE_OPENAI_API_BASE",
        "",
        "use this OpenAI-compatible endpoint instead "
        "of the local model (which is then not started)",
        "stack",
    ),
    Setting(
        "ORCHESTRATE_OPENAI_API_KEY",
        "$OPENAI_API_KEY",
        "that endpoint's key (passed to Letta's environment only, never written to disk)",
        "stack",
        secret=True,
    ),
    Setting("ORCHESTRATE_START_TIMEOUT", "240", "seconds `server start` waits for Letta", "stack"),
    Setting(
        "ORCHESTRATE_MODEL_ADMIN_TOKEN",
        "STATE/model-admin.token",
        "the token the local model's /_admin routes want",
        "stack",
        secret=True,
    ),
    Setting(
        "ORCHESTRATE_MODEL",
        "the server's first openai-proxy/ model",
        "the default model handle: for agents that declare no model, in runs (also "
        "`--model`) and in `plan`/`apply` (also `--default-model`); with an external "
        "model endpoint, the handle `server start` reports",
        "runs",
        aliases=("ORCHESTRATE_DEFAULT_MODEL", "ORCHESTRATE_MODEL_HANDLE"),
    ),
    Setting(
        "ORCHESTRATE_EMBEDDING",
        "openai/text-embedding-3-small",
        "the default embedding handle, in runs and in `plan`/`apply` (also `--default-embedding`)",
        "runs",
        aliases=("ORCHESTRATE_DEFAULT_EMBEDDING",),
    ),
    Setting(
        "ORCHESTRATE_RECORDS_URL",
        "STATE/runs.db (SQLite)",
        "run records on "
        "PostgreSQL (`postgresql://...`): what Temporal workers on other machines share",
        "runs",
        secret=True,
    ),
    Setting(
        "ORCHESTRATE_PRICES",
        "STATE/prices.yaml, else the shipped table",
        "a prices file for cost and budgets (docs/running.md)",
        "runs",
    ),
    Setting(
        "ORCHESTRATE_TEMPORAL",
        "",
        "`1`: `server start` also starts the Temporal dev server (also `--temporal`)",
        "temporal",
    ),
    Setting(
        "ORCHESTRATE_TEMPORAL_PORT",
        "7233",
        "the Temporal dev server's gRPC port (its HTTP API uses the next one)",
        "temporal",
    ),
    Setting(
        "ORCHESTRATE_TEMPORAL_ADDRESS",
        "127.0.0.1:7233",
        "the Temporal server runs and workers use (also `--temporal-address`)",
        "temporal",
    ),
    Setting(
        "ORCHESTRATE_TEMPORAL_KEY",
        "STATE/temporal.key",
        "the AES-256-GCM key that seals workflow payloads (base64; every worker needs the same)",
        "temporal",
        secret=True,
    ),
    Setting(
        "ORCHESTRATE_TRACES",
        "",
        "`1`: `server start` also starts the Phoenix trace viewer (also `--traces`)",
        "traces",
    ),
    Setting(
        "ORCHESTRATE_PHOENIX_PORT",
        "6006",
        "the trace viewer's UI, REST API and OTLP/HTTP port (its OTLP/gRPC port is the next one)",
        "traces",
    ),
    Setting("ORCHESTRATE_DEBUG", "", "`1`: an unexpected error prints its traceback", "cli"),
)
SETTINGS: dict[str, Setting] = {s.name: s for s in _ALL}
# Read by orchestrate, owned by others (documented in the same table).
EXTERNAL: dict[str, str] = {
    "LETTA_BASE_URL": "another Letta server to use instead of the embedded one (also `--base-url`)",
    "LETTA_API_KEY": "its API key (also `--api-key`); never printed",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "export run traces over OTLP to this endpoint (also "
    "`run --otel`)",
    "OTEL_EXPORTER_OTLP_TIMEOUT": "the trace exporter's timeout (orchestrate's default: 2 s)",
    "XDG_STATE_HOME": "where the per-user state dir lives ($XDG_STATE_HOME/orchestrate)",
}
_warned: set[str] = set()


def value(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The setting's value from the environment (None when unset or empty). An old name is
    still read when the new one is unset, with a deprecation notice on stderr once per
    process."""
    setting = SETTINGS[name]  # KeyError: an undeclared setting is a bug
    env = os.environ if environ is None else environ
    found = env.get(name)
    if found:
        return found
    for alias in setting.aliases:
        old = env.get(alias)
        if old:
            if alias not in _warned:
                _warned.add(alias)
                print(
                    f"orchestrate: {alias} is deprecated and will be removed in a later "
                    f"release: set {name} instead",
                    file=sys.stderr,
                )
            return old
    return None


def int_value(name: str, default: int, environ: Mapping[str, str] | None = None) -> int:
    """An integer setting; a value that is not an integer raises ValueError naming it."""
    raw = value(name, environ)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, not {raw!r}") from None


def markdown() -> str:
    """docs/settings.md: one table of every setting, grouped by area."""
    lines = [
        "# Settings",
        "",
        "Every environment variable orchestrate reads. Generated from "
        "`orchestrator/settings.py` (`python3 -m orchestrator.settings --markdown > "
        "docs/settings.md`); a test keeps this file in step. A command-line option, "
        "where there is one, wins over its variable. `STATE` is the state dir.",
        "",
        "| Variable | Default | Meaning |",
        "|---|---|---|",
    ]
    for area in ("stack", "runs", "temporal", "traces", "cli"):
        for s in (s for s in _ALL if s.area == area):
            extra = " (secret: never printed)" if s.secret else ""
            old = (
                (
                    f"; the old name{'s' if len(s.aliases) > 1 else ''} "
                    + ", ".join(f"`{a}`" for a in s.aliases)
                    + " still work"
                    + ("" if len(s.aliases) > 1 else "s")
                    + ", with a deprecation notice"
                )
                if s.aliases
                else ""
            )
            lines.append(f"| `{s.name}` | {s.default or '–'} | {s.doc}{extra}{old} |")
    lines += [
        "",
        "Read by orchestrate, defined by others:",
        "",
        "| Variable | Meaning |",
        "|---|---|",
    ]
    lines += [f"| `{name}` | {doc} |" for name, doc in EXTERNAL.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] != ["--markdown"]:
        sys.exit("usage: python3 -m orchestrator.settings --markdown")
    sys.stdout.write(markdown())
