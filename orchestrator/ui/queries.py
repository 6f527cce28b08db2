"""What the pages read: one page of runs (filtered, paged in SQL), one run and its units.

Owns `RunFilter`, `runs_page`, `run_page_data` and `change_mark` (what live updates poll).
The list is one query for the page (LIMIT/OFFSET, the run's token and cost sums as
correlated subqueries over the steps' primary key) and one COUNT: 10,000 runs cost what 50
do, plus the count. Statuses are the recorded ones, except that a `running` run whose
process is gone reads `interrupted` (run.liveness), as in `runs list`.

Must not: write, or return anything the records did not hold (they are already redacted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.run import liveness
from orchestrator.run.cost import Cost
from orchestrator.run.records import UNPRICED_SQL, Records

PER_PAGE = 50
# Offered in the status filter even before a run had them; any other recorded one is added.
STATUSES = frozenset({"succeeded", "failed", "cancelled", "running", liveness.INTERRUPTED})
_UNITS = "FROM steps s WHERE s.run_id = r.id AND s.prompt IS NOT NULL"
_LIST_COLUMNS = ("id", "pipeline", "status", "started", "ended", "pid", "host", "error",
                 "tokens", "cost", "unpriced_tokens")
_LIST_SQL = (
    "SELECT r.id, r.pipeline, r.status, r.started, r.ended, r.pid, r.host, r.error,"
    f" (SELECT COALESCE(SUM(s.prompt_tokens + s.completion_tokens), 0) {_UNITS}) AS tokens,"
    f" (SELECT COALESCE(SUM(COALESCE(s.cost, 0)), 0) {_UNITS}) AS cost,"
    f" (SELECT COALESCE(SUM({UNPRICED_SQL}), 0) {_UNITS}) AS unpriced_tokens"
    " FROM runs r{where} ORDER BY r.started DESC, r.id DESC LIMIT ? OFFSET ?")


@dataclass(frozen=True)
class RunFilter:
    pipeline: str | None = None
    status: str | None = None  # a recorded status, or `interrupted`
    page: int = 1

    def where(self) -> tuple[str, tuple[Any, ...]]:
        clauses, params = [], []
        if self.pipeline:
            clauses.append("r.pipeline = ?")
            params.append(self.pipeline)
        if self.status:
            clauses.append("r.status = ?")  # `interrupted` is stored as `running`
            params.append("running" if self.status == liveness.INTERRUPTED else self.status)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)


@dataclass(frozen=True)
class RunsPage:
    runs: list[dict[str, Any]]
    total: int  # runs matching the filter (before the liveness split of `running`)
    page: int
    pages: int
    pipelines: list[str]
    statuses: list[str]


def runs_page(records: Records, flt: RunFilter, per_page: int = PER_PAGE) -> RunsPage:
    where, params = flt.where()
    total = int(records.read(f"SELECT COUNT(*) FROM runs r{where}", params)[0][0])
    pages = max(1, -(-total // per_page))
    page = min(max(1, flt.page), pages)
    rows = records.read(_LIST_SQL.format(where=where),
                        (*params, per_page, (page - 1) * per_page))
    runs = []
    for row in rows:
        run = dict(zip(_LIST_COLUMNS, row, strict=True))
        run["status"] = liveness.shown_status(run)
        run["cost"] = Cost(float(run["cost"] or 0.0), int(run["unpriced_tokens"] or 0))
        run["duration"] = _duration(run)
        runs.append(run)
    if flt.status in ("running", liveness.INTERRUPTED):  # the split only liveness can make
        runs = [r for r in runs if r["status"] == flt.status]
    pipelines = [str(r[0]) for r in records.read(
        "SELECT DISTINCT pipeline FROM runs ORDER BY pipeline")]
    statuses = sorted({str(r[0]) for r in records.read("SELECT DISTINCT status FROM runs")}
                      | STATUSES)
    return RunsPage(runs, total, page, pages, pipelines, statuses)


def _duration(row: dict[str, Any]) -> float | None:
    started, ended = row.get("started"), row.get("ended")
    return None if started is None or ended is None else max(0.0, ended - started)


def run_page_data(records: Records, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The run (status as shown, usage totals) and its unit rows; None if unknown."""
    run = records.run(run_id)
    if run is None:
        return None
    run["status"] = liveness.shown_status(run)
    run["duration"] = _duration(run)
    units = list(records.units(run_id).values())
    usage = records.usage_totals(run_id)
    run["tokens"] = int(usage["prompt_tokens"]) + int(usage["completion_tokens"])
    run["cost"] = Cost(float(usage["cost"]), int(usage["unpriced_tokens"]))
    return run, units


def change_mark(records: Records, run_id: str) -> tuple[Any, ...] | None:
    """Changes whenever the run or any of its units does (cheap: two aggregate rows)."""
    run = records.read("SELECT status, ended, resumes, pid, host FROM runs WHERE id = ?",
                       (run_id,))
    if not run:
        return None
    status, ended, resumes, pid, host = run[0]
    shown = liveness.shown_status({"status": status, "pid": pid, "host": host})
    steps = records.read(
        "SELECT COUNT(*), SUM(attempts), MAX(COALESCE(started, 0)), MAX(COALESCE(ended, 0)),"
        " SUM(CASE WHEN status = 'running' THEN 1 ELSE 0 END),"
        " SUM(prompt_tokens + completion_tokens) FROM steps WHERE run_id = ?", (run_id,))
    return (shown, ended, resumes, *steps[0])
