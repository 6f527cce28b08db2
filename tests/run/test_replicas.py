"""`replicas: N`: copies of an inline agent handle its messages in parallel, one message per
Letta agent at a time, made only as concurrency demands, reused by resume, deleted after
success; and progress says when a step waits for its agent instead of calling it started."""

from __future__ import annotations

import threading
import time

import pytest

from orchestrator.errors import BackendError
from orchestrator.run.records import UnitKey
from orchestrator.run.replicas import Replicas
from orchestrator.run.runner import resume_run

FAN = """
agents:
  a: {replicas: 3}
inputs: {xs: {type: array}}
steps:
  each: {agent: a, for_each: "{{ inputs.xs }}", as: x, prompt: "item {{ x }}"}
outputs:
  all: "{{ steps.each.output }}"
"""


def _item_units(harness, run_id, step="each", count=3):
    units = harness.records.units(run_id)
    return [units[UnitKey(step, i)] for i in range(count)]


def test_for_each_items_run_on_their_own_copies_at_once(harness):
    harness.backend.script(prompt_contains="item", delay=0.3)
    out = harness.run(FAN, {"xs": [1, 2, 3]})
    assert out.status == "succeeded", out.error
    assert out.outputs["all"] == [f"[memory] a: reply to: item {i}" for i in (1, 2, 3)]
    assert harness.backend.peak_total == 3  # all three in flight together...
    assert set(harness.backend.peak_per_agent.values()) == {1}  # ...never two on one agent
    items = _item_units(harness, out.run_id)
    assert len({u["agent_id"] for u in items}) == 3
    assert sorted(u["replica"] for u in items) == [1, 2, 3]
    assert {u["agent"] for u in items} == {"a"}
    # each copy is a Letta agent of its own; all were deleted after the successful run
    assert len(harness.backend.deleted) == 3 and not harness.backend.agents
    resources = harness.records.resources(out.run_id)
    assert sorted(r["name"] for r in resources) == ["a", "a#2", "a#3"]
    assert all(r["deleted"] for r in resources)


def test_replicas_one_keeps_items_sequential_on_one_agent(harness):
    harness.backend.script(prompt_contains="item", delay=0.05)
    out = harness.run(FAN.replace("{replicas: 3}", "{}"), {"xs": [1, 2, 3]})
    assert out.status == "succeeded"
    assert harness.backend.peak_total == 1
    assert len({m["agent_id"] for m in harness.backend.sent}) == 1
    assert [m["prompt"] for m in harness.backend.sent] == ["item 1", "item 2", "item 3"]


def test_copies_are_made_only_as_concurrency_demands(harness):
    out = harness.run("""
agents: {a: {replicas: 3}}
steps:
  one: {agent: a, prompt: "one"}
  two: {agent: a, prompt: "two {{ steps.one.output }}"}
  three: {agent: a, prompt: "three {{ steps.two.output }}"}
""")
    assert out.status == "succeeded"
    assert len({m["agent_id"] for m in harness.backend.sent}) == 1  # one conversation
    assert [r["name"] for r in harness.records.resources(out.run_id)] == ["a"]


def test_max_parallel_also_bounds_for_each_items(harness):
    harness.backend.script(prompt_contains="item", delay=0.05)
    out = harness.run(FAN, {"xs": [1, 2, 3, 4]}, max_parallel=2)
    assert out.status == "succeeded"
    assert harness.backend.peak_total == 2


