"""The provisioning use cases the CLI calls: plan, apply, destroy.

Owns the sequence read state -> diff -> (lock -> re-plan -> verify -> apply). Apply executes
the ChangeSet the user was shown: under the lock the plan is computed again and must have the
same fingerprint, otherwise the server changed in between and apply stops without writing
(optimistic check). An empty plan takes no lock and makes zero writes.

Must not: render or parse CLI options (cli/provision_cmds.py), or import letta_client.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from orchestrator.backends.admin import AdminBackend
from orchestrator.errors import ProvisionError
from orchestrator.provision.apply_changes import ApplyResult, apply_changes, check_memory_loss
from orchestrator.provision.changes import Change, ChangeSet
from orchestrator.provision.desired import DiffOptions
from orchestrator.provision.diff_engine import destroy_diff, diff
from orchestrator.provision.lock import apply_lock
from orchestrator.provision.state import read_state
from orchestrator.spec.model import ResourceSet

STALE_PLAN = (
    "the server changed since this plan was made (another apply, or a hand edit); "
    "nothing was written: run plan/apply again"
)


def plan(
    resources: ResourceSet,
    backend: AdminBackend,
    options: DiffOptions,
    env: Mapping[str, str] | None = None,
) -> ChangeSet:
    """What apply would do; changes nothing."""
    # Passages only matter for agents a plan may delete: the undeclared ones, under --prune.
    state = read_state(
        backend,
        options.namespace,
        lambda name: options.prune and name not in resources.agents,
        models=not (options.default_model and options.default_embedding),
        seeded=lambda name: (
            name in resources.agents and (options.prune or bool(resources.agents[name].archival))
        ),
    )
    return diff(resources, state, options, os.environ if env is None else env)


def destroy_plan(resources: ResourceSet, backend: AdminBackend, options: DiffOptions) -> ChangeSet:
    state = read_state(
        backend,
        options.namespace,
        lambda name: name in resources.agents,
        seeded=lambda name: name in resources.agents,
    )
    return destroy_diff(resources, state, options)


def _execute(
    shown: ChangeSet,
    replan: Callable[[], ChangeSet],
    backend: AdminBackend,
    namespace: str,
    lock_dir: Path,
    allow_memory_loss: bool,
    progress: Callable[[Change], None],
    verb: str = "apply",
) -> ApplyResult:
    if shown.empty:
        return ApplyResult()
    check_memory_loss(shown, allow_memory_loss, verb)  # before taking the lock: no write at all
    with apply_lock(backend, namespace, lock_dir):
        if replan().fingerprint() != shown.fingerprint():
            raise ProvisionError(STALE_PLAN)
        return apply_changes(
            shown, backend, allow_memory_loss=allow_memory_loss, progress=progress, verb=verb
        )


def apply(
    shown: ChangeSet,
    resources: ResourceSet,
    backend: AdminBackend,
    options: DiffOptions,
    *,
    lock_dir: Path,
    allow_memory_loss: bool = False,
    env: Mapping[str, str] | None = None,
    progress: Callable[[Change], None] = lambda _c: None,
) -> ApplyResult:
    """Apply `shown` (the plan the user saw) if the server still calls for exactly it."""
    return _execute(
        shown,
        lambda: plan(resources, backend, options, env),
        backend,
        options.namespace,
        lock_dir,
        allow_memory_loss,
        progress,
    )


def destroy(
    shown: ChangeSet,
    resources: ResourceSet,
    backend: AdminBackend,
    options: DiffOptions,
    *,
    lock_dir: Path,
    allow_memory_loss: bool = False,
    progress: Callable[[Change], None] = lambda _c: None,
) -> ApplyResult:
    return _execute(
        shown,
        lambda: destroy_plan(resources, backend, options),
        backend,
        options.namespace,
        lock_dir,
        allow_memory_loss,
        progress,
        verb="destroy",
    )
