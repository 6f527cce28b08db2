"""The orchestrate side of the run benchmarks: generated no-op pipelines, run in memory
with durable run records, and the orchestrator's own time measured directly.

Owns `chain_yaml(n)` / `fan_out_yaml(n)` (the same shapes as peers.py), `Timed` (wraps a
backend and adds up the wall time spent inside it, all threads) and `time_ours(...)`: one
`start_run` through the in-memory backend with run records on a file, returning the wall
time and the time inside the backend; own overhead = wall - backend.

Must not: import the peers (so it runs without the `bench` extra).
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from orchestrator.backends.memory import MemoryBackend
from orchestrator.compile import Plan, compile_pipeline, fastrender, templates
from orchestrator.run.records import Records
from orchestrator.run.runner import RunOptions, start_run
from orchestrator.spec import load_pipeline_text

HEADER = "apiVersion: orchestrate/v1\nkind: Pipeline\nmetadata: {name: bench}\n"
INPUTS = "inputs: {t: {type: string, default: x}}\n"


def chain_yaml(n: int) -> str:
    steps = "  s0: {agent: a, prompt: 'start {{ inputs.t }}'}\n" + "".join(
        f"  s{i}: {{agent: a, prompt: 'next after {{{{ steps.s{i - 1}.output[:40] }}}}'}}\n"
        for i in range(1, n)
    )
    return HEADER + INPUTS + "agents: {a: {}}\nsteps:\n" + steps


def fan_out_yaml(n: int, replicas: int = 4) -> str:
    """`n` independent steps on one agent with `replicas` copies, then a join reading all."""
    steps = "".join(
        f"  s{i}: {{agent: a, prompt: 'part {i} of {{{{ inputs.t }}}}'}}\n" for i in range(n)
    )
    join = " ".join(f"{{{{ steps.s{i}.output }}}}" for i in range(n))
    return (
        HEADER
        + INPUTS
        + f"agents: {{a: {{replicas: {replicas}}}}}\nsteps:\n"
        + steps
        + f"  join: {{agent: a, prompt: 'join {join}'}}\n"
    )


def plan_of(text: str) -> Plan:
    return compile_pipeline(load_pipeline_text(text, "bench.yaml"))


class Timed:
    """Wraps a backend; adds up the wall time spent inside its calls (all threads)."""

    def __init__(self, inner: Any):
        self.inner, self.base_url = inner, inner.base_url
        self.spent, self._lock = 0.0, threading.Lock()

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self.inner, name)
        if not callable(fn):
            return fn

        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self.spent += time.perf_counter() - began

        return timed


def warm_up() -> None:
    """One small run, so that first-use costs (imports, the Jinja environment, SQLite's
    first file) are not charged to the first pipeline measured."""
    time_ours(plan_of(chain_yaml(20)))
    time_ours(plan_of(fan_out_yaml(20)))


def time_ours(
    plan: Plan,
    *,
    max_parallel: int = 4,
    backend: Any = None,
    records: Records | None = None,
    close_timed: bool = False,
) -> tuple[float, float]:
    """(wall seconds, seconds inside the backend) of one run with durable records. Template
    caches are emptied first: a real run renders each of its templates for the first time.
    `close_timed`: the records' close (SQLite's last WAL checkpoint, an fsync) counts in the
    wall time, as it does for `orchestrate run`; a long run pays its checkpoints while it
    runs, a short one pays its only checkpoint there, so a comparison of run lengths must
    count it (else short runs look cheaper per step on a machine whose fsync is slow)."""
    fastrender.program.cache_clear()
    fastrender.expression.cache_clear()
    templates.compiled.cache_clear()
    timed = Timed(backend if backend is not None else MemoryBackend())
    own_records = records is None
    if records is None:
        records = Records(Path(tempfile.mkdtemp(prefix="bench-")) / "runs.db")
    began = time.perf_counter()
    out = start_run(plan, {}, timed, records, options=RunOptions(max_parallel=max_parallel))
    if own_records and close_timed:
        records.close()
    wall = time.perf_counter() - began
    if own_records and not close_timed:
        records.close()
    if out.status != "succeeded":
        raise SystemExit(f"bench run failed: {out.error}")
    return wall, timed.spent