def test_no_letta_agent_ever_gets_two_messages_at_once(harness):
    harness.backend.script(delay=0.03)
    out = harness.run(
        """
agents: {a: {replicas: 2}, b: {}}
inputs: {xs: {type: array}}
steps:
  each: {agent: a, for_each: "{{ inputs.xs }}", prompt: "item {{ item }}"}
  p1: {agent: a, prompt: "p1"}
  p2: {agent: a, prompt: "p2"}
  p3: {agent: b, prompt: "p3"}
  p4: {agent: b, prompt: "p4"}
  join: {agent: a, for_each: "{{ steps.each.output }}", prompt: "join {{ item }} {{ steps.p1.output }}"}
""",
        {"xs": list(range(8))},
        max_parallel=4,
    )
    assert out.status == "succeeded", out.error
    assert set(harness.backend.peak_per_agent.values()) == {1}
    agents = {m["agent"]: set() for m in harness.backend.sent}
    for m in harness.backend.sent:
        agents[m["agent"]].add(m["agent_id"])
    assert len(agents["a"]) == 2 and len(agents["b"]) == 1
    assert harness.backend.peak_total <= 3  # two copies of a, one b


def test_a_failed_item_stops_the_rest_and_fails_the_step(harness):
    harness.backend.script(prompt_contains="item 2", fail=BackendError("HTTP 400: no", status=400))
    harness.backend.script(prompt_contains="item", delay=0.05)
    out = harness.run(FAN, {"xs": [1, 2, 3, 4, 5, 6]})
    assert out.status == "failed"
    assert "HTTP 400: no" in out.results["each"].error
    units = harness.records.units(out.run_id)
    assert units[UnitKey("each", 1)]["status"] == "failed"
    assert UnitKey("each", 5) not in units  # never started
    assert all(u["status"] in ("succeeded", "failed") for u in units.values())


def test_loop_iterations_stick_to_the_copy_of_their_item(harness):
    harness.backend.script(delay=0.05)  # the two items overlap: each needs its own copy
    out = harness.run("""
agents: {a: {replicas: 2}}
steps:
  rounds:
    loop:
      max_iterations: 3
      steps:
        each: {agent: a, for_each: "{{ ['x', 'y'] }}", prompt: "round {{ loop.index }} {{ item }}"}
""")
    assert out.status == "succeeded", out.error
    units = harness.records.units(out.run_id)
    for item in (0, 1):
        ids = {units[UnitKey("rounds.each", item, i)]["agent_id"] for i in (1, 2, 3)}
        assert len(ids) == 1, f"item {item} moved between copies: {ids}"


# ----- resume -----


def test_resume_after_a_failure_reuses_the_copies(harness, compile_text):
    harness.backend.script(
        prompt_contains="item 2", fail=BackendError("HTTP 400: no", status=400), delay=0.1
    )  # fails once all three items are in flight
    harness.backend.script(prompt_contains="item", delay=0.2)
    first = harness.run(FAN, {"xs": [1, 2, 3]})
    assert first.status == "failed"
    copies = set(harness.backend.agents)
    assert len(copies) == 3  # a failed run keeps them all
    failed_on = _item_units(harness, first.run_id)[1]["agent_id"]
    harness.backend.rules.clear()
    out = resume_run(first.run_id, compile_text(FAN), harness.backend, harness.records)
    assert out.status == "succeeded", out.error
    resent = [m for m in harness.backend.sent if m["prompt"] == "item 2"]
    assert len(resent) == 1 and resent[0]["agent_id"] == failed_on  # same copy, no new agent
    assert len(harness.backend.sent) == 3  # items 1 and 3 were reused
    assert set(harness.backend.deleted) == copies and not harness.backend.agents
    assert all(r["deleted"] for r in harness.records.resources(first.run_id))


def test_resume_deletes_copies_the_resumed_run_did_not_need(harness, compile_text):
    harness.backend.script(prompt_contains="after", fail=BackendError("HTTP 400: no", status=400))
    harness.backend.script(prompt_contains="item", delay=0.2)
    body = FAN.replace(
        'prompt: "item {{ x }}"}',
        'prompt: "item {{ x }}"}\n  after: {agent: a, prompt: "after '
        '{{ steps.each.output | length }}"}',
    )
    first = harness.run(body, {"xs": [1, 2, 3]})
    assert first.status == "failed" and len(harness.backend.agents) == 3
    harness.backend.rules.clear()
    out = resume_run(first.run_id, compile_text(body), harness.backend, harness.records)
    assert out.status == "succeeded", out.error
    assert not harness.backend.agents  # copies 2 and 3 were not needed again, yet deleted


