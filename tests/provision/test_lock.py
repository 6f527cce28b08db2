"""The apply lock: local file lock + server lock block."""

from __future__ import annotations

import json
import socket

import pytest

from orchestrator.backends import identity
from orchestrator.backends.admin import NewBlock
from orchestrator.backends.admin_memory import MemoryAdmin
from orchestrator.errors import ProvisionError
from orchestrator.provision.lock import LOCK_LABEL, apply_lock, local_lock, server_lock


def _foreign_lock(admin, expires, host="elsewhere", pid=1):
    value = json.dumps({"host": host, "pid": pid, "expires": expires})
    return admin.create_block(
        NewBlock(LOCK_LABEL, value, tags=(identity.MANAGED_TAG, identity.lock_tag("default")))
    )


def test_second_local_lock_fails_with_clear_message(tmp_path):
    with local_lock(tmp_path, "http://x", "default"):
        with pytest.raises(ProvisionError, match="another apply for namespace 'default'"):
            with local_lock(tmp_path, "http://x", "default"):
                pass
    with local_lock(tmp_path, "http://x", "default"):  # released
        pass


def test_live_server_lock_blocks_and_own_block_is_removed(tmp_path):
    admin = MemoryAdmin()
    other = _foreign_lock(admin, expires=1e12)
    with pytest.raises(ProvisionError, match=f"delete block {other.id}"):
        with server_lock(admin, "default"):
            pass
    assert [b.id for b in admin.list_blocks()] == [other.id]


def test_expired_or_dead_local_lock_is_taken_over(tmp_path):
    admin = MemoryAdmin()
    _foreign_lock(admin, expires=0)
    _foreign_lock(admin, expires=1e12, host=socket.gethostname(), pid=2**22 + 12345)
    with apply_lock(admin, "default", tmp_path):
        assert len(admin.list_blocks()) == 1
    assert admin.list_blocks() == []


def test_other_namespace_lock_does_not_block(tmp_path):
    admin = MemoryAdmin()
    admin.create_block(
        NewBlock(
            LOCK_LABEL,
            json.dumps({"expires": 1e12}),
            tags=(identity.MANAGED_TAG, identity.lock_tag("other")),
        )
    )
    with server_lock(admin, "default"):
        pass
