"""Builders for ResourceSets and a counting/failing wrapper around an admin backend."""

from __future__ import annotations

import threading

from orchestrator.backends.admin import WRITE_METHODS
from orchestrator.errors import BackendError
from orchestrator.spec.model import AgentSpec, BlockSpec, FolderSpec, ResourceSet, ToolSpec

MODEL = "openai-proxy/test-model"
EMBEDDING = "openai/text-embedding-3-small"

SHOUT = '''def shout(text: str) -> str:
    """Shout a text.

    Args:
        text: the text to shout

    Returns:
        the text in capitals
    """
    return text.upper()
'''


def agent(name: str, **kw) -> AgentSpec:
    kw.setdefault("model", MODEL)
    kw.setdefault("embedding", EMBEDDING)
    kw["memory_blocks"] = tuple(kw.get("memory_blocks", ()))
    for key in ("shared_blocks", "tools", "folders", "tags"):
        kw[key] = tuple(kw.get(key, ()))
    return AgentSpec(name=name, **kw)


def block(label: str, value: str = "", **kw) -> BlockSpec:
    return BlockSpec(label=label, value=value, **kw)


def tool(name: str = "shout", source: str = SHOUT, **kw) -> ToolSpec:
    return ToolSpec(name=name, source_code=source, source_file=f"tools/{name}.py", **kw)


def resources(*agents: AgentSpec, blocks=(), tools=(), folders=(), root: str = ".") -> ResourceSet:
    return ResourceSet(
        root=root,
        agents={a.name: a for a in agents},
        shared_blocks={b.label: b for b in blocks},
        tools={t.name: t for t in tools},
        folders={f.name: f for f in folders},
    )


def folder(name: str, root: str, files: dict[str, str], **kw) -> FolderSpec:
    return FolderSpec(name=name, root=root, files=tuple(sorted(files.items())), **kw)


class Counting:
    """Wraps an admin backend: counts write calls; fails once after `fail_after` writes."""

    def __init__(self, inner, fail_after: int | None = None) -> None:
        self.inner = inner
        self.writes: list[str] = []
        self.fail_after = fail_after

    def __getattr__(self, name):
        attr = getattr(self.inner, name)
        if name not in WRITE_METHODS:
            return attr

        def wrapped(*args, **kwargs):
            if self.fail_after is not None and len(self.writes) >= self.fail_after:
                self.fail_after = None  # one failure: the lock release still goes through
                raise BackendError(f"injected failure before {name}")
            self.writes.append(name)
            return attr(*args, **kwargs)

        return wrapped


class Paused(Counting):
    """Blocks inside the first create_agent until released: an apply caught mid-way."""

    def __init__(self, inner) -> None:
        super().__init__(inner)
        self.inside, self.release = threading.Event(), threading.Event()

    def create_agent(self, new, extra=None):
        self.inside.set()
        assert self.release.wait(10)
        return self.inner.create_agent(new, extra)