INFLIGHT = """
agents: {a: {replicas: 2}, g: {}}
defaults: {retries: {max_attempts: 1, backoff: 0}}
steps:
  long: {agent: a, prompt: "long"}
  gate: {agent: g, prompt: "gate"}
  late: {agent: a, prompt: "late {{ steps.gate.output }}"}
"""


def test_in_flight_message_is_reconciled_on_the_copy_it_went_to(harness, compile_text):
    harness.backend.script(prompt_contains="late", lose_reply=True)  # goes to copy 2, as...
    harness.backend.script(prompt_contains="long", delay=0.5)  # ...this holds copy 1
    harness.backend.script(prompt_contains="gate", delay=0.1)
    harness.backend.history_errors = 10**6  # the lost reply cannot be settled in this run
    first = harness.run(INFLIGHT)
    harness.backend.history_errors = 0
    late = harness.records.units(first.run_id)[UnitKey("late")]
    assert late["replica"] == 2
    harness.records.write_unit(first.run_id, UnitKey("late"), status="running")  # a crash
    sent_before = len(harness.backend.sent)
    harness.events.clear()
    out = resume_run(
        first.run_id, compile_text(INFLIGHT), harness.backend, harness.records, emit=harness.emit
    )
    assert out.status == "succeeded", out.error
    assert len(harness.backend.sent) == sent_before  # the reply came from copy 2's history
    assert ("step_reconciled", {"step": "late", "otid": late["otid"]}) in harness.events
    after = harness.records.units(first.run_id)[UnitKey("late")]
    assert (after["agent_id"], after["replica"]) == (late["agent_id"], 2)


# ----- progress -----


def test_a_step_waiting_for_its_agent_is_not_reported_started(harness):
    harness.backend.script(delay=0.1)
    done_when_started = []  # messages completed when each step was reported started

    def emit(kind, **data):
        harness.events.append((kind, data))
        if kind == "step_started":
            done_when_started.append(len(harness.backend.sent))

    harness.emit = emit
    harness.run(
        """
agents: {a: {}}
steps:
  s1: {agent: a, prompt: "s1"}
  s2: {agent: a, prompt: "s2"}
  s3: {agent: a, prompt: "s3"}
""",
        max_parallel=3,
    )
    # one agent, one message each: a step starts only once the one before it got its answer
    assert done_when_started == [0, 1, 2]
    waiting = [d for k, d in harness.events if k == "step_waiting"]
    assert len(waiting) == 2
    assert (waiting[0]["agent"], waiting[0]["replicas"]) == ("a", 1)
    kinds = [(k, d.get("step")) for k, d in harness.events if k.startswith("step_")]
    for step in ("s1", "s2", "s3"):  # every step still starts before it finishes
        assert kinds.index(("step_started", step)) < kinds.index(("step_finished", step))


def test_with_enough_copies_nothing_waits(harness):
    harness.backend.script(delay=0.1)
    harness.run(
        """
agents: {a: {replicas: 3}}
steps:
  s1: {agent: a, prompt: "s1"}
  s2: {agent: a, prompt: "s2"}
  s3: {agent: a, prompt: "s3"}
""",
        max_parallel=3,
    )
    assert not [k for k, _ in harness.events if k == "step_waiting"]
    assert harness.backend.peak_total == 3


def test_plain_reporter_says_what_a_step_waits_for():
    from io import StringIO

    from orchestrator.run.progress import PlainReporter

    out = StringIO()
    PlainReporter(out=out)("step_waiting", step="risks", agent="analyst", replicas=3)
    assert "risks: waiting for agent analyst (all 3 copies busy)" in out.getvalue()


