"""Mutual exclusion for apply/destroy: a local file lock plus a lock block on the server.

Owns `apply_lock`. Two layers, because they fail differently:
- a `fcntl` lock file under the state directory stops two applies on one machine at once
  (released by the OS even if the process is killed);
- a lock block on the Letta server (tagged `identity.lock_tag(namespace)`) stops applies from
  different machines. Taking it: create our block, then list the lock blocks; if any other
  live one exists, ours is deleted and we fail ("back off on any contender": two racing
  applies may both back off, but two can never both proceed). A lock older than its TTL is
  considered abandoned (a crashed apply) and removed, and so is one taken on this host by a
  process that no longer exists.
Limits (documented): the server lock is advisory, only orchestrate honours it; a clock skew
larger than the TTL between machines could let a live lock be taken over.

Must not: plan or apply anything. The lock is only taken when a plan has changes, so a no-op
apply makes zero writes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from orchestrator.backends import identity
from orchestrator.backends.admin import AdminBackend, Block, NewBlock
from orchestrator.errors import BackendError, ProvisionError
from orchestrator.private import open_private, private_dir

LOCK_LABEL = "orchestrate_apply_lock"
DEFAULT_TTL = 900.0  # seconds; an apply that takes longer should raise it


@contextlib.contextmanager
def local_lock(lock_dir: Path, base_url: str, namespace: str) -> Iterator[Path]:
    private_dir(lock_dir)
    key = hashlib.sha256(f"{base_url}|{namespace}".encode()).hexdigest()[:12]
    path = lock_dir / f"provision-{key}.lock"
    with open_private(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ProvisionError(
                f"another apply for namespace {namespace!r} on {base_url} is running on this "
                f"machine (lock file {path}); wait for it to finish"
            ) from None
        try:
            yield path
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _lock_info(block: Block) -> dict:
    try:
        info = json.loads(block.value)
        return info if isinstance(info, dict) else {}
    except ValueError:
        return {}


@contextlib.contextmanager
def server_lock(
    backend: AdminBackend,
    namespace: str,
    ttl: float = DEFAULT_TTL,
    now: Callable[[], float] = time.time,
) -> Iterator[Block]:
    tag = identity.lock_tag(namespace)
    holder = {"host": socket.gethostname(), "pid": os.getpid(), "expires": now() + ttl}
    mine = backend.create_block(
        NewBlock(LOCK_LABEL, json.dumps(holder), tags=(identity.MANAGED_TAG, tag))
    )
    try:
        _check_contenders(backend, tag, mine, namespace, now)
    except BaseException:
        _release(backend, mine)
        raise
    try:
        yield mine
    finally:
        _release(backend, mine)


def _check_contenders(
    backend: AdminBackend, tag: str, mine: Block, namespace: str, now: Callable[[], float]
) -> None:
    for block in backend.list_blocks(tags=[tag]):
        if block.id == mine.id:
            continue
        info = _lock_info(block)
        if float(info.get("expires", 0)) < now() or _dead_here(info):
            _release(backend, block)  # abandoned by a crashed apply
            continue
        raise ProvisionError(
            f"another apply holds the server lock for namespace {namespace!r} "
            f"(host {info.get('host', '?')}, pid {info.get('pid', '?')}); retry when it is done, "
            f"or delete block {block.id} if that apply is known to be dead"
        )


def _dead_here(info: dict) -> bool:
    """A lock taken on this host by a process that no longer exists (killed mid-apply)."""
    if info.get("host") != socket.gethostname() or not isinstance(info.get("pid"), int):
        return False
    try:
        os.kill(info["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _release(backend: AdminBackend, block: Block) -> None:
    with contextlib.suppress(BackendError):
        backend.delete_block(block.id)


@contextlib.contextmanager
def apply_lock(backend: AdminBackend, namespace: str, lock_dir: Path) -> Iterator[None]:
    with local_lock(lock_dir, backend.base_url, namespace), server_lock(backend, namespace):
        yield
