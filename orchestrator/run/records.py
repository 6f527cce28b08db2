"""Run records: one SQLite file (STATE/runs.db, WAL) that every run writes as it goes.

Owns the schema (versioned in `meta`), `Records` (thread-safe writes: runs, step rows,
the Letta objects a run created) and the read side used by `runs list/show`, `resume`,
and later audit/stats/cost. One row per *unit* (step path, item, iteration): a plain step
has item -1 and iteration 0; a for_each step adds an aggregate row (item -1) to its item
rows; a loop body step is recorded as `loop.body` per iteration, plus the loop's own row.
A unit row names the agent that handled it: `agent` (the pipeline's name), `agent_id` (the
Letta agent) and `replica` (which copy, 1-based, of an agent with `replicas: N`). Resources
name an agent's copies `name`, `name#2`, ...

The intent (status `running`, attempt, otid) is written *before* a message is sent, so a
crash leaves enough to reconcile with the agent's history on resume. Inside `deferring()`
(the local executor's run), a unit's *final* row (any status but `running`) is held back and
committed with the next write, by `flush()` or when the block ends: every commit still holds
every earlier write, and a crash loses at most final rows whose units then look in flight,
which resume reconciles with the agent's history exactly as after a crash mid-message. It
halves the commits per step (a commit costs more than the rest of a step's own work).

Must not: see secrets. Callers pass already-redacted text (see `run.secrets.Redactor`).
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestrator.errors import RunError
from orchestrator.private import private_db
from orchestrator.run import liveness, records_pg
from orchestrator.run.status import (
    APPROVED,
    REJECTED,
    RUNNING,
    WAITING,
    ApprovalStatus,
    RunStatus,
    UnitStatus,
)

SCHEMA_VERSION = 1
NO_ITEM, NO_ITERATION = -1, 0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, file TEXT NOT NULL, file_hash TEXT NOT NULL,
  status TEXT NOT NULL, inputs TEXT NOT NULL, secret_inputs TEXT NOT NULL,
  base_url TEXT, namespace TEXT, options TEXT NOT NULL, outputs TEXT, error TEXT,
  started REAL NOT NULL, ended REAL, resumes INTEGER NOT NULL DEFAULT 0, pid INTEGER);
CREATE TABLE IF NOT EXISTS steps (
  run_id TEXT NOT NULL, step TEXT NOT NULL, item INTEGER NOT NULL, iteration INTEGER NOT NULL,
  status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, agent TEXT, agent_id TEXT,
  model TEXT, prompt TEXT, output TEXT, error TEXT, started REAL, ended REAL, duration REAL,
  prompt_tokens INTEGER NOT NULL DEFAULT 0, completion_tokens INTEGER NOT NULL DEFAULT 0,
  step_count INTEGER NOT NULL DEFAULT 0, otid TEXT, fingerprint TEXT, iterations INTEGER,
  replica INTEGER, PRIMARY KEY (run_id, step, item, iteration));
CREATE TABLE IF NOT EXISTS resources (
  run_id TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL, letta_id TEXT NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (run_id, kind, name));
CREATE INDEX IF NOT EXISTS runs_started ON runs (started);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, at REAL NOT NULL,
  kind TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_run ON events (run_id, id);
CREATE TABLE IF NOT EXISTS approvals (
  run_id TEXT NOT NULL, step TEXT NOT NULL, item INTEGER NOT NULL, iteration INTEGER NOT NULL,
  stage TEXT NOT NULL, status TEXT NOT NULL, prompt TEXT, comment TEXT, decided_by TEXT,
  requested REAL NOT NULL, deadline REAL, decided REAL, tool_call TEXT,
  PRIMARY KEY (run_id, step, item, iteration, stage));
"""

