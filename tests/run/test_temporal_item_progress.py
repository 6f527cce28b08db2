"""On Temporal, each for_each item's activity reports that it ended and the starting
process counts them: the live table's "2/3 items" works as on the local executor."""

from __future__ import annotations

import pytest

pytest.importorskip("temporalio")

from test_temporal_e2e import PIPELINES, workers  # noqa: E402, F401 - `workers`: the fixture

from orchestrator.backends.letta import LettaBackend  # noqa: E402
from orchestrator.compile import load_plan  # noqa: E402
from orchestrator.run.records import Records  # noqa: E402
from orchestrator.run.runner import start_run  # noqa: E402

pytestmark = pytest.mark.integration


def test_item_progress_reaches_the_starting_process(
    letta_stack,
    model_script,
    workers,  # noqa: F811
    tmp_path,
):
    model_script([])
    workers.start()
    records = Records(tmp_path / "runs.db")
    events: list[tuple[str, dict]] = []
    try:
        out = start_run(
            load_plan(PIPELINES / "parallel-analysis.yaml"),
            {"proposal": "Sell owl feeders"},
            LettaBackend(letta_stack.base_url),
            records,
            options=workers.options(),
            emit=lambda k, **d: events.append((k, d)),
        )
        assert out.status == "succeeded", out.error
        items = [d for k, d in events if k == "item_finished"]
        assert sorted(d["item"] for d in items) == [0, 1, 2]  # each once
        assert [d["done"] for d in items] == [1, 2, 3]
        assert {(d["step"], d["total"], d["ok"]) for d in items} == {("summaries", 3, True)}
        finished = next(
            i
            for i, (k, d) in enumerate(events)
            if k == "step_finished" and d["step"] == "summaries"
        )
        assert max(i for i, (k, _) in enumerate(events) if k == "item_finished") < finished
    finally:
        records.close()
