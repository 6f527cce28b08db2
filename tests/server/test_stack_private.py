"""On the running embedded stack: the state dir and its files are the owner's only, the
model's admin routes want the token `server start` wrote, and every service listens on
127.0.0.1 only (PostgreSQL: no TCP at all, its unix socket 0700) (issue 20)."""

from __future__ import annotations

import os
import stat
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from orchestrator import private
from orchestrator.server import state
from orchestrator.server.model_endpoint.admin import TOKEN_FILE
from orchestrator.server.paths import StackPaths

pytestmark = pytest.mark.integration
# 127.0.0.1, ::1, and ::ffff:127.0.0.1 (gRPC binds 127.0.0.1 as an IPv4-mapped address on a
# dual-stack socket: the trace viewer's OTLP/gRPC port), as /proc/net has them
LOOPBACK = {"0100007F", "00000000000000000000000001000000", "0000000000000000FFFF00000100007F"}


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _tree(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
            except (OSError, IndexError, ValueError):
                continue
    found, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return found


def _listening(pids: set[int]) -> list[str]:
    """The local addresses (hex, as /proc/net has them) of the TCP sockets these listen on."""
    inodes = set()
    for pid in pids:
        try:
            for fd in (Path("/proc") / str(pid) / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                out.append(fields[1].split(":")[0])
    return out


@pytest.fixture
def running(letta_stack):
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs Linux /proc")
    paths = StackPaths(letta_stack.home)
    if not paths.model_token.exists() and letta_stack.model_url:
        pytest.skip("this stack was started before the admin token existed: restart it")
    return paths, state.read(paths)


def test_the_state_dir_and_its_files_are_the_owners_only(running):
    paths, data = running
    assert mode(paths.home) == private.home_mode()
    assert mode(paths.state_file) == 0o600 and mode(paths.lock_file) == 0o600
    assert mode(paths.logs) == 0o700
    for name in ("letta", "model", "install", "bootstrap", "temporal"):  # what start writes
        if paths.log(name).exists():
            assert mode(paths.log(name)) == 0o600, name
    for name in ("runs.db", "temporal.key", "temporal.db", TOKEN_FILE):
        if (paths.home / name).exists():
            assert mode(paths.home / name) == 0o600, name


def test_the_model_admin_routes_want_the_token(running, letta_stack):
    url = letta_stack.model_url.removesuffix("/v1") + "/_admin/script"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url, timeout=5)
    assert refused.value.code == 401
    assert isinstance(letta_stack.model_admin.script(), list)  # the fixture's client has it


def test_every_service_listens_on_loopback_only(running):
    paths, data = running
    for name in ("letta", "model", "temporal", "phoenix"):
        entry = data.get(name)
        if isinstance(entry, dict) and entry.get("pid"):
            found = _listening(_tree(entry["pid"]))
            assert found and set(found) <= LOOPBACK, (name, found)
    pg = state.postgres_pid(paths)
    assert pg is not None and _listening(_tree(pg)) == []  # unix socket only
    query = urllib.parse.urlsplit((data.get("postgres") or {}).get("uri", "")).query
    socket_dir = urllib.parse.parse_qs(query).get("host", [str(paths.pgdata)])[0]
    assert mode(Path(socket_dir) / ".s.PGSQL.5432") == 0o700
