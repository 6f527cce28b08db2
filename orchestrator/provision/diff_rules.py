"""Tool rules and behaviour settings of one agent: the rules for comparing and updating them.

Owns:
- `canonical` / `shown`: a tool rule as compared (None values and defaults dropped) and as
  printed (`max_count_per_step(search, max_count_limit=2)`);
- `rules_change`: declared rules are added, rules the YAML declared before (recorded in
  metadata) and no longer does are removed, and every other rule on the server (Letta adds
  `continue_loop` rules for its own tools) is left alone, so it is never drift;
- `settings_changes`: AGENT_SETTINGS are compared only when declared (`sleeptime_note`: what
  disabling a sleep-time agent leaves on the server);
- `rule_problems`: unknown tools named by a rule, keys another kind of rule uses.

Must not: talk to a server. Pure functions of (desired, actual).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from orchestrator.backends import identity
from orchestrator.backends.admin import AGENT_SETTINGS, AgentState
from orchestrator.provision.changes import FieldChange, Problems
from orchestrator.spec.model import AgentSpec

# Which keys each kind of rule uses besides type, tool_name and prompt_template.
RULE_KEYS: dict[str, tuple[str, ...]] = {
    "run_first": ("args",),
    "exit_loop": (),
    "continue_loop": (),
    "requires_approval": (),
    "required_before_exit": (),
    "constrain_child_tools": ("children",),
    "parent_last_tool": ("children",),
    "max_count_per_step": ("max_count_limit",),
    "conditional": ("child_output_mapping", "default_child", "require_output_mapping"),
}
_DEFAULTS = {"require_output_mapping": False, "prompt_template": ""}


def canonical(rule: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rule.items() if v is not None and _DEFAULTS.get(k, object()) != v}


def _key(rule: Mapping[str, Any]) -> str:
    return json.dumps(canonical(rule), sort_keys=True, default=str)


def shown(rule: Mapping[str, Any]) -> str:
    rest = ", ".join(
        f"{k}={json.dumps(v, sort_keys=True) if not isinstance(v, str) else v}"
        for k, v in sorted(canonical(rule).items())
        if k not in ("type", "tool_name")
    )
    return f"{rule['type']}({rule['tool_name']}{', ' + rest if rest else ''})"


def declared_rules(spec: AgentSpec) -> list[dict[str, Any]] | None:
    return None if spec.tool_rules is None else [canonical(r) for r in spec.tool_rules]


def rules_change(
    spec: AgentSpec, have: AgentState
) -> tuple[FieldChange, list[dict[str, Any]]] | None:
    """The tool_rules field change and the full list to send, or None when in step."""
    section = (have.metadata or {}).get(identity.METADATA_KEY) or {}
    before = {_key(r) for r in section.get("tool_rules") or () if isinstance(r, Mapping)}
    declared = declared_rules(spec) or []
    wanted = {_key(r) for r in declared}
    server = [canonical(r) for r in have.tool_rules]
    on_server = {_key(r) for r in server}
    result = [r for r in server if _key(r) not in before or _key(r) in wanted]
    result += [r for r in declared if _key(r) not in on_server]
    if sorted(_key(r) for r in result) == sorted(on_server):
        return None
    return FieldChange("tool_rules", [shown(r) for r in server], [shown(r) for r in result]), result


def settings_changes(spec: AgentSpec, have: AgentState) -> list[FieldChange]:
    return [
        FieldChange(key, have.settings.get(key), spec.settings[key])
        for key in AGENT_SETTINGS
        if key in spec.settings and have.settings.get(key) != spec.settings[key]
    ]


def sleeptime_note(fields: Sequence[FieldChange], companions: Sequence[AgentState]) -> str:
    """What disabling sleep-time leaves: Letta keeps the sleep-time agent it made."""
    off = any(f.field == "enable_sleeptime" and f.old and not f.new for f in fields)
    names = ", ".join(c.name for c in companions)
    return f"Letta keeps the sleep-time agent {names} (and its memory)" if off and names else ""


def create_extra(spec: AgentSpec) -> dict[str, Any]:
    """What a new agent is created with beyond NewAgent (rules, settings)."""
    extra: dict[str, Any] = {k: v for k, v in spec.settings.items() if k in AGENT_SETTINGS}
    if spec.tool_rules:
        extra["tool_rules"] = declared_rules(spec)
    return extra


def rule_problems(spec: AgentSpec, known_tools: Collection[str], problems: Problems) -> None:
    for i, rule in enumerate(spec.tool_rules or ()):
        where = f"agents.{spec.name}.tool_rules[{i}]"
        used = RULE_KEYS.get(str(rule.get("type")), ())
        for key in rule:
            if key not in ("type", "tool_name", "prompt_template", *used):
                problems.add(
                    spec.mark,
                    where,
                    f"{key!r} is not used by a {rule['type']} rule",
                    f"a {rule['type']} rule takes: tool_name, prompt_template"
                    + "".join(f", {k}" for k in used),
                )
        named = [
            rule.get("tool_name"),
            *(rule.get("children") or ()),
            *(rule.get("child_output_mapping") or {}).values(),
            rule.get("default_child"),
        ]
        for tool in (t for t in named if t):
            if tool not in known_tools:
                problems.add(
                    spec.mark,
                    f"agents.{spec.name}.tool_rules",
                    f"unknown tool {tool!r}",
                    "a rule names a tool of this directory "
                    "or of the server (tools are named by their function name)",
                )
