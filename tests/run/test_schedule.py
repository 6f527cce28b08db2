"""ReadyQueue: the ready set of a plan, in plan order, settling in O(1) per edge."""

from __future__ import annotations

import time

import pytest

from orchestrator.run.schedule import ReadyQueue


def _drain(queue: ReadyQueue, slots: int = 1) -> list[str]:
    """Run to the end with `slots` steps in flight, settling the oldest first."""
    order, flight = [], []
    while not queue.done():
        while len(flight) < slots and (name := queue.pop()) is not None:
            flight.append(name)
            order.append(name)
        queue.settle(flight.pop(0))
    return order


def test_a_diamond_runs_in_plan_order_after_its_upstream():
    queue = ReadyQueue(["a", "b", "c", "d"], {"b": ["a"], "c": ["a"], "d": ["b", "c"]})
    assert queue.pop() == "a" and queue.pop() is None
    queue.settle("a")
    assert [queue.pop(), queue.pop(), queue.pop()] == ["b", "c", None]
    queue.settle("c")
    assert queue.pop() is None  # d still waits for b
    queue.settle("b")
    assert queue.pop() == "d" and not queue.done()
    queue.settle("d")
    assert queue.done()


def test_the_first_ready_step_in_plan_order_comes_first():
    order = ["r1", "r2", "x", "y"]
    queue = ReadyQueue(order, {"x": ["r2"], "y": ["r1"]})
    assert queue.pop() == "r1"
    queue.settle("r1")  # y is ready now, but r2 comes first in plan order
    assert queue.pop() == "r2"
    queue.settle("r2")
    assert [queue.pop(), queue.pop()] == ["x", "y"]


def test_duplicate_and_unknown_upstream_names_are_harmless():
    queue = ReadyQueue(["a", "b"], {"b": ["a", "a", "elsewhere"]})
    assert queue.upstream("b") == ("a",)
    assert _drain(queue) == ["a", "b"]


def test_settling_twice_is_a_bug():
    queue = ReadyQueue(["a"], {})
    queue.settle(queue.pop())
    with pytest.raises(ValueError, match="settled twice"):
        queue.settle("a")


def test_a_long_chain_costs_linear_time():
    slots = 4

    def chain(n):
        names = [f"s{i}" for i in range(n)]
        return names, {names[i]: [names[i - 1]] for i in range(1, n)}

    def timed(n):
        names, deps = chain(n)
        began = time.thread_time()  # CPU time: other processes do not count
        assert _drain(ReadyQueue(names, deps), slots) == names
        return time.thread_time() - began

    small = min(timed(2_000) for _ in range(5)) / 2_000
    large = min(timed(60_000) for _ in range(3)) / 60_000
    assert large / small < 8  # per step; rescanning the waiting steps would make it ~30x
