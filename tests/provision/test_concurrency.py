"""Two applies at once: the second is refused by the lock and writes nothing of its own."""

from __future__ import annotations

import threading

import pytest

from orchestrator.backends.admin_memory import MemoryAdmin
from orchestrator.errors import ProvisionError
from orchestrator.provision import DiffOptions, apply, plan

from .helpers import Counting, Paused, agent, resources


@pytest.mark.parametrize("same_machine", [True, False])
def test_concurrent_apply_is_refused(tmp_path, same_machine):
    server = MemoryAdmin()
    first, second = Paused(server), Counting(server)
    res_one, res_two = resources(agent("a")), resources(agent("a"), agent("b"))
    options = DiffOptions()
    errors = []

    def run_first():
        try:
            apply(
                plan(res_one, first, options, env={}),
                res_one,
                first,
                options,
                lock_dir=tmp_path / "one",
            )
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    thread = threading.Thread(target=run_first)
    thread.start()
    assert first.inside.wait(10)
    try:
        shown = plan(res_two, second, options, env={})
        lock_dir = tmp_path / ("one" if same_machine else "two")
        with pytest.raises(ProvisionError, match="another apply"):
            apply(shown, res_two, second, options, lock_dir=lock_dir)
    finally:
        first.release.set()
        thread.join(10)
    assert errors == []
    # the refused apply wrote nothing but its own (removed) lock block
    assert set(second.writes) <= {"create_block", "delete_block"}
    assert [a.name for a in server.list_agents()] == ["a"]
    apply(plan(res_two, second, options, env={}), res_two, second, options, lock_dir=tmp_path)
    assert sorted(a.name for a in server.list_agents()) == ["a", "b"]
