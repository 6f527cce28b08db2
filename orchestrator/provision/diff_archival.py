"""Archival memory seeded from git: which passages to add, and which are left over.

Owns the seed rule (docs/provisioning.md, "Archival seeding"): a declared passage is known by
a digest of its text and tags, carried by the passage as the tag `orchestrate:seed=<digest>`,
so it is added once however many applies run (and an edited passage is a new one). A seeded
passage that is no longer declared is kept (archival memory is the agent's memory): the plan
warns, and only `--prune` deletes it, as a memory-loss change. Passages without a seed tag
(the agent's own) are never touched.

Must not: talk to a server or read files (passage texts come in the AgentSpec).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from orchestrator.backends.admin import Passage
from orchestrator.provision.changes import Change, FieldChange
from orchestrator.provision.desired import DiffOptions
from orchestrator.provision.payloads import PassageData
from orchestrator.spec.model import AgentSpec, PassageSpec

SEED_TAG = "orchestrate:seed="
MAX_LABEL = 40
STALE_LOSS = "deletes an archival passage seeded before and no longer declared"


def seed_digest(passage: PassageSpec) -> str:
    body = passage.text + "\0" + "\0".join(sorted(set(passage.tags)))
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def seeds_of(passages: list[Passage]) -> dict[str, str]:
    """seed digest -> passage id, for the passages an apply seeded."""
    return {
        tag[len(SEED_TAG) :]: p.id for p in passages for tag in p.tags if tag.startswith(SEED_TAG)
    }


def _label(passage: PassageSpec) -> str:
    if passage.source:
        return passage.source
    text = " ".join(passage.text.split())
    return f'"{text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"}"'


def passage_changes(
    spec: AgentSpec, seeded: Mapping[str, str] | None, options: DiffOptions, warnings: list[str]
) -> list[Change]:
    """`seeded`: what the server holds (None: not read, as for an agent this plan creates)."""
    have = dict(seeded or {})
    wanted: dict[str, PassageSpec] = {}
    for passage in spec.archival:
        wanted.setdefault(seed_digest(passage), passage)
    out = [
        Change(
            "create",
            "agent_passage",
            _label(p),
            "attach",
            agent=spec.name,
            fields=(FieldChange("chars", None, len(p.text)),),
            data=PassageData(p.text, (*sorted(set(p.tags)), SEED_TAG + digest)),
        )
        for digest, p in wanted.items()
        if digest not in have
    ]
    stale = sorted((d, pid) for d, pid in have.items() if d not in wanted)
    if stale and options.prune:
        out += [
            Change(
                "delete",
                "agent_passage",
                f"seed {digest}",
                "delete",
                agent=spec.name,
                server_id=pid,
                memory_loss=STALE_LOSS,
                blocked=True,
            )
            for digest, pid in stale
        ]
    elif stale:
        warnings.append(
            f"agent {spec.name!r}: {len(stale)} archival passage(s) seeded before "
            "and no longer declared are kept (--prune with --allow-memory-loss "
            "deletes them)"
        )
    return out