def test_the_live_table_says_what_a_step_waits_for_as_the_docs_do():
    from io import StringIO

    from rich.console import Console

    from orchestrator.run.progress import LiveReporter

    out = StringIO()
    reporter = LiveReporter(Console(file=out, force_terminal=True, width=200, color_system=None))
    reporter("run_started", run_id="r", pipeline="t", steps=["risks"], resumed=False)
    reporter("step_waiting", step="risks", agent="analyst", replicas=1)
    reporter._live.stop()
    assert "waiting for agent analyst (busy)" in out.getvalue()
    assert "starting run r of t" in out.getvalue()  # the run id shows from the start


# ----- choosing a copy (run.replicas) -----


class _Made:
    def __init__(self):
        self.count = 0

    def __call__(self, index):
        self.count += 1
        return f"id-{index}"


def test_copies_lowest_index_first_and_made_lazily():
    make = _Made()
    pool = Replicas(3, make, ident=lambda c: c)
    first = pool.lease()
    pool.give_back(first)
    assert pool.lease() == first == "id-1" and make.count == 1
    assert pool.lease() == "id-2" and pool.lease() == "id-3" and make.count == 3


def test_a_needed_copy_is_waited_for_and_an_earlier_one_taken_up():
    pool = Replicas(2, _Made(), ident=lambda c: c, known={"old-2": 2})
    assert pool.lease(need="old-2") == "id-2"  # made (taken up) on demand, at its index
    got: list[str] = []
    waits: list[int] = []
    thread = threading.Thread(
        daemon=True,
        target=lambda: got.append(pool.lease(need="id-2", on_wait=lambda: waits.append(1))),
    )
    thread.start()
    time.sleep(0.15)
    assert not got and waits == [1]  # busy: it waits for that copy, not another
    pool.give_back("id-2")
    thread.join(2)
    assert got == ["id-2"]


def test_a_preferred_copy_is_taken_when_free_else_another():
    pool = Replicas(2, _Made(), ident=lambda c: c)
    one, two = pool.lease(), pool.lease()
    pool.give_back(one)
    pool.give_back(two)
    assert pool.lease(prefer="id-2") == "id-2"
    assert pool.lease(prefer="id-2", on_wait=lambda: None, check=_boom) == "id-1"


def _boom():
    raise RuntimeError("cancelled")


def test_waiting_for_a_copy_can_be_abandoned():
    pool = Replicas(1, _Made(), ident=lambda c: c)
    pool.lease()
    with pytest.raises(RuntimeError, match="cancelled"):
        pool.lease(check=_boom)


def test_a_failed_creation_frees_its_slot():
    calls = []

    def make(index):
        calls.append(index)
        if len(calls) == 1:
            raise BackendError("down", transient=True)
        return f"id-{index}"

    pool = Replicas(1, make, ident=lambda c: c)
    with pytest.raises(BackendError):
        pool.lease()
    assert pool.lease() == "id-1" and calls == [1, 1]


def test_run_timeout_during_a_parallel_for_each_stops_promptly_and_resumes(harness, compile_text):
    harness.backend.script(prompt_contains="item", delay=1.0, times=1)
    began = time.monotonic()
    out = harness.run(FAN, {"xs": [1, 2, 3]}, timeout=0.3)
    assert time.monotonic() - began < 0.9  # the items in flight were abandoned, not awaited
    assert out.status == "failed" and out.error.startswith("the run timed out")
    statuses = {u["status"] for u in _item_units(harness, out.run_id)}
    assert statuses == {"cancelled"}
    time.sleep(1.0)  # let the abandoned (fake) calls finish
    harness.backend.rules.clear()
    again = resume_run(out.run_id, compile_text(FAN), harness.backend, harness.records)
    assert again.status == "succeeded", again.error
    # each item's message had reached its copy: reconciled from that copy, not sent again
    assert len(harness.backend.sent) == 3
    assert len({u["agent_id"] for u in _item_units(harness, out.run_id)}) == 3
    assert not harness.backend.agents  # the same three copies, deleted at the end
