"""What the pages read: one page of runs (filtered, paged in SQL), one run and its units.

Owns `RunFilter`, `runs_page`, `run_page_data` and `change_mark` (what live updates poll).
The list is one query for the page (keyset paging on `started`, indexed, and the id: no
OFFSET; the page's token and cost sums are correlated subqueries over the steps' primary
key), its COUNTs and the filter's DISTINCT lists: 10,000 runs cost what 50 do, plus those
scans. Statuses are the recorded ones, except that a `running` run whose
process is gone reads `interrupted` (run.liveness), as in `runs list`.

Must not: write, or return anything the records did not hold (they are already redacted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestrator.run import liveness
from orchestrator.run.cost import Cost
from orchestrator.run.records import UNPRICED_SQL, Records
from orchestrator.run.status import CANCELLED, FAILED, INTERRUPTED, RUNNING, SUCCEEDED

PER_PAGE = 50
# Offered in the status filter even before a run had them; any other recorded one is added.
STATUSES = frozenset({SUCCEEDED, FAILED, CANCELLED, RUNNING, INTERRUPTED})
_UNITS = "FROM steps s WHERE s.run_id = r.id AND s.prompt IS NOT NULL"
_LIST_COLUMNS = (
    "id",
    "pipeline",
    "status",
    "started",
    "ended",
    "pid",
    "host",
    "error",
    "tokens",
    "cost",
    "unpriced_tokens",
)
_LIST_SQL = (
    "SELECT r.id, r.pipeline, r.status, r.started, r.ended, r.pid, r.host, r.error,"
    f" (SELECT COALESCE(SUM(s.prompt_tokens + s.completion_tokens), 0) {_UNITS}) AS tokens,"
    f" (SELECT COALESCE(SUM(COALESCE(s.cost, 0)), 0) {_UNITS}) AS cost,"
    f" (SELECT COALESCE(SUM({UNPRICED_SQL}), 0) {_UNITS}) AS unpriced_tokens"
    " FROM runs r{where} ORDER BY r.started {order}, r.id {order} LIMIT ?"
)


@dataclass(frozen=True)
class Cursor:
    """A place in the list, newest first: the (started, id) of a run at a page's edge."""

    started: float
    run_id: str

    def text(self) -> str:
        return f"{self.started!r}~{self.run_id}"

    @staticmethod
    def parse(text: str | None) -> Cursor | None:
        started, sep, run_id = (text or "").partition("~")
        try:
            return Cursor(float(started), run_id) if sep else None
        except ValueError:
            return None


@dataclass(frozen=True)
class RunFilter:
    pipeline: str | None = None
    status: str | None = None  # a recorded status, or `interrupted`
    before: Cursor | None = None  # older than this run (the next page)
    after: Cursor | None = None  # newer than this run (the previous page)

    def where(self, *extra: str) -> tuple[str, list[Any]]:
        clauses, params = list(extra), []
        if self.pipeline:
            clauses.append("r.pipeline = ?")
            params.append(self.pipeline)
        if self.status:
            clauses.append("r.status = ?")  # `interrupted` is stored as `running`
            params.append(RUNNING if self.status == INTERRUPTED else self.status)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


@dataclass(frozen=True)
class RunsPage:
    runs: list[dict[str, Any]]
    total: int  # runs matching the filter (before the liveness split of `running`)
    first: int  # how many matching runs are newer than this page
    newer: Cursor | None  # for the link to the newer page (None: this is the newest)
    older: Cursor | None  # for the link to the older page (None: this is the oldest)
    pipelines: list[str]
    statuses: list[str]


