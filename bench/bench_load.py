"""Load benchmark of the embedded stack: how many concurrent runs it sustains with zero failures.

    python bench/bench_load.py                        # levels 10,20,40 of parallel-analysis
    python bench/bench_load.py --levels 20 --gate 20  # CI: 20 at once, all must succeed

Each level starts N `orchestrate run pipelines/parallel-analysis.yaml --json` processes at
once (what N users or a shell loop do), each with its own proposal, against the running
embedded stack (`orchestrate server start`), and waits for all of them. A level passes when
every run exits 0 *and* the model endpoint's request log shows every prompt exactly once
(a duplicate is a message that reached an agent twice: the exactly-once failure this
benchmark exists to catch). The highest passing level is the stack's sustained concurrency.

Gate (exit 1): `--gate N` must pass. Pass/fail counts, not times, so a busy machine cannot
fail it; wall time and runs per minute are printed for the README.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from orchestrator.server.model_endpoint.admin import ModelAdmin  # noqa: E402

PIPELINE = ROOT / "pipelines" / "parallel-analysis.yaml"


def run_level(n: int, model: ModelAdmin, timeout: float) -> dict:
    model.reset()
    started = time.monotonic()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "orchestrator",
                "run",
                str(PIPELINE),
                "--json",
                "-i",
                f"proposal=Load proposal {n}-{i}: a managed vector database, variant {i}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for i in range(n)
    ]
    codes, errors = [], []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=max(1.0, timeout - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            errors.append("timed out")
        codes.append(proc.returncode)
        if proc.returncode != 0:
            errors.append((err.strip().splitlines() or out.strip().splitlines() or ["?"])[-1])
    wall = time.monotonic() - started
    prompts = Counter(r.get("prompt") for r in model.requests())
    dupes = sum(c - 1 for c in prompts.values() if c > 1)
    ok = codes.count(0)
    return {
        "n": n,
        "ok": ok,
        "failed": n - ok,
        "duplicates": dupes,
        "wall": wall,
        "messages": sum(prompts.values()),
        "errors": errors[:3],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--levels", default="10,20,40", help="concurrent runs per level, ascending")
    ap.add_argument("--gate", type=int, default=None, help="this level must pass (exit 1 if not)")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per level")
    args = ap.parse_args(argv)
    home = Path(os.environ.get("ORCHESTRATE_HOME") or ROOT / ".orchestrate")
    port = os.environ.get("ORCHESTRATE_MODEL_PORT", "8284")
    model = ModelAdmin(f"http://127.0.0.1:{port}")
    if not model.healthy():
        print(
            f"no local model endpoint on port {port}: run `orchestrate server start` "
            f"(state dir {home})",
            file=sys.stderr,
        )
        return 1
    previous = model.script()
    model.set_script([])
    sustained, results = 0, {}
    try:
        for n in sorted(int(x) for x in args.levels.split(",")):
            r = run_level(n, model, args.timeout)
            results[n] = r
            passed = r["failed"] == 0 and r["duplicates"] == 0
            print(
                f"{n:4d} concurrent runs: {r['ok']} ok, {r['failed']} failed, "
                f"{r['duplicates']} duplicate prompts, {r['messages']} messages, "
                f"{r['wall']:.1f} s wall, {60 * r['ok'] / r['wall']:.1f} runs/min"
                + ("" if passed else f"  errors: {r['errors']}"),
                flush=True,
            )
            if not passed:
                break
            sustained = n
    finally:
        model.set_script(previous)
        model.reset()
    print(f"sustained with zero failures and zero duplicates: {sustained} concurrent runs")
    if args.gate is not None:
        gate = results.get(args.gate)
        if gate is None or gate["failed"] or gate["duplicates"]:
            print(f"FAIL: the gate level {args.gate} did not pass", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
