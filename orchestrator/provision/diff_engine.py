"""The one diff engine: the whole desired state against the whole actual state.

Owns `diff` (plan for apply) and `destroy_diff` (plan for destroy). Both are pure: they read
a ResourceSet and an ActualState and return a ChangeSet; apply later executes exactly that.
Every problem found (unknown references, duplicated identities, missing model...) is
collected and raised at once as a SpecError.

Memory safety: a change that can destroy memory (deleting an agent with archival passages,
deleting a folder, deleting an agent-owned shared block, overwriting agent-written values)
carries `memory_loss`, and is `blocked` until the user opts in.

Must not: talk to a server or read files (folder file hashes come in the ResourceSet).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from orchestrator.backends import identity
from orchestrator.backends.admin import CUSTOM_TOOL_TYPE
from orchestrator.provision import diff_agents as agents_diff
from orchestrator.provision import diff_delete as deleting
from orchestrator.provision import diff_mcp as mcp
from orchestrator.provision.changes import Change, ChangeSet, FieldChange, Problems, ordered
from orchestrator.provision.defaults import missing_hint, with_server_defaults
from orchestrator.provision.desired import (
    DesiredAgent,
    DesiredBlock,
    DiffOptions,
    build_desired,
)
from orchestrator.provision.diff_archival import passage_changes
from orchestrator.provision.diff_folders import folder_and_file_changes
from orchestrator.provision.diff_rules import rule_problems, sleeptime_note
from orchestrator.provision.payloads import AgentData, SharedBlockData, ToolData
from orchestrator.provision.state import ActualState
from orchestrator.spec.model import ResourceSet, ToolSpec


def diff(
    resources: ResourceSet,
    actual: ActualState,
    options: DiffOptions,
    env: Mapping[str, str] | None = None,
) -> ChangeSet:
    warnings: list[str] = []
    options = with_server_defaults(resources, actual, options, warnings)
    agents, shared = build_desired(resources, options, env or {})
    problems = Problems()
    _check_references(resources, actual, problems)
    changes: list[Change] = []
    changes += _tool_changes(resources.tools, actual, options, problems)
    changes += mcp.server_changes(resources, actual, options, env or {}, problems)
    changes += _shared_block_changes(shared, actual, options)
    changes += folder_and_file_changes(resources.folders, actual, options, problems, warnings)
    labels = {name: block.label for name, block in shared.items()}
    for want in agents.values():
        changes += _agent_changes(want, actual, options, labels, problems, warnings)
    if options.prune:
        changes += deleting.prune(resources, actual, options, warnings)
        changes += mcp.prune(resources, actual)
    creates = [c.name for c in changes if (c.kind, c.action) == ("agent", "create")]
    warnings += deleting.left_behind(resources, actual, options, creates)
    problems.raise_any()
    return ChangeSet(
        options.namespace,
        actual.base_url,
        ordered(changes),
        tuple(warnings),
        known_ids=_known_ids(actual),
    )


def destroy_diff(resources: ResourceSet, actual: ActualState, options: DiffOptions) -> ChangeSet:
    """Delete what this directory declares (and only what is managed in this namespace)."""
    changes = [
        c
        for n in resources.agents
        if n in actual.agents
        for c in deleting.delete_agent(n, actual, options)
    ]
    changes += [
        deleting.delete_block(n, actual)
        for n in resources.shared_blocks
        if n in actual.shared_blocks
    ]
    changes += [
        deleting.delete_folder(folder)
        for n in resources.folders
        if (folder := actual.managed_folder(n))
    ]
    changes += [
        Change("delete", "tool", n, "delete", server_id=actual.tools[n].id)
        for n in resources.tools
        if deleting.our_tool(n, actual, options.namespace)
    ]
    changes += mcp.destroy(resources, actual)
    return ChangeSet(
        options.namespace, actual.base_url, ordered(changes), known_ids=_known_ids(actual)
    )


def _known_ids(actual: ActualState) -> dict[str, dict[str, str]]:
    return {
        "agent": {n: a.id for n, a in actual.agents.items()},
        "block": {n: b.id for n, b in actual.shared_blocks.items()},
        "tool": {n: t.id for n, t in actual.tools.items()},
        "folder": {n: f.id for n, f in actual.folders.items()},
        "mcp": {n: s.id for n, s in actual.mcp_servers.items()},
    }


def _check_references(resources: ResourceSet, actual: ActualState, problems: Problems) -> None:
    known_tools = (
        set(resources.tools)
        | set(actual.tools)
        | {tool for spec in resources.agents.values() for _, tool in spec.mcp_tools}
    )
    for spec in resources.agents.values():
        rule_problems(spec, known_tools, problems)
        mcp.tool_problems(spec, resources, actual, problems)
        for name in spec.tools:
            if name not in resources.tools and name not in actual.tools:
                problems.add(
                    spec.mark,
                    f"agents.{spec.name}.tools",
                    f"unknown tool {name!r}",
                    "declare it as a Tool in this directory or install it on the server",
                )
        for kind, names, known in (
            ("shared_blocks", spec.shared_blocks, resources.shared_blocks),
            ("folders", spec.folders, resources.folders),
        ):
            for name in names:
                if name not in known:
                    problems.add(
                        spec.mark,
                        f"agents.{spec.name}.{kind}",
                        f"unknown {kind[:-1].replace('_', ' ')} {name!r}",
                        f"declare a {'Block' if kind == 'shared_blocks' else 'Folder'} "
                        f"named {name!r} in this directory",
                    )


def _a(key: str) -> str:
    return f"an {key}" if key[0] in "aeiou" else f"a {key}"


def _shown_path(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return path


def _tool_changes(
    tools: Mapping[str, ToolSpec], actual: ActualState, options: DiffOptions, problems: Problems
) -> list[Change]:
    out = []
    for name, spec in tools.items():
        tags = (identity.MANAGED_TAG, identity.tool_tag(options.namespace, name))
        have = actual.tools.get(name)
        if have is None:
            out.append(
                Change(
                    "create",
                    "tool",
                    name,
                    "tool",
                    data=ToolData(spec, tags),
                    fields=(FieldChange("source_file", None, _shown_path(spec.source_file)),),
                )
            )
            continue
        if have.tool_type != CUSTOM_TOOL_TYPE:
            problems.add(
                spec.mark,
                f"tools.{name}",
                f"{name!r} is a built-in Letta tool",
                "rename the function",
            )
            continue
        others = [
            ns
            for ns in identity.owner_namespaces(have.tags, "tool", name)
            if ns != options.namespace
        ]
        if others and tags[1] not in have.tags:  # never re-tag (and so share) another's tool
            problems.add(
                spec.mark,
                f"tools.{name}",
                f"tool {name!r} is managed in namespace {others[0]!r}",
                "tools are named server-wide: rename the function, or list the tool "
                "under an agent's `tools:` without declaring it to use it as it is",
            )
            continue
        fields = []
        if have.source_code.strip() != spec.source_code.strip():
            fields.append(
                FieldChange(
                    "source_code",
                    f"{len(have.source_code)} chars",
                    f"{len(spec.source_code)} chars ({_shown_path(spec.source_file)})",
                )
            )
        if sorted(have.pip_requirements) != sorted(spec.pip_requirements):
            fields.append(
                FieldChange(
                    "pip_requirements", sorted(have.pip_requirements), sorted(spec.pip_requirements)
                )
            )
        if spec.description and have.description != spec.description:
            fields.append(FieldChange("description", have.description, spec.description))
        if not set(tags) <= set(have.tags):
            fields.append(
                FieldChange("tags", sorted(have.tags), sorted(set(have.tags) | set(tags)))
            )
        if fields:
            out.append(
                Change(
                    "update",
                    "tool",
                    name,
                    "tool",
                    server_id=have.id,
                    fields=tuple(fields),
                    data=ToolData(spec, tags),
                )
            )
    return out


def _shared_block_changes(
    shared: Mapping[str, DesiredBlock], actual: ActualState, options: DiffOptions
) -> list[Change]:
    out = []
    for name, want in shared.items():
        have = actual.shared_blocks.get(name)
        if have is None:
            out.append(
                Change(
                    "create",
                    "block",
                    name,
                    "block",
                    data=SharedBlockData(want),
                    fields=(FieldChange("value", None, want.value, want.secret),),
                )
            )
            continue
        fields, loss = [], ""
        if want.value != have.value and (not want.agent_owned or options.force_agent_owned):
            fields.append(FieldChange("value", have.value, want.value, want.secret))
            loss = agents_diff.OVERWRITES_AGENT_MEMORY if want.agent_owned else ""
        for key in ("limit", "description"):
            if getattr(want, key) is not None and getattr(have, key) != getattr(want, key):
                fields.append(FieldChange(key, getattr(have, key), getattr(want, key)))
        if want.read_only != have.read_only:
            fields.append(FieldChange("read_only", have.read_only, want.read_only))
        section = (have.metadata or {}).get(identity.METADATA_KEY) or {}
        owned = section.get("agent_owned", False)
        if owned != want.agent_owned:
            fields.append(FieldChange("agent_owned", owned, want.agent_owned))
        if section.get("env_template") != want.template:  # what export writes back
            fields.append(FieldChange("env_template", section.get("env_template"), want.template))
        if fields:
            out.append(
                Change(
                    "update",
                    "block",
                    name,
                    "block",
                    server_id=have.id,
                    fields=tuple(fields),
                    memory_loss=loss,
                    data=SharedBlockData(want),
                )
            )
    return out


def _agent_changes(
    want: DesiredAgent,
    actual: ActualState,
    options: DiffOptions,
    labels: dict[str, str],
    problems: Problems,
    warnings: list[str],
) -> list[Change]:
    name = want.name
    if name in actual.duplicates:
        problems.add(
            want.spec.mark,
            f"agents.{name}",
            f"{len(actual.duplicates[name])} agents on the server carry this identity "
            f"({', '.join(actual.duplicates[name])})",
            "delete all but one of them",
        )
        return []
    have = actual.agents.get(name)
    action = "update"
    if have is None:
        namesakes = [a for a in actual.unmanaged if a.name == name]
        if options.adopt and len(namesakes) > 1:
            problems.add(
                want.spec.mark,
                f"agents.{name}",
                f"cannot adopt: {len(namesakes)} unmanaged agents have this name",
                "delete or rename all but one",
            )
            return []
        if options.adopt and namesakes:
            have, action = namesakes[0], "adopt"
        else:
            if namesakes:
                warnings.append(
                    f"an unmanaged agent named {name!r} exists ({namesakes[0].id}); "
                    "apply will create a new one (pass --adopt to manage it instead)"
                )
            return _create_agent(want, actual, options, labels, problems, warnings)
    fields, computed = agents_diff.field_changes(want, have)
    out = []
    if fields or action == "adopt":
        out.append(
            Change(
                action,
                "agent",
                name,
                "agent",
                server_id=have.id,
                fields=fields,
                note=sleeptime_note(fields, actual.companions.get(name, ())),
                data=AgentData(want, dict(have.metadata or {}), computed),
            )
        )
    out += agents_diff.block_changes(want, have, actual, options, labels)
    out += agents_diff.tool_changes(want, have, actual)
    out += mcp.agent_tool_changes(want.spec, name, have, actual)
    out += agents_diff.folder_changes(want, have, actual)
    out += passage_changes(want.spec, actual.seeds.get(name), options, warnings)
    return out


def _create_agent(
    want: DesiredAgent,
    actual: ActualState,
    options: DiffOptions,
    labels: dict[str, str],
    problems: Problems,
    warnings: list[str],
) -> list[Change]:
    for key, offered in (("model", actual.models), ("embedding", actual.embeddings)):
        if getattr(want, key) is not None:
            continue
        if options.report_only:  # diff: the agent is missing all the same (drift)
            warnings.append(
                f"agent {want.name!r}: apply needs {_a(key)} ({missing_hint(key, offered)})"
            )
        else:
            problems.add(
                want.spec.mark,
                f"agents.{want.name}.{key}",
                f"no {key} for a new agent",
                missing_hint(key, offered),
            )
    create = Change(
        "create",
        "agent",
        want.name,
        "agent",
        fields=agents_diff.create_fields(want),
        data=AgentData(want),
    )
    return [
        create,
        *agents_diff.new_agent_attachments(want, actual, labels),
        *mcp.agent_tool_changes(want.spec, want.name, None, actual),
        *passage_changes(want.spec, None, options, warnings),
    ]
