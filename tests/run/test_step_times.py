"""A step's time is the same in the live view / run summary and in `runs show` (issue 15
item 9: on Letta, creating the step's agent was counted by one and not by the other)."""

from __future__ import annotations

import time

from orchestrator.backends.memory import MemoryBackend
from orchestrator.run.render import run_detail

CREATE = 0.3  # seconds to create an agent, as a real server takes
REPLY = 0.1


class SlowCreate(MemoryBackend):
    def create_agent(self, request):  # type: ignore[no-untyped-def]
        time.sleep(CREATE)
        return super().create_agent(request)


def test_live_summary_and_runs_show_agree(harness):
    harness.backend = SlowCreate()
    harness.backend.script(prompt_contains="", delay=REPLY, replies=["x"])
    result = harness.run("""
agents: {a: {}, b: {}}
steps:
  one: {agent: a, prompt: "one"}
  many: {agent: b, for_each: "{{ [1, 2] }}", prompt: "item {{ item }}"}
""")
    units = harness.records.units(result.run_id)
    live = {n: r.duration for n, r in result.results.items()}  # what the table/summary show
    one = next(u for k, u in units.items() if k.step == "one")
    assert live["one"] >= CREATE + REPLY
    assert abs(one["duration"] - live["one"]) < 0.05, (one["duration"], live["one"])
    first = next(u for k, u in units.items() if k.step == "many" and k.item == 0)
    assert first["duration"] >= CREATE + REPLY  # the item that made the agent counts it
    step_row = next(u for k, u in units.items() if k.step == "many" and k.item < 0)
    assert abs(step_row["duration"] - live["many"]) < 0.05
    shown = run_detail(harness.records.run(result.run_id), list(units.values()))
    assert f"one: succeeded  attempts 1  {live['one']:.2f}s" in shown
