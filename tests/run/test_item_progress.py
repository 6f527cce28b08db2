"""Each for_each item that ends is an event (`item_finished`): the live table counts them."""

from __future__ import annotations

PIPE = """
agents: {a: {replicas: 2}}
steps:
  many: {agent: a, for_each: "{{ [1, 2, 3, 4] }}", prompt: "item {{ item }}"}
  lp:
    loop:
      max_iterations: 2
      steps:
        body: {agent: a, for_each: "{{ ['x', 'y'] }}", prompt: "body {{ item }}"}
"""


def test_each_item_that_ends_is_an_event(harness):
    harness.backend.script(prompt_contains="item 3", fail=ValueError("boom"))
    harness.run(PIPE.replace("lp:", "lp:\n    needs: [many]"))
    many = [d for k, d in harness.events if k == "item_finished" and d["step"] == "many"]
    assert sorted(d["done"] for d in many) == [1, 2, 3, 4][: len(many)]
    assert {d["total"] for d in many} == {4}
    assert {d["item"]: d["ok"] for d in many}[2] is False  # item 3 is index 2
