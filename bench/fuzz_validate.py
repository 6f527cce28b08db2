"""Fuzz the loaders with seeded generated files: pipelines and resource directories made from
the real examples by mutation plus hostile shapes (see tests/spec/fuzz_cases.py), each
checked the way `orchestrate validate` and `orchestrate plan` read them (no server).

Asserts zero tracebacks (anything but a located SpecError), zero hangs (a case past
--timeout seconds: its worker is killed and the case counted), no file read from outside
its resource directory, and prints the peak RSS of the workers. Workers run under an
address-space limit (--memory-mb), so a case that would exhaust memory fails as a case
instead of taking the machine down.

Usage: python bench/fuzz_validate.py --cases 10000 [--workers 2] [--timeout 10]
Exit status: 0 when every case was handled, 1 otherwise (the failing case numbers are
printed; `case(N)` rebuilds one).
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.spec.fuzz_cases import case, check  # noqa: E402


def _worker(conn: Connection, memory_mb: int) -> None:
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    with tempfile.TemporaryDirectory(prefix="fuzz-") as scratch:
        while True:
            number = conn.recv()
            if number is None:
                break
            started = time.perf_counter()
            try:
                wrong = check(case(number), Path(scratch) / str(number))
            except BaseException as exc:  # noqa: BLE001 - the harness itself must go on
                wrong = [f"harness: {type(exc).__name__}: {exc}"]
            conn.send((number, wrong, time.perf_counter() - started))
    conn.send(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


class _Slot:
    """One worker process and the case it is running."""

    def __init__(self, memory_mb: int):
        self.memory_mb = memory_mb
        self.start()

    def start(self) -> None:
        self.conn, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(
            target=_worker, args=(child, self.memory_mb), daemon=True
        )
        self.process.start()
        self.number: int | None = None
        self.since = 0.0

    def give(self, number: int) -> None:
        self.number, self.since = number, time.perf_counter()
        self.conn.send(number)

    def kill(self) -> None:
        self.process.kill()
        self.process.join()
        self.start()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--start", type=int, default=0, help="first case number")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per case")
    parser.add_argument("--memory-mb", type=int, default=2048, help="address space per worker")
    args = parser.parse_args()

    pending = list(range(args.start, args.start + args.cases))[::-1]
    slots = [_Slot(args.memory_mb) for _ in range(args.workers)]
    failures: dict[int, list[str]] = {}
    slowest, done, started = (0.0, -1), 0, time.perf_counter()
    peak_kb = 0
    while done < args.cases:
        for slot in slots:
            if slot.number is None and pending:
                slot.give(pending.pop())
            if slot.number is None:
                continue
            if slot.conn.poll(0.01):
                number, wrong, seconds = slot.conn.recv()
                slowest = max(slowest, (seconds, number))
                if wrong:
                    failures[number] = wrong
                slot.number, done = None, done + 1
            elif time.perf_counter() - slot.since > args.timeout:
                failures[slot.number] = [f"hang: more than {args.timeout} s"]
                slot.kill()
                slot.number, done = None, done + 1
    for slot in slots:
        slot.conn.send(None)
        peak_kb = max(peak_kb, slot.conn.recv())
        slot.process.join()
    peak_kb = max(peak_kb, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    elapsed = time.perf_counter() - started
    hangs = sum(1 for lines in failures.values() if lines[0].startswith("hang"))
    print(
        f"{args.cases} cases in {elapsed:.1f} s ({args.workers} workers): "
        f"{len(failures) - hangs} with tracebacks or escapes, {hangs} hangs; "
        f"slowest case {slowest[1]} ({slowest[0]:.2f} s); peak RSS {peak_kb / 1024:.0f} MB"
    )
    for number, lines in sorted(failures.items())[:50]:
        print(f"case {number}: " + " | ".join(lines)[:500])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
