"""Batch records: the `batches` and `batch_items` tables, in the same STATE/runs.db as runs.

Owns those two tables (created here with CREATE TABLE IF NOT EXISTS, on a connection of its
own, so `run.records` keeps sole charge of the run tables and their schema) and
`BatchRecords`: a batch (its id, the pipeline, the batch file with its sha256, where results
go, the options, status, pid) and per non-blank line of the file its status and run id.
Item statuses: `pending` (not started), `running` (its run id is written *before* the run
starts, so a crash leaves the id to resume), `succeeded`, `failed`, `invalid` (a bad line:
never run), `cancelled` (Ctrl-C stopped it; resumable). `finished` ones are never redone.

Must not: see secrets (no inputs are stored here: they stay in the batch file, and each
run's own record holds its non-secret inputs), or touch the run tables.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from orchestrator.errors import RunError
from orchestrator.private import private_db
from orchestrator.run.status import FINISHED_ITEM, RUNNING, BatchStatus, ItemStatus

BATCH_PREFIX = "batch-"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
  id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, pipeline_file TEXT NOT NULL,
  file TEXT NOT NULL, file_hash TEXT NOT NULL, results TEXT NOT NULL, status TEXT NOT NULL,
  options TEXT NOT NULL, total INTEGER NOT NULL, error TEXT, started REAL NOT NULL,
  ended REAL, resumes INTEGER NOT NULL DEFAULT 0, pid INTEGER);
CREATE TABLE IF NOT EXISTS batch_items (
  batch_id TEXT NOT NULL, line INTEGER NOT NULL, status TEXT NOT NULL, run_id TEXT,
  error TEXT, started REAL, ended REAL, PRIMARY KEY (batch_id, line));
CREATE INDEX IF NOT EXISTS batches_started ON batches (started);
CREATE INDEX IF NOT EXISTS batch_items_run ON batch_items (run_id);
"""

_COUNTS = "SELECT status, COUNT(*) FROM batch_items WHERE batch_id=? GROUP BY status"


class BatchRecords:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        private_db(self.path)
        self._db = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=30
        )
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, sql: str, args: tuple[Any, ...]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(sql, args)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # ----- writes -----
    def create(
        self,
        batch_id: str,
        *,
        pipeline: str,
        pipeline_file: str,
        file: str,
        file_hash: str,
        results: str,
        options: dict[str, Any],
        items: list[tuple[int, ItemStatus, str | None]],
        pid: int,
    ) -> None:
        """`items`: (line, status, error) for every non-blank line, in one transaction."""
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO batches (id, pipeline, pipeline_file, file, file_hash, results,"
                    " status, options, total, started, pid) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        batch_id,
                        pipeline,
                        pipeline_file,
                        file,
                        file_hash,
                        results,
                        RUNNING,
                        json.dumps(options),
                        len(items),
                        now,
                        pid,
                    ),
                )
                self._db.executemany(
                    "INSERT INTO batch_items (batch_id, line, status, error, ended) "
                    "VALUES (?,?,?,?,?)",
                    [
                        (batch_id, line, status, error, now if status in FINISHED_ITEM else None)
                        for line, status, error in items
                    ],
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def reopen(self, batch_id: str, *, pid: int, options: dict[str, Any]) -> None:
        self._write(
            "UPDATE batches SET status=?, ended=NULL, error=NULL, pid=?, options=?, "
            "resumes=resumes+1 WHERE id=?",
            (RUNNING, pid, json.dumps(options), batch_id),
        )

    def finish(self, batch_id: str, status: BatchStatus, error: str | None = None) -> None:
        self._write(
            "UPDATE batches SET status=?, error=?, ended=? WHERE id=?",
            (status, error, time.time(), batch_id),
        )

    def item_running(self, batch_id: str, line: int, run_id: str) -> None:
        self._write(
            "UPDATE batch_items SET status=?, run_id=?, error=NULL, "
            "started=COALESCE(started, ?), ended=NULL WHERE batch_id=? AND line=?",
            (RUNNING, run_id, time.time(), batch_id, line),
        )

    def item_done(
        self, batch_id: str, line: int, status: ItemStatus, *, run_id: str | None, error: str | None
    ) -> None:
        self._write(
            "UPDATE batch_items SET status=?, run_id=?, error=?, ended=? "
            "WHERE batch_id=? AND line=?",
            (status, run_id, error, time.time(), batch_id, line),
        )

    # ----- reads -----
    def batch(self, batch_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM batches WHERE id=?", (batch_id,)).fetchone()
        return self._with_counts(row) if row else None

    def find(self, prefix: str) -> dict[str, Any] | None:
        """By full id or a unique prefix (compared literally); None if nothing matches."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM batches WHERE substr(id, 1, ?) = ? ORDER BY started DESC",
                (len(prefix), prefix),
            ).fetchall()
        exact = [r for r in rows if r["id"] == prefix]
        rows = exact or rows
        if len(rows) > 1:
            shown = ", ".join(r["id"] for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
            raise RunError(
                f"batch id prefix '{prefix}' matches {len(rows)} batches ({shown}): "
                "give more of the id"
            )
        return self._with_counts(rows[0]) if rows else None

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM batches ORDER BY started DESC LIMIT ?", (limit,)
            ).fetchall()
        return [self._with_counts(r) for r in rows]

    def items(self, batch_id: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM batch_items WHERE batch_id=? ORDER BY line", (batch_id,)
            ).fetchall()
        return [dict(r) for r in rows]

    def _with_counts(self, row: sqlite3.Row) -> dict[str, Any]:
        data = dict(row)
        data["options"] = json.loads(data["options"])
        with self._lock:
            counts = dict(self._db.execute(_COUNTS, (data["id"],)).fetchall())
        data["counts"] = {k: int(v) for k, v in counts.items()}
        return data


def is_batch_id(text: str) -> bool:
    return text.startswith(BATCH_PREFIX)
