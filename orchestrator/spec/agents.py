"""Schema-valid agent and block mappings -> `AgentSpec` / `BlockSpec`, shared by pipeline
files (inline agents) and resource directories (kind: Agent / Block).

Owns: the agent-level rules the schema cannot express (`ref` excludes an inline definition
and `replicas`, unique memory block labels, shared blocks that exist, well-formed
`${env:VAR}` references).

Must not: read files (the resource loader resolves `*_file` keys before calling in here).
"""

from __future__ import annotations

from collections.abc import Collection

from orchestrator.errors import Issue
from orchestrator.spec.envrefs import ENV_HINT, bad_env_refs, strings
from orchestrator.spec.model import AgentSpec, BlockSpec, PassageSpec
from orchestrator.spec.privacy import privacy_blocks, privacy_issues
from orchestrator.spec.suggest import did_you_mean
from orchestrator.spec.yaml_marks import MarkedDoc, issue_at

REF_COMPANIONS = ("ref", "description", "keep")  # keys allowed next to `ref`


def build_block(doc: MarkedDoc, label: str, data: dict, path: tuple) -> BlockSpec:
    return BlockSpec(
        label=label,
        value=data.get("value", ""),
        description=data.get("description"),
        limit=data.get("limit"),
        read_only=data.get("read_only", False),
        agent_owned=data.get("agent_owned", False),
        mark=doc.mark(path),
    )


# Letta behaviour settings a provisioned agent may declare (schemas/resources.schema.json).
AGENT_SETTINGS = (
    "message_buffer_autoclear",
    "max_files_open",
    "per_file_view_window_char_limit",
    "timezone",
    "enable_sleeptime",
)


def env_templates(spec: AgentSpec) -> dict[str, str]:
    """Field -> its text as written, for the system prompt and private blocks that use
    `${env:...}` (no secret: the references are unresolved). Apply and runs record them in
    the agent's metadata (`env_fields`) so export writes the references back instead of
    the resolved values (provision/export_secrets.py), and audit --server names them."""
    out = {f"memory_blocks.{b.label}": b.value for b in spec.memory_blocks if "${env:" in b.value}
    if spec.system is not None and "${env:" in spec.system:
        out["system"] = spec.system
    return dict(sorted(out.items()))


def build_agent(doc: MarkedDoc, name: str, data: dict, path: tuple) -> AgentSpec:
    blocks = tuple(
        build_block(doc, block["label"], block, path + ("memory_blocks", i))
        for i, block in enumerate(data.get("memory_blocks", ()))
    )
    blocks += privacy_blocks(doc, data, path)  # read-only: the agent cannot edit them
    return AgentSpec(
        name=name,
        ref=data.get("ref"),
        description=data.get("description", ""),
        model=data.get("model"),
        embedding=data.get("embedding"),
        system=data.get("system"),
        memory_blocks=blocks,
        shared_blocks=tuple(data.get("shared_blocks", ())),
        tools=tuple(t for t in data.get("tools", ()) if isinstance(t, str)),
        mcp_tools=tuple(
            (t["mcp"], t["tool"]) for t in data.get("tools", ()) if isinstance(t, dict)
        ),
        folders=tuple(data.get("folders", ())),
        tags=tuple(data.get("tags", ())),
        tool_env=dict(data.get("tool_env", {})),
        context_window=data.get("context_window"),
        tool_rules=(tuple(dict(r) for r in data["tool_rules"]) if "tool_rules" in data else None),
        settings={k: data[k] for k in AGENT_SETTINGS if k in data},
        archival=tuple(
            PassageSpec(
                text=p.get("text", ""), tags=tuple(p.get("tags", ())), source=p.get("source", "")
            )
            for p in data.get("archival", ())
        ),
        keep=data.get("keep", False),
        replicas=data.get("replicas", 1),
        mark=doc.mark(path),
    )


def agent_issues(
    doc: MarkedDoc,
    data: dict,
    path: tuple,
    shared: Collection[str] | None,
    present: Collection[str] | None = None,
) -> list[Issue]:
    """Problems in one agent mapping; `shared` names the shared blocks that exist (None: they
    could not be read, so none is reported unknown). For an agent with schema errors, `data`
    holds its intact fields only and `present` every known key written."""
    issues = _ref_issues(doc, data if present is None else present, path)
    labels: set[str] = set()
    for i, block in enumerate(data.get("memory_blocks", ())):
        label = block["label"]
        if label in labels:
            issues.append(
                issue_at(
                    doc.mark(path + ("memory_blocks", i, "label")),
                    path + ("memory_blocks", i, "label"),
                    f"duplicate memory block '{label}'",
                )
            )
        labels.add(label)
    known: Collection[str] = shared if shared is not None else ()
    for i, block in enumerate(data.get("shared_blocks", ()) if shared is not None else ()):
        where = path + ("shared_blocks", i)
        if block not in known:
            hint = did_you_mean(block, known, fallback="declare it under shared_blocks:")
            issues.append(issue_at(doc.mark(where), where, f"unknown shared block '{block}'", hint))
        elif block in labels:
            issues.append(
                issue_at(
                    doc.mark(where),
                    where,
                    f"'{block}' is both a memory block and a shared block",
                    "rename one of them: labels must be unique per agent",
                )
            )
    issues.extend(privacy_issues(doc, data, path))
    issues.extend(env_issues(doc, data, path))
    return issues


def env_issues(doc: MarkedDoc, data: object, path: tuple) -> list[Issue]:
    """Malformed `${env:...}` references anywhere under `data`."""
    issues = []
    for where, text in strings(data, path):
        for bad in bad_env_refs(text):
            issues.append(
                issue_at(doc.mark(where), where, f"invalid environment reference '{bad}'", ENV_HINT)
            )
    return issues


def _ref_issues(doc: MarkedDoc, data: Collection[str], path: tuple) -> list[Issue]:
    if "ref" not in data:
        return []
    issues = []
    if "replicas" in data:  # its own message: it is not about where the definition lives
        issues.append(
            issue_at(
                doc.key_mark(path + ("replicas",)),
                path + ("replicas",),
                "a provisioned agent (ref) is one Letta agent: it cannot have replicas",
                "remove 'replicas' (its steps then run one at a time), or "
                "define the agent inline to let a run create copies of it",
            )
        )
    extra = [key for key in data if key not in REF_COMPANIONS and key != "replicas"]
    if not extra:
        return issues
    found = ", ".join(f"'{key}'" for key in extra)
    return [
        issue_at(
            doc.key_mark(path + (extra[0],)),
            path,
            f"an agent with 'ref' cannot also set {found}",
            "a provisioned agent is defined in its own Agent file: remove these keys, "
            "or remove 'ref' to define the agent inline",
        ),
        *issues,
    ]
