"""Which model and embedding a new agent (or folder) that declares none gets.

Owns `with_server_defaults` and `missing_hint`. The user's `--default-model` /
`--default-embedding` (or their environment variables, or the embedded stack's handles, all
resolved by the CLI) come first; without one, a server that offers exactly one model (or
embedding) handle provides it, and the plan says so in a warning. With several, nothing is
guessed: the error lists what the server offers.

Must not: talk to a server (the handles come in the ActualState) or read the environment.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from orchestrator.provision.desired import DiffOptions
from orchestrator.provision.state import ActualState
from orchestrator.spec.model import ResourceSet

MAX_LISTED = 10


def with_server_defaults(resources: ResourceSet, actual: ActualState, options: DiffOptions,
                         warnings: list[str]) -> DiffOptions:
    """`options` with the server's only handle as default where the user gave none and a
    new agent or folder needs one."""
    new = [a for name, a in resources.agents.items() if name not in actual.agents]
    new_folders = [f for name, f in resources.folders.items() if name not in actual.folders]
    needs = {"default_model": options.default_model is None and any(not a.model for a in new),
             "default_embedding": options.default_embedding is None
             and (any(not a.embedding for a in new) or any(not f.embedding for f in new_folders))}
    chosen: dict[str, Any] = {}  # DiffOptions field -> the model or embedding handle
    for key, offered, what in (("default_model", actual.models, "model"),
                               ("default_embedding", actual.embeddings, "embedding")):
        if needs[key] and offered is not None and len(offered) == 1:
            chosen[key] = offered[0]
            warnings.append(f"new agents{' and folders' if what == 'embedding' else ''} that "
                            f"declare no {what} get the server's only {what} {offered[0]!r}")
    return replace(options, **chosen) if chosen else options


def missing_hint(key: str, offered: tuple[str, ...] | None) -> str:
    """How to give a missing model/embedding, with what the server offers when known."""
    hint = f"set `{key}:` or pass --default-{key}"
    if offered is None:
        return hint
    if not offered:
        return f"{hint}; the server lists none"
    shown = ", ".join(offered[:MAX_LISTED])
    more = f" and {len(offered) - MAX_LISTED} more" if len(offered) > MAX_LISTED else ""
    return f"{hint}; the server offers: {shown}{more}"
