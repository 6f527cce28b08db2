"""Run records on PostgreSQL: a connection that speaks what `Records` says to SQLite.

Owns `is_url`, `connect(url)` and `PgConnection`, a small adapter over one psycopg (3)
connection in autocommit mode, so `run.records.Records` (and the batch records) keep one set
of statements for both databases. It translates the few SQLite-isms the records use:
`?` placeholders, `BEGIN IMMEDIATE`, `INSERT OR REPLACE` (an upsert on the table's primary
key), `REAL` columns (double precision: epoch seconds need it), `AUTOINCREMENT` keys,
`PRAGMA table_info`, and
`PRAGMA` settings (ignored). Rows read by name and by position, like `sqlite3.Row`.

Why PostgreSQL: workers of the Temporal executor may run on other machines, and a step's
record must not need a disk that only the starting machine has. The embedded stack already
runs PostgreSQL; any other reachable one works too (`ORCHESTRATE_RECORDS_URL`).

Must not: know the records' meaning; log or echo the URL's password.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from orchestrator.errors import RunError

# The primary key of each records table, for `INSERT OR REPLACE` -> upsert.
PRIMARY_KEYS = {
    "resources": ("run_id", "kind", "name"),
    "meta": ("key",),
    "runs": ("id",),
    "steps": ("run_id", "step", "item", "iteration"),
    "batches": ("id",),
    "batch_items": ("batch_id", "line"),
}
# The columns of tables written positionally with `INSERT OR REPLACE ... VALUES (...)`.
POSITIONAL = {"resources": ("run_id", "kind", "name", "letta_id", "deleted")}
_OR_REPLACE = re.compile(
    r"^\s*INSERT\s+OR\s+REPLACE\s+INTO\s+(\w+)\s*(\([^)]*\))?\s*VALUES", re.IGNORECASE
)
_TABLE_INFO = re.compile(r"^\s*PRAGMA\s+table_info\((\w+)\)\s*$", re.IGNORECASE)


def is_url(location: object) -> bool:
    return str(location).startswith(("postgresql://", "postgres://"))


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


class Row(dict[str, Any]):
    """A row by column name (`row["id"]`, `dict(row)`) and by position (`row[0]`)."""

    def __getitem__(self, key: str | int) -> Any:
        if isinstance(key, int):
            return list(self.values())[key]
        return super().__getitem__(key)


class _Cursor:
    def __init__(self, rows: list[Row]):
        self._rows = rows

    def fetchone(self) -> Row | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Row]:
        return self._rows

    def __iter__(self) -> Iterator[Row]:
        return iter(self._rows)


class PgConnection:
    def __init__(self, conn: Any):
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Cursor:
        info = _TABLE_INFO.match(sql)
        if info:
            return self._table_info(info.group(1))
        if sql.lstrip().upper().startswith("PRAGMA"):
            return _Cursor([])
        cur = self._conn.execute(translate(sql), tuple(params))
        if cur.description is None:
            return _Cursor([])
        names = [c.name for c in cur.description]
        return _Cursor([Row(zip(names, values, strict=True)) for values in cur.fetchall()])

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]]) -> None:
        for params in seq:
            self.execute(sql, params)

    def executescript(self, script: str) -> None:
        for statement in script.split(";"):
            if statement.strip():
                self.execute(statement)

    def close(self) -> None:
        self._conn.close()

    def _table_info(self, table: str) -> _Cursor:
        cur = self._conn.execute(
            "SELECT ordinal_position - 1 AS cid, column_name AS name FROM "
            "information_schema.columns WHERE table_schema = current_schema() AND "
            "table_name = %s ORDER BY ordinal_position",
            (table,),
        )
        return _Cursor([Row(cid=cid, name=name) for cid, name in cur.fetchall()])


def translate(sql: str) -> str:
    """SQLite's dialect, as the records write it, in PostgreSQL's."""
    text = sql.replace("%", "%%").replace("?", "%s")
    if re.match(r"^\s*BEGIN\s+IMMEDIATE\s*$", text, re.IGNORECASE):
        return "BEGIN"
    text = re.sub(r"\bREAL\b", "DOUBLE PRECISION", text)
    text = re.sub(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b", "BIGSERIAL PRIMARY KEY", text)
    text = re.sub(r"ADD COLUMN (?!IF NOT EXISTS)", "ADD COLUMN IF NOT EXISTS ", text)
    replace = _OR_REPLACE.match(text)
    if replace:
        table = replace.group(1)
        key = PRIMARY_KEYS[table]
        columns = _columns_of(replace.group(2)) if replace.group(2) else POSITIONAL[table]
        text = _OR_REPLACE.sub(f"INSERT INTO {table} ({', '.join(columns)}) VALUES", text)
        updates = ", ".join(f"{c}=excluded.{c}" for c in columns if c not in key)
        text = f"{text} ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
    return text


def _columns_of(group: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in group.strip("()").split(","))


def connect(url: str) -> PgConnection:
    try:
        import psycopg
    except ImportError:
        raise RunError(
            "run records on PostgreSQL need psycopg: pip install 'orchestrate"
            "[postgres]' (or keep the default SQLite records)"
        ) from None
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunError(f"run records: cannot connect to {safe_url(url)}: {first}") from None
    return PgConnection(conn)


def database_errors() -> tuple[type[BaseException], ...]:
    """The exception types a records statement may raise on PostgreSQL (empty without it)."""
    try:
        import psycopg
    except ImportError:
        return ()
    return (psycopg.Error,)
