"""What a chat request says, and the model's unscripted answer to it.

Owns `Conversation` (agent id, system text, the prompt, how many tool rounds the current turn
has had, the JSON Schema a step asked for) and `default_reply`. Facts about Letta this relies
on: the system message holds the memory blocks and a line `- AGENT_ID: agent-...`; the last
user message is the step's prompt; after a tool call Letta sends the same history plus the
assistant's tool call and the tool's result. Anything else (summarizer calls, odd content
shapes) must still parse: this module never raises on a well-formed JSON object.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .schema_instance import minimal_instance

#: The orchestrator's runner appends this line, then the schema in a ```json fence, to a
#: prompt whose step wants JSON output. The local model answers such prompts with a minimal
#: valid instance of that schema.
JSON_SCHEMA_MARKER = "Respond with only a JSON value that matches this JSON Schema:"

_AGENT_ID = re.compile(r"AGENT_ID:\s*(agent-[A-Za-z0-9-]+)")
_FENCE = re.compile(r"```(?:json)?[ \t]*\n(.*?)\n[ \t]*```", re.DOTALL)
PROMPT_EXCERPT = 200


def text_of(content: Any) -> str:
    """The text of an OpenAI message `content` (a string or a list of parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict):
                parts.append(str(part.get("text") or part.get("content") or ""))
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(p for p in parts if p)
    return str(content)


@dataclass(frozen=True)
class Conversation:
    agent_id: str
    system: str
    prompt: str
    tool_rounds: int  # assistant tool calls since the last user message
    last_role: str
    model: str
    stream: bool
    tools: tuple[str, ...]
    response_format: Any = None  # the request's OpenAI `response_format`, if any

    @classmethod
    def from_request(cls, body: dict) -> Conversation:
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        system = "\n".join(
            text_of(m.get("content")) for m in messages if m.get("role") in ("system", "developer")
        )
        last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
        prompt = text_of(messages[last_user].get("content")) if last_user >= 0 else ""
        tool_rounds = sum(
            1
            for m in messages[last_user + 1 :]
            if m.get("role") == "assistant" and m.get("tool_calls")
        )
        match = _AGENT_ID.search(system)
        tools = tuple(
            str((t.get("function") or {}).get("name", ""))
            for t in body.get("tools") or []
            if isinstance(t, dict)
        )
        return cls(
            agent_id=match.group(1) if match else "",
            system=system,
            prompt=prompt,
            tool_rounds=tool_rounds,
            last_role=str(messages[-1].get("role", "")) if messages else "",
            model=str(body.get("model", "")),
            stream=bool(body.get("stream")),
            tools=tools,
            response_format=body.get("response_format"),
        )

    def requested_schema(self) -> Any | None:
        """The JSON Schema the answer must match (prompt marker or `response_format`), or None."""
        fmt = self.response_format if isinstance(self.response_format, dict) else {}
        if fmt.get("type") == "json_schema":
            return (fmt.get("json_schema") or {}).get("schema", {})
        if fmt.get("type") == "json_object":
            return {"type": "object"}
        at = self.prompt.rfind(JSON_SCHEMA_MARKER)
        if at < 0:
            return None
        fence = _FENCE.search(self.prompt, at + len(JSON_SCHEMA_MARKER))
        if not fence:
            return None
        try:
            return json.loads(fence.group(1))
        except ValueError:
            return None

    def question(self) -> str:
        """The prompt without the JSON-output instruction the runner appended."""
        at = self.prompt.rfind(JSON_SCHEMA_MARKER)
        return (self.prompt[:at] if at >= 0 else self.prompt).strip()

    def who(self) -> str:
        return self.agent_id or "unknown-agent"


def default_reply(conv: Conversation) -> str:
    """The unscripted answer: a schema instance when JSON was asked for, else an echo."""
    schema = conv.requested_schema()
    if schema is not None:
        return json.dumps(minimal_instance(schema, conv.question()), ensure_ascii=False)
    excerpt = " ".join(conv.question().split())[:PROMPT_EXCERPT]
    return f"[local-model] {conv.who()}: reply to: {excerpt}"
