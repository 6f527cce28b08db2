"""Benchmark of the run layer: wall time vs critical path, and orchestrator overhead per step.

    python bench/bench_run.py                       # in-memory backend with a fixed delay
    python bench/bench_run.py --letta http://127.0.0.1:8283 --model-url http://127.0.0.1:8284
                                                    # the real stack, the model slowed by --delay

Budgets (exit 1 when over): a fan-out pipeline's wall time stays within 10% of its critical
path (the longest chain of step durations, as measured), and the orchestrator's own time per
step (everything outside backend calls: rendering, records, scheduling, events) is < 5 ms,
measured on a sequential chain as (wall - time inside the backend) / steps.
Not a test: timings depend on the machine. Prints the figures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.backends.memory import MemoryBackend  # noqa: E402
from orchestrator.compile import compile_pipeline  # noqa: E402
from orchestrator.run.records import Records  # noqa: E402
from orchestrator.run.runner import RunOptions, start_run  # noqa: E402
from orchestrator.spec import load_pipeline_text  # noqa: E402

HEADER = "apiVersion: orchestrate/v1\nkind: Pipeline\nmetadata: {name: bench}\n"
WALL_BUDGET, OVERHEAD_BUDGET = 0.10, 0.005


class Timed:
    """Wraps a backend; adds up the wall time spent inside its calls (all threads)."""

    def __init__(self, inner):
        self.inner, self.base_url = inner, inner.base_url
        self.spent, self._lock = 0.0, threading.Lock()

    def __getattr__(self, name):
        fn = getattr(self.inner, name)
        if not callable(fn):
            return fn

        def timed(*args, **kwargs):
            began = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self.spent += time.perf_counter() - began
        return timed


def fan_out(width: int) -> str:
    agents = "".join(f"  a{i}: {{}}\n" for i in range(width + 1))
    steps = "".join(f"  s{i}: {{agent: a{i}, prompt: 'part {i} of {{{{ inputs.t }}}}'}}\n"
                    for i in range(width))
    join = " ".join(f"{{{{ steps.s{i}.output }}}}" for i in range(width))
    return (HEADER + "inputs: {t: {type: string, default: x}}\nagents:\n" + agents + "steps:\n"
            + steps + f"  join: {{agent: a{width}, prompt: 'join {join}'}}\n")


def chain(length: int) -> str:
    steps = "  s0: {agent: a, prompt: 'start {{ inputs.t }}'}\n" + "".join(
        f"  s{i}: {{agent: a, prompt: 'next after {{{{ steps.s{i - 1}.output[:40] }}}}'}}\n"
        for i in range(1, length))
    return HEADER + "inputs: {t: {type: string, default: x}}\nagents: {a: {}}\nsteps:\n" + steps


def critical_path(plan, results) -> float:
    finish: dict[str, float] = {}
    for name, step in plan.steps.items():  # topological order
        start = max((finish[d] for d in step.depends_on), default=0.0)
        finish[name] = start + results[name].duration
    return max(finish.values())


def run(text: str, backend, records, **options):
    plan = compile_pipeline(load_pipeline_text(text, "bench.yaml"))
    marks: dict[str, float] = {}

    def emit(kind, **data):
        marks.setdefault(kind, time.perf_counter())
        if kind == "step_finished":
            marks["last_step"] = time.perf_counter()

    began = time.perf_counter()
    out = start_run(plan, {}, backend, records, options=RunOptions(**options), emit=emit)
    wall = time.perf_counter() - began
    print(f"  (setup {marks['run_started'] - began:.3f}s, steps "
          f"{marks['last_step'] - marks['run_started']:.3f}s, cleanup "
          f"{marks['run_finished'] - marks['last_step']:.3f}s)")
    if out.status != "succeeded":
        raise SystemExit(f"bench run failed: {out.error}")
    return plan, out, wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--letta", help="Letta base URL (default: the in-memory backend)")
    parser.add_argument("--model-url", help="the local model endpoint (to script the delay)")
    parser.add_argument("--delay", type=float, default=0.3, help="model delay in seconds")
    parser.add_argument("--width", type=int, default=6, help="parallel branches")
    parser.add_argument("--steps", type=int, default=0, help="chain length (default 200/20)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-run-"))
    records = Records(tmp / "runs.db")
    if args.letta:
        from orchestrator.backends.letta import LettaBackend
        from orchestrator.server.model_endpoint.admin import ModelAdmin

        admin = ModelAdmin(args.model_url) if args.model_url else None
        make = lambda: Timed(LettaBackend(args.letta))  # noqa: E731
        length = args.steps or 20
    else:
        admin = None
        memory = MemoryBackend()
        make = lambda: Timed(memory)  # noqa: E731
        length = args.steps or 200

    if admin:
        admin.set_script([{"delay": args.delay}])
    else:
        memory.script(prompt_contains="part", delay=args.delay)
        memory.script(prompt_contains="join", delay=args.delay)
    plan, out, wall = run(fan_out(args.width), make(), records, max_parallel=args.width)
    crit = critical_path(plan, out.results)
    excess = wall / crit - 1
    print(f"fan-out {args.width}+1 steps, delay {args.delay:.2f}s: wall {wall:.3f}s, critical "
          f"path {crit:.3f}s, excess {excess:+.1%} (budget {WALL_BUDGET:.0%})")

    if admin:
        admin.set_script([])
    else:
        memory.rules.clear()
    backend = make()
    _, out, wall = run(chain(length), backend, records, max_parallel=1)
    overhead = (wall - backend.spent) / length
    print(f"chain of {length} steps: wall {wall:.3f}s, in backend {backend.spent:.3f}s, "
          f"orchestrator {overhead * 1000:.2f} ms/step (budget {OVERHEAD_BUDGET * 1000:.0f} ms)")
    ok = excess <= WALL_BUDGET and overhead <= OVERHEAD_BUDGET
    print("within budget" if ok else "OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
