"""Which model and embedding a new agent (or folder) that declares none gets.

Owns `given_defaults`, `with_server_defaults` and `missing_hint`. The user's
`--default-model` / `--default-embedding` come first, then their environment variables
(`ORCHESTRATE_MODEL`, `ORCHESTRATE_EMBEDDING`, read through orchestrator.settings), then, on
the embedded stack, its own handles (`given_defaults`); without one, a server that offers
exactly one model (or embedding) handle provides it, and the plan says so in a warning. With
several, nothing is guessed: the error lists what the server offers.

Must not: talk to a server (the handles come in the ActualState), know the embedded stack
(the caller passes what it offers: the server layer owns it), or read the environment other
than through orchestrator.settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from orchestrator import settings
from orchestrator.provision.desired import DiffOptions
from orchestrator.provision.state import ActualState
from orchestrator.spec.model import ResourceSet

MAX_LISTED = 10
ENV_MODEL = "ORCHESTRATE_MODEL"  # its old names still work (orchestrator.settings)
ENV_EMBEDDING = "ORCHESTRATE_EMBEDDING"
# base URL -> the embedded stack's (model, embedding) handles when it runs there, else None
# (the model's is None when the stack uses an external endpoint that names none)
StackHandles = Callable[[str], "tuple[str | None, str] | None"]


def given_defaults(
    base_url: str, model: str | None, embedding: str | None, *, stack: StackHandles
) -> tuple[str | None, str | None]:
    """The default model and embedding the user gives for `base_url`: `model` / `embedding`
    (the command's flags), else the environment's, else the embedded stack's handles when
    `base_url` is the embedded stack (`stack`, asked only when one is still missing). None
    where nothing gives one (`with_server_defaults` may then take the server's only one)."""
    model = model or settings.value(ENV_MODEL)
    embedding = embedding or settings.value(ENV_EMBEDDING)
    if model and embedding:
        return model, embedding
    handles = stack(base_url)
    if handles is None:
        return model, embedding
    return model or handles[0], embedding or handles[1]


def with_server_defaults(
    resources: ResourceSet, actual: ActualState, options: DiffOptions, warnings: list[str]
) -> DiffOptions:
    """`options` with the server's only handle as default where the user gave none and a
    new agent or folder needs one."""
    new = [a for name, a in resources.agents.items() if name not in actual.agents]
    new_folders = [f for name, f in resources.folders.items() if name not in actual.folders]
    needs = {
        "default_model": options.default_model is None and any(not a.model for a in new),
        "default_embedding": options.default_embedding is None
        and (any(not a.embedding for a in new) or any(not f.embedding for f in new_folders)),
    }
    chosen: dict[str, Any] = {}  # DiffOptions field -> the model or embedding handle
    for key, offered, what in (
        ("default_model", actual.models, "model"),
        ("default_embedding", actual.embeddings, "embedding"),
    ):
        if needs[key] and offered is not None and len(offered) == 1:
            chosen[key] = offered[0]
            warnings.append(
                f"new agents{' and folders' if what == 'embedding' else ''} that "
                f"declare no {what} get the server's only {what} {offered[0]!r}"
            )
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
