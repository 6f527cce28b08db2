"""What the YAML and schema errors of a document broke, so that the pipeline loader can
still build the intact parts and compile can report *their* problems in the same run.

A *broken* path holds a value that cannot be used (wrong type, bad value, a required key
that is missing, a duplicated YAML key): the loader leaves it out. Its ancestors are
*tainted*: they are built from their intact fields only. Unknown keys taint their mapping
too and remember the key they were probably meant to be ('promt' -> 'prompt'), so that
"missing required key 'prompt'" is not reported next to "unknown key 'promt' (did you mean
'prompt'?)". An empty `Damage` (the valid document) costs the loader one set lookup a part.

Must not: produce messages (schema.py does) or decide what a part means (the loaders do).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orchestrator.spec.suggest import PathKey

_NOTHING: frozenset[str] = frozenset()


@dataclass
class Damage:
    broken: set[PathKey] = field(default_factory=set)
    tainted: set[PathKey] = field(default_factory=set)  # broken paths and all their ancestors
    unknown: dict[PathKey, set[str]] = field(default_factory=dict)  # mapping -> unknown keys
    meant: dict[PathKey, set[str]] = field(default_factory=dict)  # mapping -> keys they resemble
    # Filled in by the step loader: steps whose shape is unknown (no attribute checks), and
    # whether some loop body could not be read (its step names are unknown).
    opaque_steps: set[str] = field(default_factory=set)
    unknown_bodies: bool = False

    def __bool__(self) -> bool:
        return bool(self.tainted)

    def break_at(self, path: PathKey) -> None:
        self.broken.add(path)
        self._taint(path)

    def unknown_key(self, path: PathKey, key: str, meant: str | None) -> None:
        self.unknown.setdefault(path, set()).add(key)
        if meant is not None:
            self.meant.setdefault(path, set()).add(meant)
        self._taint(path)

    def _taint(self, path: PathKey) -> None:
        for end in range(len(path), -1, -1):
            if path[:end] in self.tainted:
                return
            self.tainted.add(path[:end])

    def within_broken(self, path: PathKey) -> bool:
        """Whether `path` is a broken value or lies inside one."""
        return any(path[:end] in self.broken for end in range(len(path) + 1))

    def present(self, data: dict, path: PathKey) -> list[str]:
        """The known keys written in the mapping at `path`, in order (unknown ones excluded)."""
        unknown = self.unknown.get(path, _NOTHING)
        return [key for key in data if key not in unknown]

    def meant_at(self, path: PathKey) -> frozenset[str] | set[str]:
        return self.meant.get(path, _NOTHING)

    def intact(self, data: dict, path: PathKey) -> dict[str, Any]:
        """The known fields of the mapping at `path` that hold no damage at all."""
        unknown = self.unknown.get(path, _NOTHING)
        return {
            key: value
            for key, value in data.items()
            if key not in unknown and path + (key,) not in self.tainted
        }

    def readable(self, data: Any, path: PathKey) -> dict | None:
        """`data` when it is an intact mapping, its intact fields when it is a tainted one,
        None when it is broken (or not a mapping at all)."""
        if not isinstance(data, dict) or path in self.broken:
            return None
        return self.intact(data, path) if path in self.tainted else data
