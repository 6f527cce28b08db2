"""Making a backend for a Letta server: the one way the commands get one.

Owns `run_backend` (a `RunBackend` for runs: `letta.LettaBackend`) and `admin_backend` (an
`AdminBackend` for provisioning: `letta_admin.LettaAdmin`). Each imports its letta-client
module when called, never at import time: letta-client takes about a second to import, and
commands that need no server (`--version`, `validate`, `runs list`) must not pay for it. A
module of its own, beside the Protocols: `letta_admin` imports `admin` (the Protocol it
implements), so `admin` making a `LettaAdmin` would be an import cycle.

Must not: import letta_client (or a module that does) at import time, or decide anything.
"""

from __future__ import annotations

from orchestrator.backends.admin import AdminBackend
from orchestrator.backends.base import RunBackend


def run_backend(
    base_url: str, api_key: str | None = None, *, run_timeout: float | None = None
) -> RunBackend:
    """The letta-client run backend; `run_timeout` (seconds from now) bounds every call."""
    from orchestrator.backends.letta import LettaBackend

    return LettaBackend(base_url, api_key, run_timeout=run_timeout)


def admin_backend(base_url: str, api_key: str | None = None) -> AdminBackend:
    """The letta-client provisioning backend."""
    from orchestrator.backends.letta_admin import LettaAdmin

    return LettaAdmin(base_url, api_key)
