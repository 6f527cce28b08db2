"""What `plan/apply/diff/destroy SOURCE` provisions: a resource directory, one resource file,
or a pipeline file (then: the agents its `ref:` entries point at, as files).

Owns `load_source` and `restrict` (a ResourceSet cut down to some agents and exactly the
shared blocks, tools and folders they use). For a pipeline, each `ref:` that is a path is
resolved against the pipeline's directory and must be a YAML file; it is loaded with exactly
what its agents use (`spec.resources.load_agent_file`: the shared blocks, tools and folders
defined next to it are found, nothing else there is read); `ref:` by bare managed name
points at an agent provisioned elsewhere and is left alone. `allowed` directories (the
`--allow-path` option) widen the trust boundary of every resource directory loaded.

Must not: talk to a server.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.errors import Issue, SpecError
from orchestrator.spec import load_pipeline
from orchestrator.spec.files import FileProblem, read_text
from orchestrator.spec.limits import MAX_YAML_BYTES
from orchestrator.spec.model import ResourceSet
from orchestrator.spec.resources import load_agent_file, load_resources
from orchestrator.spec.yaml_marks import load_documents


def _kind(path: Path) -> str | None:
    try:  # the loaders' own safe reading and parsing (limits, no crash on hostile YAML)
        docs, _ = load_documents(read_text(path, MAX_YAML_BYTES), str(path))
    except FileProblem:
        return None  # the real loaders report the problem with its location
    data = docs[0].data if docs else None
    return data.get("kind") if isinstance(data, dict) else None


def _is_file(path: Path) -> bool:
    try:
        return path.resolve().is_file()
    except (OSError, ValueError, RuntimeError):  # a NUL byte, a symlink loop
        return False


def load_source(source: str | Path, allowed: tuple[str | Path, ...] = ()) -> ResourceSet:
    path = Path(source)
    if path.is_file() and _kind(path) == "Pipeline":
        return _from_pipeline(path, allowed)
    return load_resources(path, allowed)


def restrict(resources: ResourceSet, agents: set[str]) -> ResourceSet:
    chosen = {n: a for n, a in resources.agents.items() if n in agents}
    used = lambda attr: {x for a in chosen.values() for x in getattr(a, attr)}  # noqa: E731
    return ResourceSet(
        root=resources.root,
        agents=chosen,
        shared_blocks={
            n: b for n, b in resources.shared_blocks.items() if n in used("shared_blocks")
        },
        tools={n: t for n, t in resources.tools.items() if n in used("tools")},
        folders={n: f for n, f in resources.folders.items() if n in used("folders")},
        mcp_servers={
            n: m
            for n, m in resources.mcp_servers.items()
            if n in {server for a in chosen.values() for server, _ in a.mcp_tools}
        },
    )


def _merge(parts: list[ResourceSet], root: str) -> ResourceSet:
    merged: dict[str, dict] = {
        "agents": {},
        "shared_blocks": {},
        "tools": {},
        "folders": {},
        "mcp_servers": {},
    }
    for part in parts:
        for key, into in merged.items():
            into.update(getattr(part, key))
    return ResourceSet(root=root, **merged)


def _from_pipeline(path: Path, allowed: tuple[str | Path, ...]) -> ResourceSet:
    spec = load_pipeline(path)
    parts, issues = [], []
    for name, agent in spec.agents.items():
        ref = agent.ref
        if not ref or not ref.endswith((".yaml", ".yml")):
            continue
        if not _is_file(path.parent / ref):
            issues.append(
                Issue(
                    str(path),
                    agent.mark.line,
                    agent.mark.col,
                    f"agents.{name}.ref",
                    f"no such file '{ref}'",
                    "paths are relative to the pipeline",
                )
            )
            continue
        # Its agents, and the blocks, tools and folders they use (defined next to it).
        found = load_agent_file((path.parent / ref).resolve(), allowed)
        parts.append(restrict(found, set(found.agents)))
    if issues:
        raise SpecError(issues)
    if not parts:
        raise SpecError(
            [
                Issue(
                    str(path),
                    0,
                    0,
                    "agents",
                    "this pipeline references no agent file with `ref:`",
                    "provision a resource directory instead",
                )
            ]
        )
    return _merge(parts, str(path.parent))
