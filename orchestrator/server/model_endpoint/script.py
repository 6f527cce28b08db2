"""Scripted answers for the local model: the rule format, its validation and its state.

A script is a list of rules (or `{"rules": [...]}`), as YAML or JSON. For each chat request
the rules are tried in order; the first rule whose match keys all hold and that still has
something to do decides the answer. A rule without match keys matches every request.

Match keys (all optional, all must hold):
  agent_id:         exact agent id (`agent-...`, read from the system message)
  system_contains:  substring of the system message (e.g. a persona block's value)
  prompt_contains:  substring of the last user message (the step's prompt)
  prompt_regex:     Python regex searched in the last user message

Actions:
  reply: "text"             answer with this text
  replies: [a, b, c]        successive answers for this rule and agent; the last one repeats
  json: {...}               answer with this value dumped as JSON
  error: {status: 503, message: "...", times: 1}
                            fail with this HTTP status on the first `times` (default 1)
                            matching calls, then carry on with the rule's other actions
                            or, if it has none, with the next rules
  delay: 0.2                wait this many seconds before answering (adds up across the
                            matching rules; a rule with only `delay` falls through)
  tool_call: {name: memory_insert, arguments: {label: human, new_string: "..."}}
                            answer with this tool call instead of content; a list gives one
                            call per round of the same turn. Once the turn's tool results
                            came back the rule answers with its reply/replies/json, or falls
                            through to the next rules (and at the end to the default answer)

State (reply positions, error counts) is kept per (rule index, agent id) and cleared by
`Script.reset()` (POST /_admin/reset) or by loading a new script.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from .conversation import Conversation

MATCH_KEYS = ("agent_id", "system_contains", "prompt_contains", "prompt_regex")
ACTION_KEYS = ("reply", "replies", "json", "error", "delay", "tool_call")
ANSWER_KEYS = ("reply", "replies", "json")


class ScriptError(ValueError):
    """The script is malformed; the message names the rule and key."""


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict


@dataclass(frozen=True)
class Rule:
    index: int
    match: dict[str, str]
    replies: tuple[str, ...] = ()
    error_status: int = 0
    error_message: str = ""
    error_times: int = 0
    delay: float = 0.0
    tool_calls: tuple[ToolCall, ...] = ()

    def matches(self, conv: Conversation) -> bool:
        m = self.match
        if "agent_id" in m and conv.agent_id != m["agent_id"]:
            return False
        if "system_contains" in m and m["system_contains"] not in conv.system:
            return False
        if "prompt_contains" in m and m["prompt_contains"] not in conv.prompt:
            return False
        return "prompt_regex" not in m or re.search(m["prompt_regex"], conv.prompt) is not None


@dataclass(frozen=True)
class Decision:
    kind: str  # "content" | "tool_call" | "error" | "default"
    text: str = ""
    tool_call: ToolCall | None = None
    status: int = 200
    delay: float = 0.0
    rule: int | None = None


@dataclass
class _RuleState:
    served: int = 0
    failed: int = 0


@dataclass
class Script:
    rules: tuple[Rule, ...] = ()
    source: Any = field(default_factory=list)
    _state: dict = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def parse(cls, data: Any) -> Script:
        if isinstance(data, dict) and set(data) <= {"rules"}:
            data = data.get("rules") or []
        if data is None:
            data = []
        if not isinstance(data, list):
            raise ScriptError("a script is a list of rules (or {rules: [...]})")
        return cls(rules=tuple(_parse_rule(i, r) for i, r in enumerate(data)), source=data)

    @classmethod
    def from_text(cls, text: str) -> Script:
        try:
            data = json.loads(text) if text.strip() else []
        except ValueError:
            import yaml  # only YAML scripts need it; pyyaml is an orchestrate dependency

            data = yaml.safe_load(text)
        return cls.parse(data)

    def reset(self) -> None:
        with self._lock:
            self._state.clear()

    def decide(self, conv: Conversation) -> Decision:
        delay = 0.0
        with self._lock:
            for rule in self.rules:
                if not rule.matches(conv):
                    continue
                delay += rule.delay
                state = self._state.setdefault((rule.index, conv.agent_id), _RuleState())
                if state.failed < rule.error_times:
                    state.failed += 1
                    return Decision(
                        "error",
                        rule.error_message,
                        status=rule.error_status,
                        delay=delay,
                        rule=rule.index,
                    )
                if conv.tool_rounds < len(rule.tool_calls):
                    call = rule.tool_calls[conv.tool_rounds]
                    return Decision("tool_call", tool_call=call, delay=delay, rule=rule.index)
                if rule.replies:
                    text = rule.replies[min(state.served, len(rule.replies) - 1)]
                    state.served += 1
                    return Decision("content", text, delay=delay, rule=rule.index)
        return Decision("default", delay=delay)


def _parse_rule(index: int, raw: Any) -> Rule:
    where = f"rule {index}"
    if not isinstance(raw, dict):
        raise ScriptError(f"{where}: must be a mapping of match keys and actions")
    unknown = sorted(set(raw) - set(MATCH_KEYS) - set(ACTION_KEYS))
    if unknown:
        raise ScriptError(
            f"{where}: unknown key {unknown[0]!r} (match keys: {', '.join(MATCH_KEYS)}; "
            f"actions: {', '.join(ACTION_KEYS)})"
        )
    if not any(k in raw for k in ACTION_KEYS):
        raise ScriptError(f"{where}: has no action (one of {', '.join(ACTION_KEYS)})")
    answers = [k for k in ANSWER_KEYS if k in raw]
    if len(answers) > 1:
        raise ScriptError(f"{where}: choose one of reply, replies, json (got {', '.join(answers)})")
    match = {}
    for key in MATCH_KEYS:
        if key in raw:
            if not isinstance(raw[key], str):
                raise ScriptError(f"{where}: {key} must be a string")
            match[key] = raw[key]
    if "prompt_regex" in match:
        try:
            re.compile(match["prompt_regex"])
        except re.error as exc:
            raise ScriptError(f"{where}: prompt_regex is not a valid regex: {exc}") from None
    return Rule(
        index=index,
        match=match,
        replies=_replies(where, raw),
        delay=_delay(where, raw.get("delay", 0)),
        tool_calls=_tool_calls(where, raw.get("tool_call")),
        **_error(where, raw.get("error")),
    )


def _replies(where: str, raw: dict) -> tuple[str, ...]:
    if "reply" in raw:
        return (_as_text(raw["reply"]),)
    if "json" in raw:
        return (json.dumps(raw["json"], ensure_ascii=False),)
    if "replies" in raw:
        if not isinstance(raw["replies"], list) or not raw["replies"]:
            raise ScriptError(f"{where}: replies must be a non-empty list")
        return tuple(_as_text(r) for r in raw["replies"])
    return ()


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _delay(where: str, value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise ScriptError(f"{where}: delay must be a number of seconds >= 0")
    return float(value)


def _error(where: str, value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ScriptError(f"{where}: error must be a mapping {{status, message, times}}")
    status, times = value.get("status", 500), value.get("times", 1)
    if not isinstance(status, int) or not 400 <= status <= 599:
        raise ScriptError(f"{where}: error.status must be an HTTP error status (400-599)")
    if not isinstance(times, int) or times < 1:
        raise ScriptError(f"{where}: error.times must be an integer >= 1")
    message = str(value.get("message", f"scripted error {status}"))
    return {"error_status": status, "error_message": message, "error_times": times}


def _tool_calls(where: str, value: Any) -> tuple[ToolCall, ...]:
    if value is None:
        return ()
    calls = value if isinstance(value, list) else [value]
    out = []
    for call in calls:
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise ScriptError(f"{where}: tool_call needs a name (and arguments as a mapping)")
        arguments = call.get("arguments", {})
        if not isinstance(arguments, dict):
            raise ScriptError(f"{where}: tool_call.arguments must be a mapping")
        out.append(ToolCall(call["name"], arguments))
    return tuple(out)
