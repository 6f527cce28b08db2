"""When whoever reads our output goes away (`orchestrate run ... | head`), stop writing and
stop the run cleanly, instead of dying on a BrokenPipeError mid-run.

Owns `Cancel` (a cancel event that says why) and `OutputGuard`, which wraps a run's reporter:
the first write that finds the pipe closed points stdout at /dev/null (so nothing later, the
interpreter's own flush at exit included, fails on it) and sets the event, so the runner
stops the run as Ctrl-C does: the run is recorded `cancelled`, what it made is recorded (and
deleted by the resume that completes it, or by `orchestrate runs gc`), exit 130.

Must not: decide anything about the run beyond asking it to stop.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import Any

CLOSED_REASON = "cancelled (its output was closed)"


class Cancel(threading.Event):
    """A cancel event for `start_run(cancel=...)` that says why: the runner sets `on_stop`
    to learn the reason (recorded as the run's error) before the run sees the event."""

    def __init__(self) -> None:
        super().__init__()
        self.on_stop: Callable[[str], None] = lambda reason: None

    def stop(self, reason: str) -> None:
        if not self.is_set():
            self.on_stop(reason)
            self.set()


class OutputGuard:
    def __init__(self, reporter: Callable[..., None], cancel: Cancel):
        self.reporter, self.cancel = reporter, cancel
        self.closed = False

    def __call__(self, kind: str, **data: Any) -> None:
        if self.closed:
            return
        try:
            self.reporter(kind, **data)
        except BrokenPipeError:
            self.close()

    def close(self) -> None:
        """The reader is gone: write nowhere from now on, and stop the run."""
        self.closed = True
        silence_stdout()
        self.cancel.stop(CLOSED_REASON)


def silence_stdout() -> None:
    """Point stdout at /dev/null (the Python documentation's advice for a closed pipe)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass  # stdout is not a real file (tests capture it): nothing is written to it anyway
    finally:
        os.close(devnull)
