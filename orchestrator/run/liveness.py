"""Is a recorded run (or batch) still going? One answer for every command that asks.

Owns `this_host`, `process_alive` and `shown_status`: a record says `running` until its
process finishes it; one whose process is gone (killed, crashed, its terminal closed) reads
`interrupted`. A process can only be checked on the machine it ran on: a run recorded by
another host (records on PostgreSQL) stays `running`, since nothing here can tell.
`runs list`, `runs show`, `resume`, `batches` and `runs gc` all decide through here, so
they never disagree.

Must not: write records or talk to a server.
"""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import Mapping
from typing import Any

from orchestrator.run.status import INTERRUPTED, RUNNING


@functools.lru_cache(maxsize=1)
def this_host() -> str:
    return socket.gethostname()


def process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def on_this_host(record: Mapping[str, Any]) -> bool:
    """Was it recorded here? (Records written before hosts were recorded: taken as here.)"""
    return record.get("host") in (None, "", this_host())


def alive(record: Mapping[str, Any]) -> bool:
    """Is the record's process still running? True when it cannot be checked (another
    host): whoever asks must then leave the run alone."""
    if record.get("status") != RUNNING:
        return False
    if not on_this_host(record):
        return True
    return bool(record.get("pid")) and process_alive(int(record["pid"]))


def shown_status(record: Mapping[str, Any]) -> str:
    """The status to show: `interrupted` for a `running` record whose process is gone."""
    status = str(record.get("status"))
    return INTERRUPTED if status == RUNNING and not alive(record) else status
