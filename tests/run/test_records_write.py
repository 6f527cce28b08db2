"""The records' write path: an intent is durable before the call returns (it precedes a
message); final rows may wait for the next commit only inside `deferring()`, and nothing is
ever committed out of order."""

from __future__ import annotations

import sqlite3

from orchestrator.run.records import Records, UnitKey


def _committed(path, step):
    with sqlite3.connect(path) as other:  # another process's view: committed rows only
        row = other.execute("SELECT status FROM steps WHERE step=?", (step,)).fetchone()
    return row[0] if row else None


def test_without_deferring_every_write_is_committed_at_once(tmp_path):
    records = Records(tmp_path / "runs.db")
    records.write_unit("r1", UnitKey("a"), status="succeeded", output="x")
    assert _committed(tmp_path / "runs.db", "a") == "succeeded"


def test_deferred_final_rows_commit_with_the_next_intent(tmp_path):
    db = tmp_path / "runs.db"
    records = Records(db)
    with records.deferring():
        records.write_unit("r1", UnitKey("a"), status="running", otid="o1")
        assert _committed(db, "a") == "running"  # the intent: before any message
        records.write_unit("r1", UnitKey("a"), status="succeeded", output="x")
        assert _committed(db, "a") == "running"  # held back
        assert records.units("r1")[UnitKey("a")]["status"] == "succeeded"  # own reads see it
        records.write_unit("r1", UnitKey("b"), status="running", otid="o2")
        records.write_unit("r1", UnitKey("b"), status="succeeded", output="y")
        # b's intent carried a's final row: a commit never holds a later write without
        # every earlier one
        assert _committed(db, "a") == "succeeded"
        assert _committed(db, "b") == "running"
        records.flush()
        assert _committed(db, "b") == "succeeded"
        records.write_unit("r1", UnitKey("c"), status="skipped")
    assert _committed(db, "c") == "skipped"  # the block's end commits what is left


def test_run_level_writes_commit_held_rows_first(tmp_path):
    db = tmp_path / "runs.db"
    records = Records(db)
    with records.deferring():
        records.write_unit("r1", UnitKey("a"), status="failed", error="boom")
        records.add_resource("r1", "agent", "a", "agent-1")
        assert _committed(db, "a") == "failed"
