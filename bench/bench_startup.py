"""Benchmark: how long a command takes to start, against `python -c pass` (issue 15).

    python bench/bench_startup.py [--rounds 7] [--budget 0.3] [--validate-budget 0.6]

Times, in fresh processes, `python -c pass`, `orchestrate --version` and `orchestrate
validate pipelines/research-report.yaml` (through `python -m orchestrator`, so the figures
do not depend on where the script is installed), interleaved, best of `--rounds`, and
gates the *difference* from `python -c pass` measured in this run: `--version` within
`--budget` (0.3 s), `validate` within `--validate-budget`. Bytecode is cached (in a
temporary PYTHONPYCACHEPREFIX, after one warm-up round) as it is for an installed package,
even where PYTHONDONTWRITEBYTECODE is set. Also checks that neither command imports
letta_client (the import that made every command take seconds). Exit 1 when over.

The target for `validate` is also 0.3 s; what is left over it is the import of what
validation itself uses (networkx for the DAG, jsonschema, jinja2), not letta_client.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "orchestrate --version": [sys.executable, "-m", "orchestrator", "--version"],
    "orchestrate validate (one file)": [sys.executable, "-m", "orchestrator", "validate",
                                        str(ROOT / "pipelines" / "research-report.yaml")],
}


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def imports_letta(argv: list[str], env: dict[str, str]) -> bool:
    done = subprocess.run([*argv[:1], "-X", "importtime", *argv[1:]], env=env, cwd=ROOT,
                          check=True, capture_output=True, text=True)
    return "letta_client" in done.stderr


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--budget", type=float, default=0.3)
    parser.add_argument("--validate-budget", type=float, default=0.6)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "PYTHONPYCACHEPREFIX": cache}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        for argv in COMMANDS.values():  # warm-up: bytecode written, files in the page cache
            timed(argv, env)
        best = {name: float("inf") for name in COMMANDS}
        for _ in range(args.rounds):
            for name, argv in COMMANDS.items():
                best[name] = min(best[name], timed(argv, env))
        letta = [name for name, argv in list(COMMANDS.items())[1:] if imports_letta(argv, env)]
    base = best["python -c pass"]
    over = []
    for name, budget in (("orchestrate --version", args.budget),
                         ("orchestrate validate (one file)", args.validate_budget)):
        diff = best[name] - base
        print(f"{name:<32} {best[name]:6.3f} s  (+{diff:.3f} s over python -c pass "
              f"{base:.3f} s; budget +{budget:g} s)")
        if diff > budget:
            over.append(f"{name}: +{diff:.3f} s > +{budget:g} s")
    over += [f"{name} imports letta_client" for name in letta]
    for problem in over:
        print(f"OVER BUDGET: {problem}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
