"""Reading the files a spec names, safely: only regular files, only up to a size limit, and
for resources only inside their trust boundary.

Owns: `Boundary` (a resource directory plus the directories the user allowed explicitly,
`--allow-path`; everything is compared after resolving `..` and symlinks), `read_text` /
`read_bytes` / `file_digest` (open without blocking, refuse devices, FIFOs and the /proc,
/sys, /dev pseudo files, stop reading at the limit: `value_file: /dev/zero` must not fill
memory), `glob_files` (a Folder's `files:` patterns, absolute ones included, bounded) and
`yaml_files` (the YAML files of a resource directory, found by a bounded walk that skips
hidden entries and never follows a linked directory).

Must not: parse what it reads, or word an issue's location (callers know where the path
was written); a `FileProblem` carries only the message and hint.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from orchestrator.spec.limits import (
    LIMIT_HINT,
    MAX_DIRECTORY_ENTRIES,
    MAX_FOLDER_FILES,
    size_words,
)

_PSEUDO = (Path("/proc"), Path("/sys"), Path("/dev"))
_CHUNK = 1024 * 1024
ALLOW_HINT = "allow another directory with --allow-path DIR"


class FileProblem(Exception):
    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Boundary:
    """What a resource directory may read: files under `root` or an allowed directory."""

    root: Path
    allowed: tuple[Path, ...] = ()

    @classmethod
    def of(cls, root: str | Path, allowed: tuple[str | Path, ...] = ()) -> Boundary:
        return cls(Path(root).resolve(), tuple(Path(a).resolve() for a in allowed))

    def check(self, path: Path, written: str) -> Path:
        """The resolved `path`; FileProblem when it lies outside the boundary."""
        real = _resolve(path, written)
        if not any(_under(real, base) for base in (self.root, *self.allowed)):
            linked = Path(os.path.normpath(path.absolute())) != real
            where = f"leads to {real}, " if linked else "is "
            raise FileProblem(
                f"'{written}' {where}outside the resource directory {self.root}",
                f"a resource directory may only use files inside it; {ALLOW_HINT}",
            )
        return real


def _resolve(path: Path, written: str) -> Path:
    try:
        return path.resolve()
    except (OSError, ValueError, RuntimeError) as exc:  # a NUL byte, a symlink loop
        raise FileProblem(
            f"'{written or path}' is not a usable path: {exc}", "write a relative path to a file"
        ) from None


def _under(path: Path, base: Path) -> bool:
    return path == base or base in path.parents


def _is(written: str, what: str) -> str:
    """ "'x.md' is <what>" for a file named in a spec; "<what>" for the file an issue is
    already located in."""
    return f"'{written}' is {what}" if written else what


def _not_regular(written: str) -> FileProblem:
    return FileProblem(
        _is(written, "not a regular file"), "name a file on disk, not a device, pipe or /proc file"
    )


def read_bytes(path: Path, limit: int, written: str = "") -> bytes:
    """At most `limit` bytes of a regular file; FileProblem for anything else."""
    real = _resolve(path, written)
    if any(_under(real, pseudo) for pseudo in _PSEUDO):
        raise _not_regular(written)
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        what = f"cannot read '{written}'" if written else "cannot read file"
        raise FileProblem(f"{what}: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(written)
        if info.st_size > limit:
            raise _too_large(written, info.st_size, limit)
        chunks, size = [], 0
        while size <= limit and (chunk := os.read(fd, min(_CHUNK, limit + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise FileProblem(f"cannot read '{written or real}': {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise _too_large(written, len(data), limit)
    return data


def read_text(path: Path, limit: int, written: str = "") -> str:
    data = read_bytes(path, limit, written)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileProblem(
            _is(written, f"not UTF-8 text (byte {exc.start})"), "save it as UTF-8"
        ) from None


def file_digest(path: Path, limit: int, written: str) -> str:
    """sha256 of a regular file, read in chunks (never whole); FileProblem past `limit`."""
    real = _resolve(path, written)
    if any(_under(real, pseudo) for pseudo in _PSEUDO) or not real.is_file():
        raise _not_regular(written)
    digest, seen = hashlib.sha256(), 0
    try:
        with open(real, "rb") as handle:
            if os.fstat(handle.fileno()).st_size > limit:
                raise _too_large(written, os.fstat(handle.fileno()).st_size, limit)
            while chunk := handle.read(_CHUNK):
                seen += len(chunk)
                if seen > limit:
                    raise _too_large(written, seen, limit)
                digest.update(chunk)
    except OSError as exc:
        raise FileProblem(f"cannot read '{written}': {exc.strerror or exc}") from None
    return digest.hexdigest()


def _too_large(written: str, size: int, limit: int) -> FileProblem:
    what = f"'{written}' is too large" if written else "file too large"
    return FileProblem(f"{what}: {size_words(size)} (the limit is {size_words(limit)})", LIMIT_HINT)


def glob_files(base: Path, pattern: str) -> list[Path]:
    """The regular files `pattern` matches, relative to `base` unless it is absolute."""
    if os.path.isabs(pattern):
        anchor = Path(Path(pattern).anchor)
        base, pattern = anchor, str(Path(pattern).relative_to(anchor))
    if not pattern or pattern == ".":
        raise FileProblem(f"'{pattern}' names no file", "write a file name or a glob")
    found: list[Path] = []
    try:
        for path in base.glob(pattern):
            if path.is_file():
                found.append(path)
                if len(found) > MAX_FOLDER_FILES:
                    raise FileProblem(
                        f"'{pattern}' matches more than {MAX_FOLDER_FILES:,} files",
                        f"narrow the pattern; {LIMIT_HINT}",
                    )
    except (OSError, ValueError, RuntimeError, NotImplementedError) as exc:
        raise FileProblem(f"cannot search '{pattern}': {exc}") from None
    return sorted(found)


def yaml_files(root: Path) -> list[Path]:
    """The *.yaml / *.yml files under `root`, hidden entries skipped, linked directories not
    followed; FileProblem when the walk passes MAX_DIRECTORY_ENTRIES."""
    found, seen = [], 0
    for entry in _walk(root):
        seen += 1
        if seen > MAX_DIRECTORY_ENTRIES:
            raise FileProblem(
                f"more than {MAX_DIRECTORY_ENTRIES:,} entries under {root}",
                f"point at the directory that holds the resource files; {LIMIT_HINT}",
            )
        if entry.name.endswith((".yaml", ".yml")) and entry.is_file():
            found.append(Path(entry.path))
    return sorted(found)


def _walk(root: Path) -> Iterator[os.DirEntry]:
    pending = [root]
    while pending:
        try:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    yield entry
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(Path(entry.path))
        except OSError:
            continue  # an unreadable subdirectory holds nothing we can load
