"""Shared plumbing for CLI commands: error rendering, exit codes, where state lives, which
Letta server to talk to.

Must not: hold command logic. Anything a command does beyond parsing and rendering belongs
in run/, provision/ or server/.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from orchestrator import home, settings
from orchestrator.errors import ExitCode, OrchestrateError, ServerUnavailable, SpecError

NO_SERVER_HINT = (
    "no Letta server to talk to: start the embedded one with `orchestrate server start`, "
    "or point at another with --base-url / LETTA_BASE_URL"
)


def state_home() -> Path:
    """The state directory (embedded stack, run records, locks): see orchestrator.home."""
    return home.state_home()


ENV_RECORDS_URL = "ORCHESTRATE_RECORDS_URL"


def records_location() -> str:
    """Where run records live: $ORCHESTRATE_RECORDS_URL (a `postgresql://` URL, for Temporal
    workers on other machines), else STATE/runs.db (SQLite, the default)."""
    return os.environ.get(ENV_RECORDS_URL) or str(state_home() / "runs.db")


def resolve_base_url(option: str | None) -> str:
    """--base-url, else LETTA_BASE_URL, else the running embedded stack; else a clear error."""
    if option:
        return option.rstrip("/")
    env = os.environ.get("LETTA_BASE_URL")
    if env:
        return env.rstrip("/")
    from orchestrator.server.stack import embedded_base_url

    where = home.resolve_home()
    url = embedded_base_url(where.path)
    if url:
        return url.rstrip("/")
    # which state dir was looked in: a stack started from another one is not found here
    raise ServerUnavailable(
        f"{NO_SERVER_HINT} (no embedded stack runs for the state dir {where.describe()})"
    )


def resolve_api_key(option: str | None) -> str | None:
    return option or os.environ.get("LETTA_API_KEY") or None


def fail(message: str, code: ExitCode = ExitCode.USER_ERROR) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(int(code))


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn known errors into a clean message and a stable exit code; anything else is a
    bug, reported as such with exit 3 (the traceback only with ORCHESTRATE_DEBUG=1)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            code = fn(*args, **kwargs)
        except SpecError as exc:
            for issue in exc.issues:
                click.echo(issue.labelled(), err=True)
            sys.exit(int(exc.exit_code))
        except OrchestrateError as exc:
            fail(str(exc), exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            fail("interrupted", ExitCode.CANCELLED)
        except Exception as exc:  # noqa: BLE001 - last line of defence, by design
            if settings.value("ORCHESTRATE_DEBUG"):
                traceback.print_exc()
            fail(
                f"unexpected {type(exc).__name__}: {exc} (a bug: please report it; "
                "ORCHESTRATE_DEBUG=1 shows the traceback)",
                ExitCode.UNEXPECTED,
            )
        sys.exit(int(code or 0))

    return wrapper


def server_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--base-url and --api-key, worded once for every command that talks to Letta."""
    fn = click.option("--api-key", help="Letta API key (default: LETTA_API_KEY).")(fn)
    return click.option(
        "--base-url", help="Letta server URL (default: LETTA_BASE_URL, else the embedded stack)."
    )(fn)
