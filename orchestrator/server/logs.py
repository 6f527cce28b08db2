"""Reading the stack's log files: which file belongs to which component, tails, `--follow`.

Owns `log_files`, `tail_lines` and `follow` (a generator that yields new lines as files grow,
tolerating files that appear late, shrink or are rotated). Read-only.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from orchestrator.errors import ServerError

from .paths import COMPONENTS, LOG_NAMES, StackPaths


def log_files(
    home: str | os.PathLike | None = None, component: str | None = None
) -> list[tuple[str, Path]]:
    """(name, path) of one component's log, or of the three running components by default."""
    paths = StackPaths.resolve(home)
    if component is None:  # Temporal's log too, once it was started here
        names = [*COMPONENTS, *(n for n in ("temporal", "phoenix") if paths.log(n).exists())]
        return [(name, paths.log(name)) for name in names]
    if component not in LOG_NAMES:
        raise ServerError(f"unknown component {component!r}; one of {', '.join(LOG_NAMES)}")
    return [(component, paths.log(component))]


def tail_lines(path: Path, lines: int) -> list[str]:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            chunk = min(size, max(64 * 1024, lines * 400))
            fh.seek(size - chunk)
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return []
    out = text.splitlines()
    if chunk < size:
        out = out[1:]  # the first line may be cut in half
    return out[-lines:] if lines > 0 else []


def follow(
    files: list[tuple[str, Path]],
    *,
    poll: float = 0.5,
    should_stop: Callable[[], bool] = lambda: False,
) -> Iterator[tuple[str, str]]:
    """Yield (name, line) for lines appended to `files` from now on, until `should_stop()`."""
    offsets = {name: _size(path) for name, path in files}
    pending = {name: "" for name, _ in files}
    while not should_stop():
        quiet = True
        for name, path in files:
            size = _size(path)
            if size < offsets[name]:  # truncated or replaced: start over
                offsets[name] = 0
            if size == offsets[name]:
                continue
            with open(path, "rb") as fh:
                fh.seek(offsets[name])
                data = fh.read(size - offsets[name])
            offsets[name] = size
            text = pending[name] + data.decode("utf-8", "replace")
            *complete, pending[name] = text.split("\n")
            for line in complete:
                quiet = False
                yield name, line
        if quiet:
            time.sleep(poll)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