def runs_page(records: Records, flt: RunFilter, per_page: int | None = None) -> RunsPage:
    """One page, by keyset: `started` (indexed) and the id after it, never an OFFSET, so the
    oldest page of 10,000 runs costs what the newest does."""
    per_page = per_page or PER_PAGE
    where, params = flt.where()
    total = int(records.read(f"SELECT COUNT(*) FROM runs r{where}", tuple(params))[0][0])
    edge, order = flt.before or flt.after, "ASC" if flt.after and not flt.before else "DESC"
    if edge is None:
        rows = records.read(_LIST_SQL.format(where=where, order="DESC"), (*params, per_page))
    else:
        # started <= edge (a range on the index), minus the edge run and the ties before it
        op, tie = ("<=", ">=") if order == "DESC" else (">=", "<=")
        keyed, keyed_params = flt.where(
            f"r.started {op} ?", f"NOT (r.started = ? AND r.id {tie} ?)"
        )
        rows = records.read(
            _LIST_SQL.format(where=keyed, order=order),
            (edge.started, edge.started, edge.run_id, *keyed_params, per_page),
        )
        if order == "ASC":
            rows = rows[::-1]
    runs = [_listed(dict(zip(_LIST_COLUMNS, row, strict=True))) for row in rows]
    first = _newer_than(records, flt, runs[0]) if runs and edge is not None else 0
    if not runs and edge is not None:  # past either end: show the newest page
        return runs_page(records, RunFilter(flt.pipeline, flt.status), per_page)
    newer = Cursor(runs[0]["started"], runs[0]["id"]) if runs and first > 0 else None
    older = (
        Cursor(runs[-1]["started"], runs[-1]["id"]) if runs and first + len(runs) < total else None
    )
    if flt.status in (RUNNING, INTERRUPTED):  # the split only liveness can make
        runs = [r for r in runs if r["status"] == flt.status]
    pipelines, statuses = _choices(records)
    return RunsPage(runs, total, first, newer, older, pipelines, statuses)


_CHOICES: dict[str, tuple[tuple[Any, ...], list[str], list[str]]] = {}


def _choices(records: Records) -> tuple[list[str], list[str]]:
    """The filter's pipelines and statuses. Each is a scan of every run, so they are kept
    until a run is added or removed (COUNT and MAX(started) are answered by the index)."""
    mark = tuple(records.read("SELECT COUNT(*), MAX(started) FROM runs")[0])
    cached = _CHOICES.get(records.location)
    if cached is None or cached[0] != mark:
        pipelines = [
            str(r[0]) for r in records.read("SELECT DISTINCT pipeline FROM runs ORDER BY pipeline")
        ]
        statuses = sorted(
            {str(r[0]) for r in records.read("SELECT DISTINCT status FROM runs")} | STATUSES
        )
        cached = _CHOICES[records.location] = (mark, pipelines, statuses)
    return cached[1], cached[2]


def _listed(run: dict[str, Any]) -> dict[str, Any]:
    run["status"] = liveness.shown_status(run)
    run["cost"] = Cost(float(run["cost"] or 0.0), int(run["unpriced_tokens"] or 0))
    run["duration"] = _duration(run)
    return run


def _newer_than(records: Records, flt: RunFilter, run: dict[str, Any]) -> int:
    """Matching runs newer than `run`: two counts, the first on the index alone."""
    where, params = flt.where("r.started > ?")
    later = records.read(f"SELECT COUNT(*) FROM runs r{where}", (run["started"], *params))
    where, params = flt.where("r.started = ?", "r.id > ?")
    ties = records.read(f"SELECT COUNT(*) FROM runs r{where}", (run["started"], run["id"], *params))
    return int(later[0][0]) + int(ties[0][0])


def _duration(row: dict[str, Any]) -> float | None:
    started, ended = row.get("started"), row.get("ended")
    return None if started is None or ended is None else max(0.0, ended - started)


def run_page_data(
    records: Records, run_id: str
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
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
    run = records.read("SELECT status, ended, resumes, pid, host FROM runs WHERE id = ?", (run_id,))
    if not run:
        return None
    status, ended, resumes, pid, host = run[0]
    shown = liveness.shown_status({"status": status, "pid": pid, "host": host})
    steps = records.read(
        "SELECT COUNT(*), SUM(attempts), MAX(COALESCE(started, 0)), MAX(COALESCE(ended, 0)),"
        " SUM(CASE WHEN status = 'running' THEN 1 ELSE 0 END),"
        " SUM(prompt_tokens + completion_tokens) FROM steps WHERE run_id = ?",
        (run_id,),
    )
    return (shown, ended, resumes, *steps[0])
