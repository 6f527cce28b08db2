"""Benchmark: load + validate + compile a generated 2,000-step pipeline.

Prints the best wall time of N runs (each in a fresh state: Jinja analysis and compiled
template caches are cleared, so nothing is reused between runs except the loaded schema
validators, which a real process also loads once). Exits 1 when the figure is >= the
budget (1.0 s by default).

Usage: python bench/bench_compile.py [--steps 2000] [--runs 5] [--budget 1.0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import pipeline_text  # noqa: E402

from orchestrator.compile import (  # noqa: E402
    compile_pipeline,  # noqa: E402
    refs,
    templates,
)
from orchestrator.spec import load_pipeline_text  # noqa: E402


def one_run(text: str) -> tuple[float, int]:
    refs.analyze.cache_clear()
    templates.compiled.cache_clear()
    start = time.perf_counter()
    plan = compile_pipeline(load_pipeline_text(text, "generated.yaml"))
    elapsed = time.perf_counter() - start
    return elapsed, len(plan.steps)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--budget", type=float, default=1.0)
    args = parser.parse_args()
    text = pipeline_text(args.steps)
    times = []
    for _ in range(args.runs):
        elapsed, count = one_run(text)
        times.append(elapsed)
    best = min(times)
    print(f"load+validate+compile {count} steps ({len(text.splitlines())} YAML lines): "
          f"best {best:.3f} s, median {sorted(times)[len(times) // 2]:.3f} s "
          f"over {args.runs} runs (budget {args.budget:.1f} s)")
    if best >= args.budget:
        print("over budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
