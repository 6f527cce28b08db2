"""Letta agent files (`.af`): export agents from one server, import them into another.

Owns `export_agent_files` (one `<name>.af` per selected agent, as Letta 0.16.8's
`GET /v1/agents/{id}/export` writes it: the agent with its blocks, tools, tool rules,
settings and recent messages) and `import_agent_files` (`POST /v1/agents/import`).

Secrets never reach a file: tool environment values and MCP server env/headers are blanked
(Letta blanks them too; this does not rely on it), and any other text holding the value of
a variable the agent names (its `tool_env` keys, the `${env:VAR}` references and the
fields apply resolved them into, as it recorded them), or of a `--redact-env` variable, is
replaced by `(redacted)`: a secret resolved
into a system prompt or block by apply or a run does not leak. What the audit rules still
find (key formats, high-entropy strings) is reported as a warning, never the value.
On import the tool environment is filled from the environment, by the same names.

An imported agent keeps its tags, so an orchestrate-managed agent is managed on the new
server too (apply then finds it); importing next to an agent with the same identity is
refused (two agents with one identity block every plan).

Must not: talk to Letta other than through the AdminBackend, or print a secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from orchestrator.audit.rules import hits
from orchestrator.backends import identity
from orchestrator.backends.admin import AdminBackend
from orchestrator.errors import ProvisionError
from orchestrator.provision.export import (
    NAME_OK,
    ExportReport,
    Selection,
    export_name,
    select_agents,
)
from orchestrator.spec.envrefs import env_names

REDACTED = "(redacted)"
MIN_REDACTED = 4  # shorter values would mangle ordinary text
ENV_FIELDS = ("tool_exec_environment_variables", "secrets")
MAX_AGENT_FILE = 200 * 1024 * 1024
ID_PREFIX = identity.agent_tag("", "").removesuffix("/")  # "orchestrate:id="
# Letta's object ids (`file_agent-<uuid>`): random, so "high entropy", but no secret
_LETTA_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _env_names(agent: Mapping[str, Any]) -> dict[str, str]:
    """tool_env key -> the variable its value came from (the key itself unless recorded)."""
    keys: set[str] = set()
    for key in ENV_FIELDS:
        value = agent.get(key)
        if isinstance(value, Mapping):
            keys |= {str(k) for k in value}
    section = (agent.get("metadata") or {}).get(identity.METADATA_KEY) or {}
    refs = section.get("tool_env_refs") if isinstance(section, Mapping) else None
    refs = refs if isinstance(refs, Mapping) else {}
    return {key: str(refs.get(key) or key) for key in sorted(keys)}


def _recorded_names(value: Any) -> set[str]:
    """The variables apply resolved into a system prompt or block anywhere in the file, as
    it recorded them (agent metadata `env_fields`, a shared block's `env_template`)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _recorded_names(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in ("metadata", "metadata_") and isinstance(item, Mapping):
                section = item.get(identity.METADATA_KEY)
                section = section if isinstance(section, Mapping) else {}
                templates = section.get("env_fields")
                texts = list(templates.values()) if isinstance(templates, Mapping) else []
                texts.append(section.get("env_template"))
                found |= {n for t in texts if isinstance(t, str) for n in env_names(t)}
            else:
                found |= _recorded_names(item)
    return found


def _replace(value: Any, secrets: list[str]) -> tuple[Any, int]:
    if isinstance(value, str):
        count = 0
        for secret in secrets:
            if secret in value:
                count += value.count(secret)
                value = value.replace(secret, REDACTED)
        return value, count
    if isinstance(value, list):
        pairs = [_replace(v, secrets) for v in value]
        return [v for v, _ in pairs], sum(n for _, n in pairs)
    if isinstance(value, dict):
        out, total = {}, 0
        for key, item in value.items():
            out[key], n = _replace(item, secrets)
            total += n
        return out, total
    return value, 0


def scrub(doc: dict, env: Mapping[str, str], redact: tuple[str, ...] = ()) -> tuple[dict, int]:
    """The agent file without secret values, and how many texts were redacted."""
    names = set(redact) | _recorded_names(doc)
    for agent in doc.get("agents") or ():
        names |= set(_env_names(agent).values())
        for key in ENV_FIELDS:
            if isinstance(agent.get(key), dict):
                agent[key] = {k: "" for k in agent[key]}
        section = (agent.get("metadata") or {}).get(identity.METADATA_KEY)
        if isinstance(section, dict) and section.get("tool_env"):
            # a digest of the secret values (apply compares it): not for a file to carry, as
            # a weak secret could be guessed from it; apply after import sets them again
            section["tool_env"] = ""
    for server in doc.get("mcp_servers") or ():
        if isinstance(server.get("stdio_config"), dict):
            server["stdio_config"].pop("env", None)
        for key in ("token", "custom_headers", "auth_token", "headers"):
            server.pop(key, None)
    secrets = sorted(
        {v for n in names if len(v := env.get(n, "")) >= MIN_REDACTED}, key=len, reverse=True
    )
    cleaned, count = _replace(doc, secrets)
    return cleaned, count


def export_agent_files(
    backend: AdminBackend,
    selection: Selection,
    out: Path,
    namespace: str,
    env: Mapping[str, str],
    redact: tuple[str, ...] = (),
) -> ExportReport:
    report = ExportReport()
    for agent in select_agents(backend.list_agents(), selection, namespace):
        name = export_name(agent, namespace)
        if not NAME_OK.match(name):
            raise ProvisionError(
                f"agent {agent.id} is named {name!r}, which is not a valid "
                "file name; rename it on the server first"
            )
        doc, redacted = scrub(json.loads(backend.export_agent_file(agent.id)), env, redact)
        text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{name}.af").write_text(text, encoding="utf-8")
        report.agents.append(name)
        report.files.append(f"{name}.af")
        if redacted:
            report.warnings.append(
                f"{name}.af: {redacted} occurrence(s) of secret values replaced by {REDACTED}"
            )
        if found := sorted(
            {
                h.rule
                for h in hits(text)
                if h.value not in (REDACTED, "") and not _LETTA_ID.search(h.value)
            }
        ):
            report.warnings.append(
                f"{name}.af: what looks like a secret ({', '.join(found)}): "
                f"check it with `orchestrate audit {out / (name + '.af')}` "
                "before sharing the file"
            )
    return report


def _read(path: Path) -> tuple[bytes, dict]:
    try:
        if path.stat().st_size > MAX_AGENT_FILE:
            raise ProvisionError(f"{path}: larger than {MAX_AGENT_FILE // 2**20} MiB")
        content = path.read_bytes()
        doc = json.loads(content)
    except OSError as exc:
        raise ProvisionError(f"{path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        line, col = getattr(exc, "lineno", 0), getattr(exc, "colno", 0)
        raise ProvisionError(
            f"{path}:{line}:{col}: not an agent file (invalid JSON: {getattr(exc, 'msg', exc)})"
        ) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("agents"), list) or not doc["agents"]:
        raise ProvisionError(
            f"{path}:1:1: not an agent file (no 'agents' list; export one "
            "with `orchestrate export --format af`)"
        )
    return content, doc


def import_agent_files(
    backend: AdminBackend,
    paths: list[Path],
    env: Mapping[str, str],
    model: str | None = None,
    embedding: str | None = None,
) -> ExportReport:
    """Import the files (all checked first); `model`/`embedding`: handles the new server
    offers, replacing the files' (an agent moving from another server)."""
    report = ExportReport()
    files = [(path, *_read(path)) for path in paths]  # every file checked before any import
    taken = {tag for a in backend.list_agents() for tag in a.tags if tag.startswith(ID_PREFIX)}
    for path, _, doc in files:
        for agent in doc["agents"]:
            clash = [t for t in agent.get("tags") or () if t in taken]
            if clash:
                raise ProvisionError(
                    f"{path}: agent {agent.get('name')!r} has the identity "
                    f"{clash[0].removeprefix(ID_PREFIX)!r}, which an agent on the server "
                    "already has (delete that agent first, e.g. with `orchestrate destroy`, "
                    "or import into another server)"
                )
    for path, content, doc in files:
        secrets: dict[str, str] = {}
        for agent in doc["agents"]:
            for key, variable in _env_names(agent).items():
                if variable in env:
                    secrets[key] = env[variable]
                else:
                    report.warnings.append(
                        f"{path.name}: agent {agent.get('name')!r}: tool_env "
                        f"{key} is empty (set {variable} and import again, "
                        "or apply its YAML)"
                    )
        ids = backend.import_agent_file(content, secrets, model, embedding)
        names = [str(a.get("name")) for a in doc["agents"]]
        report.agents += [f"{n} ({i})" for n, i in zip(names, ids, strict=False)]
        report.files.append(str(path))
    return report
