"""Encryption of everything orchestrate stores in Temporal: its workflow history holds no clear text.

Owns `data_converter(home)`: Temporal's default converter with a payload codec that seals
every payload (a run's inputs, secret ones included, step summaries, errors) with AES-256-GCM
before it leaves the process, and opens it on the way back. The key is 32 bytes, base64:
`ORCHESTRATE_TEMPORAL_KEY` if set (what workers on other machines use: the same value
everywhere), else `STATE/temporal.key`, made on first use (mode 0600) and shared by the CLI
and the workers of one machine. A payload sealed with another key is a clear error naming
both key ids (a key id is a digest: the key itself is never shown).

Must not: log or print a key, or leave any payload unsealed.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter, PayloadCodec

from orchestrator.errors import RunError
from orchestrator.private import state_dir

ENV_KEY = "ORCHESTRATE_TEMPORAL_KEY"
ENCODING = b"binary/orchestrate-aes256gcm"
NONCE = 12


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"orchestrate-temporal-key|" + key).hexdigest()[:12]


def load_key(home: Path) -> bytes:
    """The key from $ORCHESTRATE_TEMPORAL_KEY, else STATE/temporal.key (made if missing)."""
    text = os.environ.get(ENV_KEY)
    where = f"${ENV_KEY}"
    path = home / "temporal.key"
    if not text:
        if not path.exists():
            state_dir(home)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
        text, where = path.read_text().strip(), str(path)
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise RunError(
            f"{where}: not a Temporal encryption key (32 bytes, base64); make one "
            "with: python3 -c 'import base64,os; print(base64.b64encode("
            "os.urandom(32)).decode())'"
        )
    return key


class SealingCodec(PayloadCodec):
    def __init__(self, key: bytes):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(key)
        self._id = key_id(key).encode()

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        sealed = []
        for payload in payloads:
            nonce = secrets.token_bytes(NONCE)
            data = self._aead.encrypt(nonce, payload.SerializeToString(), self._id)
            sealed.append(
                Payload(metadata={"encoding": ENCODING, "key-id": self._id}, data=nonce + data)
            )
        return sealed

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        opened = []
        for payload in payloads:
            if payload.metadata.get("encoding") != ENCODING:
                opened.append(payload)  # not ours (e.g. Temporal's own failure details)
                continue
            sealer = payload.metadata.get("key-id", b"?")
            if sealer != self._id:
                raise RunError(
                    f"a Temporal payload was sealed with key {sealer.decode()}, "
                    f"this process has key {self._id.decode()}: give every worker "
                    f"and client the same {ENV_KEY}"
                )
            plain = self._aead.decrypt(payload.data[:NONCE], payload.data[NONCE:], self._id)
            inner = Payload()
            inner.ParseFromString(plain)
            opened.append(inner)
        return opened


def data_converter(home: Path) -> DataConverter:
    return dataclasses.replace(DataConverter.default, payload_codec=SealingCodec(load_key(home)))
