"""Export's guard against resolved secrets: the system prompt and block values apply
resolved from `${env:...}` are written back as the references, never as the values.

Owns `SecretFields`: apply records, for each such field, its text as written (agent
metadata `env_fields`, a shared block's `env_template`: references unresolved, so no
secret). When the server's value still has the shape of that text (the same words around
the references), export writes the text as written. When the value changed since (an
agent or a person rewrote it), export writes it with the recorded variables' values
replaced by their references if they are set in its environment; otherwise it cannot tell
the secret apart and refuses, naming the agent and the field (never the value).

Must not: talk to a server, or put a value into a message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from orchestrator.audit.rules import BY_NAME, SECRET, hits
from orchestrator.backends import identity
from orchestrator.backends.admin import AgentState, Block
from orchestrator.errors import ProvisionError
from orchestrator.spec.envrefs import ENV_REF

MIN_REPLACED = 4  # a shorter value cannot be told apart from ordinary text


def _literals(template: str) -> list[str]:
    return ENV_REF.split(template)[::2]  # split keeps the names at the odd places


def _fits(value: str, literals: list[str]) -> bool:
    """Whether `value` is the literals in order with anything in the gaps (the references'
    values): a prefix, a suffix, and the middle pieces found leftmost (linear, exact)."""
    first, *middle, last = literals
    end = len(value) - len(last)
    if not (value.startswith(first) and value.endswith(last)) or end < len(first):
        return False
    pos = len(first)
    for piece in middle:
        found = value.find(piece, pos, end)
        if found < 0:
            return False
        pos = found + len(piece)
    return True


def _names(template: str) -> list[str]:
    return sorted({m.group(1) for m in ENV_REF.finditer(template)})


def _refs(names: list[str]) -> str:
    return ", ".join(f"${{env:{n}}}" for n in names)


@dataclass
class SecretFields:
    env: Mapping[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seen: dict[str, str] = field(default_factory=dict)  # block id -> value as written

    def restore(self, value: str, template: str | None, where: str) -> str:
        """`value` as export may write it (`where`: "agent NAME: FIELD", for messages)."""
        if not template or "${env:" not in template:
            self._looks_secret(value, where)
            return value
        if _fits(value, _literals(template)):
            return template
        names = _names(template)
        unusable = [n for n in names if len(self.env.get(n, "")) < MIN_REPLACED]
        if unusable:
            self.problems.append(
                f"{where}: its value was resolved from {_refs(names)} at apply and has changed "
                f"on the server since, so export cannot tell the secret apart; set "
                f"{', '.join(unusable)} (export then writes its value back as the reference) "
                "or apply the YAML again first"
            )
            return value
        for name in sorted(names, key=lambda n: len(self.env[n]), reverse=True):
            value = value.replace(self.env[name], f"${{env:{name}}}")
        return value

    def _looks_secret(self, value: str, where: str) -> None:
        # No record (applied by an older version, or written by hand): the audit's rules
        # say whether the text looks like it holds one; the value itself is never shown.
        found = sorted({h.rule for h in hits(value) if BY_NAME[h.rule].kind == SECRET})
        if found:
            self.warnings.append(
                f"{where}: what looks like a secret ({', '.join(found)}) is "
                "written as the server has it: check the files with "
                "`orchestrate audit` (apply the YAML again to record its "
                "${env:...} references)"
            )

    def agent_field(self, agent: AgentState, name: str, key: str, value: str) -> str:
        section = (agent.metadata or {}).get(identity.METADATA_KEY) or {}
        templates = section.get("env_fields")
        template = templates.get(key) if isinstance(templates, Mapping) else None
        return self.restore(
            value, template if isinstance(template, str) else None, f"agent {name}: {key}"
        )

    def block(self, agent: AgentState, name: str, block: Block) -> Block:
        section = (block.metadata or {}).get(identity.METADATA_KEY) or {}
        # Letta lists an agent's blocks without their tags: a managed shared block is told
        # by the identity in its metadata (private blocks carry none).
        found = identity.split_id(identity.metadata_id(dict(block.metadata or {})))
        shared = found[1] if found else None
        if block.id in self.seen:  # a shared block: checked once, with its first agent
            return replace(block, value=self.seen[block.id])
        if shared is None:
            value = self.agent_field(agent, name, f"memory_blocks.{block.label}", block.value)
        else:
            template = section.get("env_template")
            value = self.restore(
                block.value,
                template if isinstance(template, str) else None,
                f"block {shared}: value",
            )
        self.seen[block.id] = value
        return block if value is block.value else replace(block, value=value)


def scrub_agents(
    agents: list[AgentState], names: Mapping[str, str], env: Mapping[str, str]
) -> tuple[list[AgentState], dict[str, str], list[str]]:
    """The agents with their system prompt and block values as export may write them,
    block id -> value for every block seen (shared ones included), and warnings. Raises
    ProvisionError naming every field it cannot write, before anything is written."""
    guard = SecretFields(env)
    out, values = [], {}
    for agent in agents:
        name = names[agent.id]
        blocks = tuple(guard.block(agent, name, b) for b in agent.blocks)
        values.update({b.id: b.value for b in blocks})
        out.append(
            replace(
                agent, blocks=blocks, system=guard.agent_field(agent, name, "system", agent.system)
            )
        )
    if guard.problems:
        raise ProvisionError(
            "export refused: it would write a resolved secret\n  " + "\n  ".join(guard.problems)
        )
    return out, values, guard.warnings
