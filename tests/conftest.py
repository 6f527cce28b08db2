"""Shared pytest fixtures.

- `letta_stack` (session): the embedded Letta stack, brought up once through the same API
  as `orchestrate server start`. It reuses a running stack (CI starts one before the tests),
  uses $ORCHESTRATE_HOME or the repository's `.orchestrate`, and stops the stack at the end
  only if it started it (and ORCHESTRATE_KEEP_STACK=1 is not set: keep it warm between runs). Yields a `LettaStack` (base_url, model_url, model_handle,
  embedding_handle, home, model admin client: it sends the admin token from the state dir).
- `model_script` (function): set the local model's script for one test; the previous script
  is restored and counters/request log are reset afterwards. Call it with the rules; read
  what the model saw with `model_script.requests(agent_id=...)`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from orchestrator.server import stack
from orchestrator.server.model_endpoint.admin import ModelAdmin, admin_token

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class LettaStack:
    home: Path
    base_url: str
    model_url: str | None  # None when the stack uses an external model endpoint
    model_handle: str | None
    embedding_handle: str
    started_here: bool

    @property
    def model_admin(self) -> ModelAdmin:
        if not self.model_url:
            pytest.skip("the stack uses an external model endpoint: no scripting")
        # As a user's tool does: the token `server start` wrote into the state dir (none for
        # a stack started before the admin routes had one: then none is needed).
        return ModelAdmin(self.model_url, token=admin_token(self.home))


@pytest.fixture(scope="session")
def letta_stack() -> LettaStack:
    home = Path(os.environ.get("ORCHESTRATE_HOME") or REPO_ROOT / ".orchestrate")
    info = stack.start(home, progress=lambda msg: print(f"[letta_stack] {msg}", flush=True))
    started_here = not info.already_running
    yield LettaStack(
        home=info.home,
        base_url=info.base_url,
        model_url=info.model_url,
        model_handle=info.model_handle,
        embedding_handle=info.embedding_handle,
        started_here=started_here,
    )
    if started_here and os.environ.get("ORCHESTRATE_KEEP_STACK") != "1":
        stack.stop(home)


class _ModelScript:
    def __init__(self, admin: ModelAdmin):
        self.admin = admin

    def __call__(self, rules: list | dict) -> None:
        self.admin.set_script(rules)
        self.admin.reset()

    def requests(self, agent_id: str | None = None) -> list[dict]:
        return self.admin.requests(agent_id)


@pytest.fixture
def model_script(letta_stack: LettaStack):
    admin = letta_stack.model_admin
    previous = admin.script()
    admin.reset()
    helper = _ModelScript(admin)
    yield helper
    admin.set_script(previous)
    admin.reset()


@pytest.fixture(scope="session")
def temporal_address(letta_stack) -> str:
    """The Temporal dev server of the embedded stack (`server start --temporal` starts it in
    CI; otherwise it is started here, and stopped at the end). Skips without the extra."""
    pytest.importorskip("temporalio")
    from orchestrator.server import temporal_dev

    entry = temporal_dev.start(letta_stack.home)
    yield entry["address"]
    if not entry.get("already_running") and os.environ.get("ORCHESTRATE_KEEP_STACK") != "1":
        temporal_dev.stop_entry(entry)


@pytest.fixture
def pg_url(letta_stack):
    """A fresh database on the embedded stack's PostgreSQL, for run records (dropped after)."""
    psycopg = pytest.importorskip("psycopg")
    import secrets
    import urllib.parse

    from orchestrator.server import state
    from orchestrator.server.paths import StackPaths

    admin = state.read(StackPaths.resolve(letta_stack.home))["postgres"]["uri"]
    name = "orch_records_" + secrets.token_hex(4)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    parts = urllib.parse.urlsplit(admin)
    yield urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
