"""The live table shows a for_each's progress item by item (issue 15 item 9)."""

from __future__ import annotations

from io import StringIO

from rich.console import Console
from test_item_progress import PIPE

from orchestrator.run.progress import LiveReporter


def test_the_live_table_counts_items_of_a_step_and_of_a_loop_body(harness):
    harness.run(PIPE)
    events = harness.events
    assert [
        (d["step"], d["done"])
        for k, d in events
        if k == "item_finished" and d["step"].startswith("lp")
    ] == [("lp.body#1", 1), ("lp.body#1", 2), ("lp.body#2", 1), ("lp.body#2", 2)]
    out = StringIO()
    reporter = LiveReporter(Console(file=out, force_terminal=True, width=200, color_system=None))
    seen = []
    for kind, data in events:  # replayed until the middle of each fan-out
        if kind == "step_finished":
            continue
        reporter(kind, **data)
        if kind == "item_finished" and data["done"] == 2:
            table = StringIO()
            Console(file=table, width=200, color_system=None).print(reporter._table())
            seen.append(table.getvalue())
    reporter._live.stop()
    assert any("many  running (2/4 items)" in t for t in seen), seen
    assert any("lp    running (2/2 items)" in t for t in seen), seen
