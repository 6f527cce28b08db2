from __future__ import annotations

import pytest

from orchestrator.backends.admin_memory import MemoryAdmin
from orchestrator.provision import DiffOptions, apply, plan

from .helpers import Counting


class Harness:
    """plan/apply against an in-memory server, counting writes."""

    def __init__(self, lock_dir) -> None:
        self.server = MemoryAdmin()
        self.backend = Counting(self.server)
        self.lock_dir = lock_dir

    def plan(self, res, **opts):
        env = opts.pop("env", {})
        return plan(res, self.backend, DiffOptions(**opts), env=env)

    def apply(self, res, allow_memory_loss=False, env=None, **opts):
        options = DiffOptions(**opts)
        shown = plan(res, self.backend, options, env=env or {})
        self.backend.writes.clear()
        apply(
            shown,
            res,
            self.backend,
            options,
            lock_dir=self.lock_dir,
            allow_memory_loss=allow_memory_loss,
            env=env or {},
        )
        return shown

    def agent(self, name, namespace="default"):
        found = self.server.list_agents(tags=[f"orchestrate:id={namespace}/{name}"])
        assert len(found) == 1, found
        return found[0]


@pytest.fixture
def h(tmp_path) -> Harness:
    return Harness(tmp_path / "locks")
