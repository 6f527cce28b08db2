"""Benchmark of the run layer: does the orchestrator keep the backend busy, and what does it
add on top of it? Measured directly: wall time minus the time the backend was working.

    python bench/bench_run.py                       # in-memory backend, model delay scripted
    python bench/bench_run.py --letta http://127.0.0.1:8283 --model-url http://127.0.0.1:8284
                                                    # the real stack, the model slowed by --delay

Two runs, each with durable run records:
- a fan-out (`--width` parallel steps on their own agents, then a join), the model taking
  `--delay` s per answer: `busy` is the time at least one backend call was in flight (the
  union of the calls' intervals, so parallel calls count once); the orchestrator's own time
  on the critical path is wall - busy. Budget: wall <= 1.10 x busy (issue 7's 10%).
- a sequential chain of `--steps` steps, no delay: own overhead per step = (wall - time
  inside the backend) / steps. Budget: own <= 0.10 x backend time (the orchestrator adds at
  most 10% to the backend's round trips; in memory there is no round trip to compare with,
  so bench_peers.py gates that case against LangGraph).
Both budgets are ratios measured in this run; absolute figures are printed for the README.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ours import HEADER, INPUTS, chain_yaml, plan_of, warm_up  # noqa: E402

from orchestrator.backends.memory import MemoryBackend  # noqa: E402
from orchestrator.run.records import Records  # noqa: E402
from orchestrator.run.runner import RunOptions, start_run  # noqa: E402

WALL_BUDGET, OVERHEAD_BUDGET = 0.10, 0.10


class Intervals:
    """Wraps a backend; keeps every call's (start, end) and their total duration."""

    def __init__(self, inner: Any):
        self.inner, self.base_url = inner, inner.base_url
        self.calls: list[tuple[float, float]] = []
        self._lock = threading.Lock()

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
                    self.calls.append((began, time.perf_counter()))

        return timed

    def inside(self) -> float:
        return sum(end - start for start, end in self.calls)

    def busy(self) -> float:
        """How long at least one call was in flight."""
        total, reach = 0.0, float("-inf")
        for start, end in sorted(self.calls):
            if end > reach:
                total += end - max(start, reach)
                reach = end
        return total


def fan_out_yaml(width: int) -> str:
    agents = "".join(f"  a{i}: {{}}\n" for i in range(width + 1))
    steps = "".join(
        f"  s{i}: {{agent: a{i}, prompt: 'part {i} of {{{{ inputs.t }}}}'}}\n" for i in range(width)
    )
    join = " ".join(f"{{{{ steps.s{i}.output }}}}" for i in range(width))
    return (
        HEADER
        + INPUTS
        + "agents:\n"
        + agents
        + "steps:\n"
        + steps
        + f"  join: {{agent: a{width}, prompt: 'join {join}'}}\n"
    )


def run(text: str, backend: Intervals, records: Records, max_parallel: int) -> float:
    plan = plan_of(text)
    began = time.perf_counter()
    out = start_run(plan, {}, backend, records, options=RunOptions(max_parallel=max_parallel))
    wall = time.perf_counter() - began
    if out.status != "succeeded":
        raise SystemExit(f"bench run failed: {out.error}")
    return wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--letta", help="Letta base URL (default: the in-memory backend)")
    parser.add_argument("--model-url", help="the local model endpoint (to script the delay)")
    parser.add_argument("--delay", type=float, default=0.3, help="model delay in seconds")
    parser.add_argument("--width", type=int, default=6, help="parallel branches")
    parser.add_argument("--steps", type=int, default=0, help="chain length (default 200/20)")
    args = parser.parse_args()
    records = Records(Path(tempfile.mkdtemp(prefix="bench-run-")) / "runs.db")
    if args.letta:
        from orchestrator.backends.letta import LettaBackend
        from orchestrator.server.model_endpoint.admin import ModelAdmin

        admin = ModelAdmin(args.model_url) if args.model_url else None
        make = lambda: Intervals(LettaBackend(args.letta))  # noqa: E731
        length = args.steps or 20
    else:
        warm_up()
        admin, memory = None, MemoryBackend()
        make = lambda: Intervals(memory)  # noqa: E731
        length = args.steps or 200

    if admin:
        admin.set_script([{"delay": args.delay}])
    else:
        memory.script(prompt_contains="part", delay=args.delay)
        memory.script(prompt_contains="join", delay=args.delay)
    backend = make()
    wall = run(fan_out_yaml(args.width), backend, records, max_parallel=args.width)
    busy = backend.busy()
    excess = wall / busy - 1
    print(
        f"fan-out {args.width}+1 steps, model delay {args.delay:.2f}s: wall {wall:.3f}s, "
        f"backend busy {busy:.3f}s, orchestrator on the critical path {wall - busy:.3f}s "
        f"({excess:+.1%}, budget {WALL_BUDGET:.0%})"
    )

    if admin:
        admin.set_script([])
    else:
        memory.rules.clear()
    backend = make()
    wall = run(chain_yaml(length), backend, records, max_parallel=1)
    inside = backend.inside()
    own = wall - inside
    print(
        f"chain of {length} steps: wall {wall:.3f}s, in backend {inside:.3f}s "
        f"({inside / length * 1000:.2f} ms/step), orchestrator {own / length * 1000:.2f} "
        f"ms/step = {own / inside:.1%} of the backend's time"
        f"{'' if args.letta else ' (not gated in memory: see bench_peers.py)'}"
    )
    ok = excess <= WALL_BUDGET and (not args.letta or own / inside <= OVERHEAD_BUDGET)
    print("within budget" if ok else "OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
