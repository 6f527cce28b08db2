"""Run records on PostgreSQL (`ORCHESTRATE_RECORDS_URL`): the same Records API and behaviour as
on SQLite, on the embedded stack's real PostgreSQL (a database made for each test), plus the
statement translation on its own."""

from __future__ import annotations

import pytest

from orchestrator.errors import RunError
from orchestrator.run import records_pg
from orchestrator.run.records import Records, UnitKey
from orchestrator.run.runner import resume_run

PIPE = """
inputs: {topic: {type: string}}
agents: {a: {}}
defaults: {retries: {max_attempts: 1, backoff: 0}}
steps:
  research: {agent: a, prompt: "research {{ inputs.topic }}"}
  write: {agent: a, prompt: "write from {{ steps.research.output }}"}
outputs:
  text: "{{ steps.write.output }}"
"""


def test_sqlite_statements_are_translated():
    t = records_pg.translate
    assert (
        t("SELECT * FROM runs WHERE id=? AND x LIKE 'a%'")
        == "SELECT * FROM runs WHERE id=%s AND x LIKE 'a%%'"
    )
    assert t("BEGIN IMMEDIATE") == "BEGIN"
    assert (
        t("CREATE TABLE t (a REAL, b INTEGER)") == "CREATE TABLE t (a DOUBLE PRECISION, b INTEGER)"
    )
    assert t("INSERT OR REPLACE INTO resources VALUES (?,?,?,?,0)") == (
        "INSERT INTO resources (run_id, kind, name, letta_id, deleted) VALUES (%s,%s,%s,%s,0)"
        " ON CONFLICT (run_id, kind, name) DO UPDATE SET letta_id=excluded.letta_id, "
        "deleted=excluded.deleted"
    )
    assert (
        t("ALTER TABLE steps ADD COLUMN replica INTEGER")
        == "ALTER TABLE steps ADD COLUMN IF NOT EXISTS replica INTEGER"
    )


def test_a_password_never_shows():
    url = "postgresql://orch:s3cr3t-pw@db.example:5432/runs"
    assert records_pg.safe_url(url) == "postgresql://orch:***@db.example:5432/runs"


def test_an_unreachable_database_is_a_clear_error():
    with pytest.raises(
        RunError,
        match=r"run records: cannot connect to "
        r"postgresql://u:\*\*\*@127.0.0.1:9/x",
    ) as err:
        Records("postgresql://u:hunter2@127.0.0.1:9/x?connect_timeout=2")
    assert "hunter2" not in str(err.value)


@pytest.mark.integration
def test_a_run_and_its_resume_on_postgres(pg_url, harness, compile_text):
    from orchestrator.errors import BackendError

    harness.records.close()
    harness.records = Records(pg_url)
    harness.backend.script(prompt_contains="write from", fail=BackendError("boom"), times=1)
    first = harness.run(PIPE, {"topic": "owls"})
    assert first.status == "failed"
    again = Records(pg_url)  # another process (a worker elsewhere) sees the same records
    units = again.units(first.run_id)
    assert units[UnitKey("research")]["status"] == "succeeded"
    assert isinstance(units[UnitKey("research")]["ended"], float)
    assert again.find_run(first.run_id[:12])["id"] == first.run_id
    out = resume_run(first.run_id, compile_text(PIPE), harness.backend, again)
    assert out.status == "succeeded", out.error
    assert [p.split()[0] for p in harness.backend.prompts()] == ["research", "write"]  # reused
    listed = again.list_runs()
    assert listed[0]["id"] == first.run_id and listed[0]["status"] == "succeeded"
    assert again.run(first.run_id)["resumes"] == 1
    again.close()
