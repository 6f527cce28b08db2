"""What orchestrate sends to Temporal is sealed (AES-256-GCM): round trip, a wrong key is a clear
error naming key ids (never a key), and the key file is private."""

from __future__ import annotations

import asyncio
import base64
import os
import stat

import pytest

pytest.importorskip("temporalio")
pytest.importorskip("cryptography")

from temporalio.api.common.v1 import Payload  # noqa: E402

from orchestrator.errors import RunError  # noqa: E402
from orchestrator.run.temporal import codec  # noqa: E402

SECRET = b"sk-live-0123456789abcdef"


def _key(n: int) -> bytes:
    return bytes([n]) * 32


def test_sealed_payloads_hold_no_clear_text_and_open_again():
    sealer = codec.SealingCodec(_key(1))
    plain = [Payload(metadata={"encoding": b"json/plain"}, data=b'{"token": "' + SECRET + b'"}')]
    sealed = asyncio.run(sealer.encode(plain))
    assert SECRET not in sealed[0].SerializeToString()
    assert sealed[0].metadata["encoding"] == codec.ENCODING
    assert asyncio.run(sealer.decode(sealed)) == plain


def test_another_key_is_a_clear_error_naming_key_ids_only():
    sealed = asyncio.run(codec.SealingCodec(_key(1)).encode([Payload(data=b"x")]))
    with pytest.raises(
        RunError,
        match="sealed with key [0-9a-f]{12}, this process has key [0-9a-f]{12}: give every worker",
    ) as err:
        asyncio.run(codec.SealingCodec(_key(2)).decode(sealed))
    assert base64.b64encode(_key(2)).decode() not in str(err.value)


def test_the_key_file_is_made_once_and_private(tmp_path, monkeypatch):
    monkeypatch.delenv(codec.ENV_KEY, raising=False)
    first = codec.load_key(tmp_path)
    assert codec.load_key(tmp_path) == first and len(first) == 32
    mode = stat.S_IMODE(os.stat(tmp_path / "temporal.key").st_mode)
    assert mode == 0o600
    monkeypatch.setenv(codec.ENV_KEY, base64.b64encode(_key(3)).decode())
    assert codec.load_key(tmp_path) == _key(3)  # the environment wins (remote workers)
    monkeypatch.setenv(codec.ENV_KEY, "not-a-key")
    with pytest.raises(
        RunError,
        match=r"\$ORCHESTRATE_TEMPORAL_KEY: not a Temporal "
        r"encryption key",
    ):
        codec.load_key(tmp_path)
