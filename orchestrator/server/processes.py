"""Operating-system plumbing for the stack's processes.

Owns: starting a detached process with its output appended to a log file, telling whether a
recorded pid is still *that* process (pid reuse is caught by comparing start times), waiting
for an HTTP health check with a timeout, stopping a process group gracefully, port checks and
resident memory. Linux /proc is used where available; elsewhere the checks degrade gracefully.
Knows nothing about Letta or PostgreSQL.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from orchestrator.errors import ServerError
from orchestrator.private import open_private, private_dir

_PROC = Path("/proc")


def spawn(cmd: Sequence[str], *, env: dict, log: Path, cwd: Path) -> tuple[int, int | None]:
    """Start `cmd` in its own session (it outlives this process); return (pid, start ticks)."""
    private_dir(log.parent)
    with open_private(log, "ab") as out:
        out.write(
            f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(cmd)}\n".encode()
        )
        out.flush()
        proc = subprocess.Popen(
            list(cmd),
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    return proc.pid, start_ticks(proc.pid)


def start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), or None when unknown."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def alive(pid: int | None, ticks: int | None = None) -> bool:
    """True when `pid` runs and, if `ticks` is given, is the same process that was recorded."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user (postgres runs as its own user under root)
    if _is_zombie(pid):
        return False
    now = start_ticks(pid)
    return ticks is None or now is None or now == ticks


def _is_zombie(pid: int) -> bool:
    try:
        zombie = (_PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
    if zombie:
        try:  # our own child that died (e.g. while we waited for it): reap it
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    return zombie


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in _PROC.glob("[0-9]*/stat") if _PROC.is_dir() else []:
        try:
            ppid = int(entry.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.parent.name))
    out, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        out.append(child)
        todo.extend(children.get(child, []))
    return out


def rss_bytes(pid: int) -> int | None:
    try:
        for line in (_PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def tree_rss_bytes(pid: int) -> int | None:
    """RSS of the process and its descendants (shared memory is counted once per process)."""
    own = rss_bytes(pid)
    if own is None:
        return None
    return own + sum(rss_bytes(child) or 0 for child in descendants(pid))


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.errno in (errno.EADDRINUSE, errno.EACCES)
    return False


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_http(url: str, *, pid: int, timeout: float, what: str, log: Path) -> float:
    """Poll `url` until it answers 200; fail early if `pid` dies. Returns seconds waited."""
    started = time.monotonic()
    while True:
        if http_ok(url):
            return time.monotonic() - started
        if not alive(pid):
            raise ServerError(f"{what} exited during start-up; see {log}\n{tail(log, 15)}")
        if time.monotonic() - started > timeout:
            raise ServerError(
                f"{what} did not become healthy at {url} within {timeout:.0f}s; see {log}\n{tail(log, 15)}"
            )
        time.sleep(0.25)


def terminate(
    pid: int, ticks: int | None = None, *, timeout: float = 20.0, sig: int = signal.SIGTERM
) -> bool:
    """Stop the process group led by `pid` (SIGTERM, then SIGKILL after `timeout`)."""
    if not alive(pid, ticks):
        return False
    _signal_group(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    _signal_group(pid, signal.SIGKILL)
    time.sleep(0.2)
    return True


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)  # we started it as a session leader: its pgid is its pid
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def tail(path: Path, lines: int = 20) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
