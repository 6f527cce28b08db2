"""The Temporal workflow's scheduler: ready steps in plan order, agent copies leased across the
whole run (never two steps on one copy), blocked steps settled without running."""

from __future__ import annotations

import pytest

pytest.importorskip("temporalio")

from orchestrator.run.temporal.schedule import Schedule  # noqa: E402


def _schedule(deps, needs=None, replicas=None):
    order = list(deps)
    needs = needs or {n: {"a": 1} for n in order}
    return Schedule(order=order, deps=deps, needs=needs, replicas=replicas or {"a": 1})


def test_one_copy_means_one_step_at_a_time_in_plan_order():
    s = _schedule({"x": [], "y": [], "z": []})
    started, blocked = s.start(8)
    assert [n for n, _ in started] == ["x"] and blocked == []
    assert started[0][1] == {"a": [1]}
    assert s.start(8) == ([], [])  # the only copy is busy
    s.finish("x", "succeeded")
    assert [n for n, _ in s.start(8)[0]] == ["y"]


def test_copies_are_leased_and_given_back():
    s = _schedule({"x": [], "y": [], "z": []}, replicas={"a": 2})
    started, _ = s.start(8)
    assert [(n, c["a"]) for n, c in started] == [("x", [1]), ("y", [2])]
    s.finish("y", "succeeded")
    assert [(n, c["a"]) for n, c in s.start(8)[0]] == [("z", [2])]


def test_a_fan_out_step_takes_several_copies_and_slots_bound_starts():
    s = _schedule(
        {"fan": [], "solo": []},
        needs={"fan": {"a": 3}, "solo": {"b": 1}},
        replicas={"a": 3, "b": 1},
    )
    started, _ = s.start(1)
    assert started == [("fan", {"a": [1, 2, 3]})]
    assert s.start(1)[0] == [("solo", {"b": [1]})]


def test_failure_blocks_everything_downstream_but_not_independent_branches():
    s = _schedule(
        {"a1": [], "b1": ["a1"], "c1": ["b1"], "free": []},
        needs={"a1": {"x": 1}, "b1": {"x": 1}, "c1": {"x": 1}, "free": {"y": 1}},
        replicas={"x": 1, "y": 1},
    )
    started, _ = s.start(8)
    assert {n for n, _ in started} == {"a1", "free"}
    s.finish("a1", "failed")
    started, blocked = s.start(8)
    assert started == [] and blocked == ["b1", "c1"]
    s.finish("free", "succeeded")
    assert s.done()
    assert s.settled == {"a1": "failed", "b1": "blocked", "c1": "blocked", "free": "succeeded"}


def test_skipped_upstream_lets_downstream_start():
    s = _schedule({"a": [], "b": ["a"]})
    s.start(8)
    s.finish("a", "skipped")
    assert [n for n, _ in s.start(8)[0]] == ["b"]


def test_a_long_chain_is_linear():
    n = 20_000
    deps = {f"s{i}": ([f"s{i - 1}"] if i else []) for i in range(n)}
    s = _schedule(deps)
    for i in range(n):
        started, _ = s.start(4)
        assert [name for name, _ in started] == [f"s{i}"]
        s.finish(f"s{i}", "succeeded")
    assert s.done()