STEP_FIELDS = (
    "status",
    "attempts",
    "agent",
    "agent_id",
    "model",
    "prompt",
    "output",
    "error",
    "started",
    "ended",
    "duration",
    "prompt_tokens",
    "completion_tokens",
    "step_count",
    "otid",
    "fingerprint",
    "iterations",
    "replica",
    "cost",
    "unpriced_tokens",
    "repairs",
    "cache_key",
    "cached",
)
_STEP_FIELD_SET = frozenset(STEP_FIELDS)
# A unit's unpriced tokens; a row written before cost was recorded has no known cost at all.
UNPRICED_SQL = (
    "CASE WHEN cost IS NULL THEN prompt_tokens + completion_tokens"
    " ELSE COALESCE(unpriced_tokens, 0) END"
)
# Columns added after schema 1 shipped: additive, so records stay readable by both versions.
# `cost`: US dollars for the unit's priced tokens (run.cost; NULL before cost was recorded),
# `unpriced_tokens`: its tokens of a model with no price, `repairs`: JSON repair attempts.
# `runs.host`: the machine whose process `pid` is (run.liveness checks it only there).
# `cache_key`: a `cache: true` unit's key (run.cache), `cached`: 1 if its output came from
# an earlier run by that key.
_ADDED_COLUMNS = {
    "steps": (
        ("replica", "INTEGER"),
        ("cost", "REAL"),
        ("unpriced_tokens", "INTEGER"),
        ("repairs", "INTEGER"),
        ("cache_key", "TEXT"),
        ("cached", "INTEGER"),
    ),
    "runs": (("host", "TEXT"),),
}


@dataclass(frozen=True)
class UnitKey:
    step: str  # "name", or "loop.body" for loop body steps
    item: int = NO_ITEM
    iteration: int = NO_ITERATION

    def label(self) -> str:
        text = self.step
        if self.iteration:
            text += f"#{self.iteration}"
        if self.item >= 0:
            text += f"[{self.item}]"
        return text


