"""Which state directory a command uses (run records, prices, keys and the embedded stack).

Owns the one rule every layer follows, in this order:
  1. $ORCHESTRATE_HOME when set and not empty: exactly that directory (relative to the
     current directory), as before; CI and scripts that set it see no change.
  2. A project-local `.orchestrate` in the current directory or one of its parents that
     already holds state (what earlier versions made in the directory they ran from): it
     keeps working, from that checkout and its subdirectories.
  3. The per-user default: $XDG_STATE_HOME/orchestrate (else ~/.local/state/orchestrate;
     ~/Library/Application Support/orchestrate on macOS, %LOCALAPPDATA%\\orchestrate on
     Windows): one stack and one set of run records per user, found from any directory.
Must not: create anything or read more than the environment and a few directory entries.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

ENV_HOME = "ORCHESTRATE_HOME"
PROJECT_DIR = ".orchestrate"
# What only an orchestrate state dir holds: a `.orchestrate` with none of these (an empty
# directory, or some other tool's) is not taken for one.
STATE_MARKERS = (
    "runs.db",
    "server.json",
    "letta-venv",
    "pgdata",
    "prices.yaml",
    "temporal.key",
    "batches",
    "logs",
)
SOURCES = ("--home", "ORCHESTRATE_HOME", "project", "user")


@dataclass(frozen=True)
class StateHome:
    path: Path
    source: str  # one of SOURCES

    def describe(self) -> str:
        if self.source in ("--home", "ORCHESTRATE_HOME"):
            return f"{self.path} (from {self.source})"
        if self.source == "project":
            return (
                f"{self.path} (project-local, found from the current directory; the "
                f"per-user default is {user_state_dir()})"
            )
        return f"{self.path} (per-user default; ORCHESTRATE_HOME overrides it)"


def user_state_dir() -> Path:
    """The per-user default state directory (not created here)."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "orchestrate"
    if os.name == "nt":
        local = os.environ.get("LOCALAPPDATA")
        return Path(local) / "orchestrate" if local else Path.home() / "orchestrate"
    xdg = os.environ.get("XDG_STATE_HOME", "").strip()  # the spec: a relative one is ignored
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "state"
    return base / "orchestrate"


def is_state_dir(path: Path) -> bool:
    try:
        return path.is_dir() and any((path / name).exists() for name in STATE_MARKERS)
    except OSError:  # a directory we may not read (someone else's): not ours
        return False


def find_project_dir(start: Path | None = None) -> Path | None:
    """The nearest `.orchestrate` holding state in `start` (default: cwd) or above it."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / PROJECT_DIR
        if is_state_dir(candidate):
            return candidate
    return None


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> StateHome:
    """The state directory and why it was chosen (`explicit`: a --home option)."""
    if explicit:
        return StateHome(Path(explicit).expanduser().resolve(), "--home")
    raw = os.environ.get(ENV_HOME)
    if raw:
        return StateHome(Path(raw).expanduser().resolve(), "ORCHESTRATE_HOME")
    project = find_project_dir()
    if project is not None:
        return StateHome(project, "project")
    return StateHome(user_state_dir().resolve(), "user")


def state_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    return resolve_home(explicit).path
