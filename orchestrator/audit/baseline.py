"""The baseline: findings a team has looked at and accepted, stored without their values.

Owns: the file's format (JSON: a version, a random salt, and one entry per accepted
finding: its file relative to the baseline's directory, its rule, and a salted PBKDF2
hash of the matched text), reading it, writing it, and deciding which findings it accepts.
A finding is accepted when an entry has its file, rule and hash: moving the line does not
matter, changing the value does.

Must not: write a matched value, or any part of one, anywhere. The hash is salted and slow
so the file cannot be used as a lookup table; a short value from a small space (an SSN)
can still be guessed by someone holding the file, so keep baselines for accepted fakes.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path

from orchestrator.audit.scan import Finding
from orchestrator.spec.files import FileProblem, read_text

VERSION = 1
_ITERATIONS = 20_000
_MAX_BYTES = 16 * 1024 * 1024
Key = tuple[str, str, str]  # (file relative to the baseline, rule, hash)


class BaselineError(Exception):
    """A baseline that cannot be used, located in its file like any other problem."""

    def __init__(self, file: Path, message: str, line: int = 0, col: int = 0):
        super().__init__(message)
        self.file, self.message, self.line, self.col = str(file), message, line, col


def value_hash(salt: str, value: str) -> str:
    digest = hashlib.pbkdf2_hmac("sha256", value.encode(), bytes.fromhex(salt), _ITERATIONS)
    return digest.hex()


def _relative(finding: Finding, base: Path) -> str:
    return Path(os.path.relpath(Path(finding.file).resolve(), base)).as_posix()


def key_of(finding: Finding, salt: str, base: Path) -> Key:
    return (_relative(finding, base), finding.rule, value_hash(salt, finding.value))


def load(path: Path) -> tuple[str, set[Key]]:
    """(salt, accepted keys); BaselineError with a located message when unusable."""
    try:
        data = json.loads(read_text(path, _MAX_BYTES))
    except FileProblem as problem:
        raise BaselineError(path, problem.message) from None
    except json.JSONDecodeError as exc:
        raise BaselineError(path, f"not JSON: {exc.msg}", exc.lineno, exc.colno) from None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise BaselineError(path, f"not an audit baseline (version {VERSION})")
    salt, entries = data.get("salt"), data.get("accepted")
    if not isinstance(salt, str) or not isinstance(entries, list):
        raise BaselineError(path, "an audit baseline needs 'salt' and 'accepted'")
    try:
        bytes.fromhex(salt)
        return salt, {(e["file"], e["rule"], e["hash"]) for e in entries}
    except (ValueError, TypeError, KeyError):
        raise BaselineError(path, "malformed entry: each needs file, rule and hash") from None


def accepted(findings: list[Finding], path: Path) -> tuple[list[Finding], int]:
    """The findings the baseline at `path` does not accept, and how many it did."""
    salt, keys = load(path)
    base = path.resolve().parent
    left = [f for f in findings if key_of(f, salt, base) not in keys]
    return left, len(findings) - len(left)


def write(findings: list[Finding], path: Path) -> int:
    """Write every finding as accepted; keeps the salt of an existing baseline (stable diffs)."""
    salt = secrets.token_hex(16)
    if path.is_file():
        try:
            salt = load(path)[0]
        except BaselineError:
            pass
    base = path.resolve().parent
    keys = sorted({key_of(f, salt, base) for f in findings})
    entries = [{"file": file, "rule": rule, "hash": digest} for file, rule, digest in keys]
    text = json.dumps({"version": VERSION, "salt": salt, "accepted": entries}, indent=2)
    path.write_text(text + "\n", encoding="utf-8")
    return len(entries)