class Records:
    def __init__(self, path: str | Path):
        """`path`: the SQLite file (the default, STATE/runs.db), or a `postgresql://` URL
        (records that workers on other machines reach; see run.records_pg)."""
        self.location = str(path)  # what another process opens to read these records
        self._db: Any
        if records_pg.is_url(path):
            self.path = Path(records_pg.safe_url(str(path)))  # for messages only
            self._db = records_pg.connect(str(path))
        else:
            self.path = Path(path)
            self.location = str(self.path.resolve())
            private_db(self.path)
            # One connection shared by the worker threads, serialised by a lock: SQLite
            # writes are serialised anyway, and this keeps each write a fast transaction.
            self._db = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=30
            )
            self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        self._pending: list[tuple[str, tuple]] = []  # final unit rows held back (deferring)
        self._deferring = 0
        self._db.execute("PRAGMA journal_mode=WAL")  # readers never block the running run
        self._db.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; fast commits
        self._db.executescript(_SCHEMA)
        self._add_columns()
        self._db.execute("CREATE INDEX IF NOT EXISTS steps_cache ON steps (cache_key)")
        with self._tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        if row is not None and int(row[0]) > SCHEMA_VERSION:
            self._db.close()
            raise RunError(
                f"{self.path}: run records of a newer orchestrate "
                f"(schema {row[0]}); upgrade orchestrate to read them"
            )

    def _add_columns(self) -> None:
        for table, columns in _ADDED_COLUMNS.items():
            have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for name, kind in columns:
                if name not in have:
                    try:
                        self._db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
                    # mypy cannot type a starred tuple in an except clause; evaluated only
                    # on an error, so psycopg is not imported for nothing
                    except (
                        sqlite3.OperationalError,  # type: ignore[misc]
                        *records_pg.database_errors(),
                    ):
                        # another process added it just now
                        pass

    def close(self) -> None:
        with self._lock:
            if self._pending:
                self._commit_locked(())
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One transaction, after the rows held back (so they commit first, together)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in self._pending:
                    self._db.execute(sql, params)
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self._pending.clear()

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._pending:  # this process reads what it wrote
                self._commit_locked(())
            yield self._db

    def _commit_locked(self, writes: Iterable[tuple[str, tuple]]) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in (*self._pending, *writes):
                self._db.execute(sql, params)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        self._pending.clear()

    @contextmanager
    def deferring(self) -> Iterator[None]:
        """Hold final unit rows back until the next write or `flush()` (see the module
        docstring); everything is committed when the block ends."""
        with self._lock:
            self._deferring += 1
        try:
            yield
        finally:
            with self._lock:
                self._deferring -= 1
            self.flush()

    def flush(self) -> None:
        """Commit the rows held back now (the executor calls it whenever it is idle)."""
        with self._lock:
            if self._pending:
                self._commit_locked(())

    # ----- runs -----
    def start_run(
        self,
        run_id: str,
        *,
        pipeline: str,
        file: str,
        file_hash: str,
        inputs: dict,
        secret_inputs: list[str],
        base_url: str,
        namespace: str,
        options: dict,
        pid: int,
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO runs (id, pipeline, file, file_hash, status, inputs, secret_inputs,"
                " base_url, namespace, options, started, pid, host)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    pipeline,
                    file,
                    file_hash,
                    RUNNING,
                    _dump(inputs),
                    _dump(secret_inputs),
                    base_url,
                    namespace,
                    _dump(options),
                    time.time(),
                    pid,
                    liveness.this_host(),
                ),
            )

    def reopen_run(self, run_id: str, *, file_hash: str, base_url: str, pid: int) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET status='running', ended=NULL, error=NULL, file_hash=?,"
                " base_url=?, pid=?, host=?, resumes=resumes+1 WHERE id=?",
                (file_hash, base_url, pid, liveness.this_host(), run_id),
            )

    def finish_run(
        self, run_id: str, status: RunStatus, *, outputs: Any = None, error: str | None = None
    ) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET status=?, outputs=?, error=?, ended=? WHERE id=?",
                (status, None if outputs is None else _dump(outputs), error, time.time(), run_id),
            )

    def run(self, run_id: str) -> dict | None:
        with self._reading():
            row = self._db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        return _run_row(row) if row else None

    def find_run(self, prefix: str) -> dict | None:
        """By full id or a unique prefix (like git); None if nothing matches. An ambiguous
        prefix is a RunError listing a few of the runs it matches. The prefix is compared
        literally (no LIKE wildcards: `_` and `%` are plain characters)."""
        with self._reading():
            exact = self._db.execute("SELECT * FROM runs WHERE id=?", (prefix,)).fetchone()
            rows = (
                exact
                and [exact]
                or self._db.execute(
                    "SELECT * FROM runs WHERE substr(id, 1, ?) = ? ORDER BY started DESC",
                    (len(prefix), prefix),
                ).fetchall()
            )
        if len(rows) > 1:
            shown = ", ".join(r["id"] for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
            raise RunError(
                f"run id prefix '{prefix}' matches {len(rows)} runs ({shown}): give more of the id"
            )
        return _run_row(rows[0]) if rows else None

    def list_runs(self, limit: int = 20) -> list[dict]:
        units = "FROM steps s WHERE s.run_id = r.id AND s.item >= -1 AND s.prompt IS NOT NULL"
        with self._reading():
            rows = self._db.execute(
                "SELECT r.*, (SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0)"
                f" {units}) AS tokens, (SELECT COALESCE(SUM(COALESCE(cost, 0)), 0) {units})"
                f" AS cost, (SELECT COALESCE(SUM({UNPRICED_SQL}), 0) {units}) AS unpriced_tokens"
                " FROM runs r ORDER BY started DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [_run_row(r) for r in rows]

    def usage_totals(self, run_id: str) -> dict[str, Any]:
        """What the whole run used, over every attempt (its unit rows): prompt_tokens,
        completion_tokens, cost (priced part, USD), unpriced_tokens."""
        with self._reading():
            row = self._db.execute(
                "SELECT COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens,"
                " COALESCE(SUM(completion_tokens), 0) AS completion_tokens,"
                " COALESCE(SUM(COALESCE(cost, 0)), 0) AS cost,"
                f" COALESCE(SUM({UNPRICED_SQL}), 0) AS unpriced_tokens FROM steps"
                " WHERE run_id=? AND prompt IS NOT NULL",
                (run_id,),
            ).fetchone()
        return dict(row)

    def read(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Rows of a read-only query (stats), as tuples in the order selected: portable
        SQL, `?` placeholders."""
        with self._reading():
            if isinstance(self._db, sqlite3.Connection):
                cursor = self._db.cursor()
                cursor.row_factory = None  # plain tuples: no Row per row (10,000s of rows)
                return cursor.execute(sql, params).fetchall()
            rows = self._db.execute(sql, params).fetchall()
        return [tuple(r.values()) for r in rows]

    # ----- steps -----
    def write_unit(self, run_id: str, key: UnitKey, **fields: Any) -> None:
        unknown = fields.keys() - _STEP_FIELD_SET
        if unknown:
            raise ValueError(f"unknown step record fields: {sorted(unknown)}")
        if "output" in fields and fields["output"] is not None:
            fields["output"] = _dump(fields["output"])
        write = (
            _upsert(tuple(fields)),
            (run_id, key.step, key.item, key.iteration, *fields.values()),
        )
        with self._lock:
            if self._deferring and fields.get("status") != RUNNING:
                self._pending.append(write)  # final: may wait for the next commit
            elif self._pending:
                self._commit_locked((write,))
            else:
                self._db.execute(*write)  # one statement is one transaction (autocommit)

    def units(self, run_id: str) -> dict[UnitKey, dict]:
        with self._reading():
            rows = self._db.execute(
                "SELECT * FROM steps WHERE run_id=? ORDER BY COALESCE(started, 0), step, "
                "iteration, item",
                (run_id,),
            ).fetchall()
        return {UnitKey(r["step"], r["item"], r["iteration"]): _step_row(r) for r in rows}

    def mark_interrupted(self, run_id: str, status: UnitStatus, error: str) -> None:
        """Steps still `running` when the run stops (cancel, crash noticed on resume)."""
        with self._tx() as db:
            db.execute(
                "UPDATE steps SET status=?, error=COALESCE(error, ?), ended=? "
                "WHERE run_id=? AND status='running'",
                (status, error, time.time(), run_id),
            )

    # ----- approval gates (run.approval) and the step cache (run.cache) -----
    def approval(self, run_id: str, key: UnitKey, stage: str) -> dict | None:
        with self._reading() as db:
            row = db.execute(
                "SELECT * FROM approvals WHERE run_id=? AND step=? AND item=? AND"
                " iteration=? AND stage=?",
                (run_id, key.step, key.item, key.iteration, stage),
            ).fetchone()
        return dict(row) if row else None

    def approvals(
        self, run_id: str | None = None, status: ApprovalStatus | None = None
    ) -> list[dict]:
        """A run's gates (every run's without `run_id`), optionally only those in `status`."""
        where, params = [], []
        if run_id is not None:
            where.append("run_id=?")
            params.append(run_id)
        if status is not None:
            where.append("status=?")
            params.append(status)
        sql = "SELECT * FROM approvals" + (" WHERE " + " AND ".join(where) if where else "")
        with self._reading() as db:
            rows = db.execute(
                sql + " ORDER BY requested, step, iteration, item", tuple(params)
            ).fetchall()
        return [dict(r) for r in rows]

    def ask_approval(
        self,
        run_id: str,
        key: UnitKey,
        stage: str,
        *,
        prompt: str,
        deadline: float | None,
        tool_call: str | None = None,
    ) -> None:
        """A gate now waits (once: asking again keeps the first request and its deadline)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO approvals (run_id, step, item, iteration, stage, status,"
                " prompt, requested, deadline, tool_call) VALUES (?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (run_id, step, item, iteration, stage) DO NOTHING",
                (
                    run_id,
                    key.step,
                    key.item,
                    key.iteration,
                    stage,
                    WAITING,
                    prompt,
                    time.time(),
                    deadline,
                    tool_call,
                ),
            )

    def decide_approval(
        self,
        run_id: str,
        key: UnitKey,
        stage: str,
        *,
        approved: bool,
        comment: str | None,
        decided_by: str,
    ) -> bool:
        """Answer a waiting gate; False if it was not waiting (answered already)."""
        where = "run_id=? AND step=? AND item=? AND iteration=? AND stage=? AND status='waiting'"
        params = (run_id, key.step, key.item, key.iteration, stage)
        with self._tx() as db:  # one transaction: of two answers at once, one wins
            if db.execute(f"SELECT 1 FROM approvals WHERE {where}", params).fetchone() is None:
                return False
            db.execute(
                f"UPDATE approvals SET status=?, comment=?, decided_by=?, decided=? WHERE {where}",
                (APPROVED if approved else REJECTED, comment, decided_by, time.time(), *params),
            )
        return True

    def set_tool_call(self, run_id: str, key: UnitKey, stage: str, tool_call: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE approvals SET tool_call=? WHERE run_id=? AND step=? AND item=?"
                " AND iteration=? AND stage=?",
                (tool_call, run_id, key.step, key.item, key.iteration, stage),
            )

    def cached_output(self, cache_key: str, run_id: str) -> dict | None:
        """The newest succeeded unit recorded with `cache_key` by a run other than `run_id`
        (a loop's iterations of one run are not each other's cache), or None."""
        with self._reading() as db:
            row = db.execute(
                "SELECT run_id, output, ended FROM steps WHERE cache_key=? AND"
                " status='succeeded' AND run_id<>? ORDER BY ended DESC LIMIT 1",
                (cache_key, run_id),
            ).fetchone()
        if row is None:
            return None
        data = dict(row)
        data["output"] = None if data["output"] is None else json.loads(data["output"])
        return data

    # ----- events relayed from other processes (Temporal workers) -----
    def add_event(self, run_id: str, kind: str, data: dict[str, Any]) -> None:
        """A run event a worker saw (already redacted), for the process following the run."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO events (run_id, at, kind, data) VALUES (?,?,?,?)",
                (run_id, time.time(), kind, _dump(data)),
            )

    def events(self, run_id: str, after: int = 0) -> list[tuple[int, str, dict[str, Any]]]:
        """(id, kind, data) of the run's relayed events with id > `after`, oldest first."""
        with self._reading() as db:
            rows = db.execute(
                "SELECT id, kind, data FROM events WHERE run_id=? AND id>? ORDER BY id",
                (run_id, after),
            ).fetchall()
        return [(int(r["id"]), str(r["kind"]), json.loads(r["data"])) for r in rows]

    # ----- Letta objects created for a run -----
    def add_resource(self, run_id: str, kind: str, name: str, letta_id: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO resources VALUES (?,?,?,?,0)",
                (run_id, kind, name, letta_id),
            )

    def resources(self, run_id: str) -> list[dict]:
        with self._reading():
            rows = self._db.execute("SELECT * FROM resources WHERE run_id=?", (run_id,)).fetchall()
        return [dict(r) for r in rows]

    def mark_deleted(self, run_id: str, kind: str, name: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE resources SET deleted=1 WHERE run_id=? AND kind=? AND name=?",
                (run_id, kind, name),
            )


@functools.lru_cache(maxsize=256)
def _upsert(fields: tuple[str, ...]) -> str:
    cols, marks = ", ".join(fields), ", ".join("?" for _ in fields)
    updates = ", ".join(f"{c}=excluded.{c}" for c in fields)
    return (
        f"INSERT INTO steps (run_id, step, item, iteration, {cols}) VALUES (?,?,?,?,{marks})"
        f" ON CONFLICT (run_id, step, item, iteration) DO UPDATE SET {updates}"
    )


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _run_row(row: sqlite3.Row) -> dict:
    data = dict(row)
    for key in ("inputs", "secret_inputs", "options", "outputs"):
        if data.get(key) is not None:
            data[key] = json.loads(data[key])
    return data


def _step_row(row: sqlite3.Row) -> dict:
    data = dict(row)
    if data.get("output") is not None:
        data["output"] = json.loads(data["output"])
    return data
