"""The fast tier of the loader fuzz (tests/spec/fuzz_cases.py): a few hundred seeded
pipelines and resource directories, each checked the way `validate` and `plan` read them.
No case may raise anything but a located SpecError, take more than a few seconds, or read a
file outside its resource directory. The full 10,000 run is bench/fuzz_validate.py."""

from __future__ import annotations

import signal
import time

import pytest

from tests.spec.fuzz_cases import case, check

FAST_CASES = 300
CASE_SECONDS = 5


class _Slow(Exception):
    pass


def _raise_slow(*_):
    raise _Slow


@pytest.mark.parametrize("block", range(6))
def test_fuzzed_inputs_fail_cleanly_and_quickly(block, tmp_path):
    per_block = FAST_CASES // 6
    wrong: dict[int, list[str]] = {}
    previous = signal.signal(signal.SIGALRM, _raise_slow)
    try:
        for number in range(block * per_block, (block + 1) * per_block):
            item = case(number)
            signal.setitimer(signal.ITIMER_REAL, CASE_SECONDS)
            started = time.perf_counter()
            try:
                found = check(item, tmp_path / str(number))
            except _Slow:
                found = [f"took more than {CASE_SECONDS} s"]
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            if found:
                wrong[number] = [
                    f"{item.kind} ({item.note}), {time.perf_counter() - started:.1f} s",
                    *found,
                ]
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert not wrong, "\n".join(f"case {n}: {lines}" for n, lines in wrong.items())
