"""Benchmark: how long a command takes to start, against `python -c pass` (issue 15).

    python bench/bench_startup.py [--rounds 7] [--budget 0.3] [--validate-budget 0.6]

Times, in fresh processes, `python -c pass`, `orchestrate --version` and `orchestrate
validate pipelines/research-report.yaml` (through `python -m orchestrator`, so the figures
do not depend on where the script is installed), interleaved, best of `--rounds`, and
gates the *difference* from `python -c pass` measured in this run, in CPU time (user +
system of the child: what the command costs, which a busy shared machine inflates far less
than wall time; wall time is printed beside it): `--version` within
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
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "orchestrate --version": [sys.executable, "-m", "orchestrator", "--version"],
    "orchestrate validate (one file)": [
        sys.executable,
        "-m",
        "orchestrator",
        "validate",
        str(ROOT / "pipelines" / "research-report.yaml"),
    ],
}


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system) of one run of `argv` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        argv, env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def imports_letta(argv: list[str], env: dict[str, str]) -> bool:
    done = subprocess.run(
        [*argv[:1], "-X", "importtime", *argv[1:]],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
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
        wall = {name: float("inf") for name in COMMANDS}
        cpu = dict(wall)
        budgets = {
            "orchestrate --version": args.budget,
            "orchestrate validate (one file)": args.validate_budget,
        }

        def within() -> bool:
            return all(cpu[name] - cpu["python -c pass"] <= b for name, b in budgets.items())

        rounds = 0
        # More rounds (up to 3x) only while over: load only ever slows a round.
        while rounds < args.rounds or (not within() and rounds < 3 * args.rounds):
            for name, argv in COMMANDS.items():
                w, c = timed(argv, env)
                wall[name], cpu[name] = min(wall[name], w), min(cpu[name], c)
            rounds += 1
        letta = [name for name, argv in list(COMMANDS.items())[1:] if imports_letta(argv, env)]
    over = []
    for name, budget in budgets.items():
        diff = cpu[name] - cpu["python -c pass"]
        print(
            f"{name:<32} CPU {cpu[name]:6.3f} s  (+{diff:.3f} s over python -c pass "
            f"{cpu['python -c pass']:.3f} s; budget +{budget:g} s); wall {wall[name]:.3f} s "
            f"(+{wall[name] - wall['python -c pass']:.3f} s), best of {rounds}"
        )
        if diff > budget:
            over.append(f"{name}: +{diff:.3f} s CPU > +{budget:g} s")
    over += [f"{name} imports letta_client" for name in letta]
    for problem in over:
        print(f"OVER BUDGET: {problem}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
