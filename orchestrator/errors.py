"""The error tree shared by every layer.

Owns: `Issue` (one located problem in a user's file) and the exception classes, one per
phase (spec, compile, backend, run, provision, server). Must not import anything from the
rest of the package: every other layer depends on this module, never the reverse.

Exit codes are stable and part of the CLI contract (see `ExitCode`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class ExitCode(enum.IntEnum):
    OK = 0
    USER_ERROR = 1  # bad spec, bad input, failed step, unreachable server the user must start
    DRIFT = 2  # `diff`: changes pending (only where that is the documented contract)
    UNEXPECTED = 3  # a bug or an unexpected failure: report it
    WAITING_APPROVAL = 4  # a run stopped at an approval gate: `orchestrate approve`, then resume
    CANCELLED = 130  # Ctrl-C (128 + SIGINT, the shell's convention)


@dataclass(frozen=True, order=True)
class Issue:
    """One problem, located in a file. Sorted by place so reports read top to bottom."""

    file: str
    line: int  # 1-based; 0 when unknown
    col: int  # 1-based; 0 when unknown
    path: str  # dotted path to the field, e.g. "steps.draft.prompt"; "" for the whole file
    message: str
    hint: str = field(default="", compare=False)
    severity: str = field(default="error", compare=False)  # "error" | "warning"

    def format(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}" if self.line else self.file
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text

    def labelled(self) -> str:
        """`format()`, marked ` [warning]` when it is a warning (how every command prints it)."""
        return self.format() + (" [warning]" if self.severity == "warning" else "")

    def to_dict(self) -> dict:
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
            "severity": self.severity,
        }


class OrchestrateError(Exception):
    """Base of every error this package raises on purpose. `exit_code` tells the CLI what to do."""

    exit_code: ExitCode = ExitCode.USER_ERROR


class SpecError(OrchestrateError):
    """A file could not be loaded or failed validation. Carries every problem found, not the first."""

    def __init__(self, issues: list[Issue] | tuple[Issue, ...]):
        self.issues = tuple(sorted(issues))
        super().__init__("\n".join(i.format() for i in self.issues))


class CompileError(SpecError):
    """The spec is well-formed but cannot be turned into a plan (cycles, bad references...)."""


class BackendError(OrchestrateError):
    """Talking to the Letta server failed. `transient` errors may be retried with backoff."""

    def __init__(self, message: str, *, transient: bool = False, status: int | None = None):
        super().__init__(message)
        self.transient = transient
        self.status = status


class ServerUnavailable(BackendError):
    """No server answers at the configured URL (down, not started, or died mid-run)."""

    def __init__(self, message: str):
        super().__init__(message, transient=True)


class NotFound(BackendError):
    """The server has no such object (agent, block, tool...)."""


class RunError(OrchestrateError):
    """A pipeline run failed (a step exhausted its retries, timed out, or was cancelled)."""


class ProvisionError(OrchestrateError):
    """Provisioning could not plan or apply (conflicting definitions, lock held, ...)."""


class ServerError(OrchestrateError):
    """The embedded local stack could not be installed, started, stopped or inspected."""
