"""Sub-pipelines: the pipeline files a pipeline's `uses:` steps name, read and checked.

Owns `read_uses(spec, allowed)`: for every `uses:` step, the used file found relative to the
file that names it, inside the trust boundary (the directory of the pipeline given on the
command line, plus the directories allowed with `--allow-path`; compared after resolving
`..` and symlinks), read with `read_pipeline` (so its own problems are located in it), and
its own `uses:` followed in turn. A file is read once however often it is used; a chain of
files that leads back to one of them is a cycle, named `a.yaml -> b.yaml -> a.yaml`.

Must not: compile or expand anything (compile/subpipelines.py does, purely).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from orchestrator.errors import Issue
from orchestrator.spec.model import PipelineSpec
from orchestrator.spec.pipeline import read_pipeline, read_pipeline_text

MAX_USES_DEPTH = 16  # sub-pipelines inside sub-pipelines, at most this deep
BOUNDARY_HINT = (
    "a pipeline may only use files under its own directory; allow another "
    "directory with --allow-path DIR"
)


@dataclass
class Use:
    """What one `uses:` step names. `problem`: why the file could not be used (at the call
    site); else `spec` is the used file read (None when nothing could be read), `issues` its
    own problems (located in it) and `uses` what its own `uses:` steps name."""

    written: str
    file: str = ""
    spec: PipelineSpec | None = None
    issues: list[Issue] = field(default_factory=list)
    uses: dict[str, Use] = field(default_factory=dict)
    problem: tuple[str, str] | None = None  # (message, hint)


def read_uses(
    spec: PipelineSpec, allowed: tuple[str | Path, ...] = (), texts: dict[str, str] | None = None
) -> dict[str, Use]:
    """step name -> its `Use`, for every `uses:` step of `spec` (recursively). `texts`: the
    used files' text by resolved path, when they come from elsewhere (a Temporal worker
    compiles the texts the run was started with, not its own disk)."""
    root = Path(spec.file).resolve().parent
    reader = _Reader((root, *(Path(a).resolve() for a in allowed)), texts or {})
    return reader.uses_of(spec, (str(Path(spec.file).resolve()),))


class _Reader:
    def __init__(self, bases: tuple[Path, ...], texts: dict[str, str]):
        self.bases, self.texts = bases, texts
        self.read: dict[str, tuple[PipelineSpec | None, list[Issue]]] = {}

    def uses_of(self, spec: PipelineSpec, chain: tuple[str, ...]) -> dict[str, Use]:
        found = {}
        for name, step in spec.steps.items():
            if step.uses is not None:
                found[name] = self._use(spec.file, step.uses, chain)
        return found

    def _use(self, caller: str, written: str, chain: tuple[str, ...]) -> Use:
        use = Use(written)
        shown = os.path.normpath(Path(caller).parent / written)  # as issues will name it
        try:
            path = Path(shown).resolve()
        except (OSError, ValueError, RuntimeError) as exc:  # a NUL byte, a symlink loop
            use.problem = (f"'{written}' is not a usable path: {exc}", "write a relative path")
            return use
        use.file = str(path)
        if not any(path == base or base in path.parents for base in self.bases):
            use.problem = (
                f"'{written}' is outside the pipeline's directory {self.bases[0]}",
                BOUNDARY_HINT,
            )
            return use
        if use.file in chain:
            names = [_short(p, self.bases[0]) for p in chain[chain.index(use.file) :]]
            use.problem = (
                f"sub-pipeline cycle: {' -> '.join([*names, names[0]])}",
                "a pipeline cannot use itself, directly or through others",
            )
            return use
        if len(chain) > MAX_USES_DEPTH:
            use.problem = (
                f"sub-pipelines nested deeper than {MAX_USES_DEPTH} levels",
                "a limit that keeps loading safe",
            )
            return use
        if use.file not in self.read:
            text = self.texts.get(use.file)
            self.read[use.file] = (
                read_pipeline(shown) if text is None else read_pipeline_text(text, shown)
            )
        use.spec, use.issues = self.read[use.file]
        if use.spec is not None:
            use.uses = self.uses_of(use.spec, (*chain, use.file))
        return use


def _short(path: str, root: Path) -> str:
    try:
        return os.path.relpath(path, root)
    except ValueError:  # another drive (Windows)
        return path


def used_files(uses: dict[str, Use]) -> dict[str, str]:
    """Every file the uses name (recursively): resolved path -> the path as read."""
    found: dict[str, str] = {}
    for use in uses.values():
        if use.spec is not None:
            found[use.file] = use.spec.file
            found.update(used_files(use.uses))
    return found
