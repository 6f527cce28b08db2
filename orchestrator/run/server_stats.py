"""`orchestrate stats --server`: what the live Letta server knows of a namespace's agents.

Owns `server_doc` (the `server` part of the stats document, from the listings of
backends.letta_usage) and `server_text` (its plain-text table). Per provisioned agent:
messages, tool calls, archival passages, memory blocks in characters against their limits
(one at NEAR_LIMIT or more is a warning), the runs Letta recorded (failed ones, p50/p95 of
their duration) with their tokens, and the last activity; over all of them, the most-used
tools.

Must not: talk to the server (the caller passes the listings) or read run records.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from orchestrator.backends.letta_usage import AgentUsage
from orchestrator.run.stats import percentile

NEAR_LIMIT = 0.9  # a block this full (of its character limit) is a warning
TOP_TOOLS = 10


def server_doc(base_url: str, namespace: str, agents: list[AgentUsage]) -> dict[str, Any]:
    tools: Counter[str] = Counter()
    users: dict[str, set[str]] = {}
    warnings = []
    rows = []
    for a in agents:
        tools.update(a.tools)
        for tool in a.tools:
            users.setdefault(tool, set()).add(a.name)
        blocks = []
        for b in a.blocks:
            used = round(b.chars / b.limit, 3) if b.limit else None
            blocks.append({"label": b.label, "chars": b.chars, "limit": b.limit, "used": used})
            if used is not None and used >= NEAR_LIMIT:
                warnings.append(
                    f"agent {a.name}: block '{b.label}' holds {b.chars} of its "
                    f"{b.limit} characters ({used:.0%}): near its limit"
                )
        seconds = list(a.run_seconds)
        rows.append(
            {
                "agent": a.name,
                "agent_id": a.agent_id,
                "model": a.model,
                "messages": a.messages.n,
                "messages_capped": a.messages.capped,
                "tool_calls": sum(a.tools.values()),
                "tools": dict(a.tools),
                "archival_passages": a.passages.n,
                "passages_capped": a.passages.capped,
                "runs": a.runs.n,
                "runs_capped": a.runs.capped,
                "failed_runs": a.failed_runs,
                "run_p50_s": percentile(seconds, 50),
                "run_p95_s": percentile(seconds, 95),
                "prompt_tokens": a.prompt_tokens,
                "completion_tokens": a.completion_tokens,
                "tokens": a.prompt_tokens + a.completion_tokens,
                "last_activity": _iso(a.last_activity),
                "blocks": blocks,
            }
        )
    top = sorted(tools.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_TOOLS]
    return {
        "base_url": base_url,
        "namespace": namespace,
        "agents": rows,
        "tools": [{"tool": t, "calls": n, "agents": sorted(users[t])} for t, n in top],
        "warnings": warnings,
    }


def server_text(doc: dict[str, Any]) -> str:
    lines = [
        f"server {doc['base_url']}, namespace {doc['namespace']}: "
        f"{len(doc['agents'])} managed agent(s)"
    ]
    if not doc["agents"]:
        return "\n".join(
            [
                *lines,
                "  (none: `orchestrate apply DIR --namespace "
                f"{doc['namespace']}` provisions agents)",
            ]
        )
    width = max(5, *(len(r["agent"]) for r in doc["agents"]))
    lines.append(
        f"  {'AGENT':<{width}}  {'MESSAGES':>8}  {'TOOLS':>5}  {'PASSAGES':>8}  "
        f"{'RUNS':>5}  {'FAILED':>6}  {'P50':>7}  {'TOKENS':>9}  LAST ACTIVITY (UTC)"
    )
    for r in doc["agents"]:
        p50 = "-" if r["run_p50_s"] is None else f"{r['run_p50_s']:.2f}s"
        lines.append(
            f"  {r['agent']:<{width}}  {_n(r['messages'], r['messages_capped']):>8}  "
            f"{r['tool_calls']:>5}  {_n(r['archival_passages'], r['passages_capped']):>8}  "
            f"{_n(r['runs'], r['runs_capped']):>5}  {r['failed_runs']:>6}  {p50:>7}  "
            f"{r['tokens']:>9}  {(r['last_activity'] or '-')[:19].replace('T', ' ')}"
        )
    lines += ["", "memory blocks (characters / limit):"]
    for r in doc["agents"]:
        for b in r["blocks"]:
            used = "" if b["used"] is None else f" ({b['used']:.0%})"
            lines.append(
                f"  {r['agent']:<{width}}  {b['label']:<16} {b['chars']:>7} / "
                f"{b['limit'] if b['limit'] is not None else '-'}{used}"
            )
    if doc["tools"]:
        lines += ["", "most-used tools (calls in the agents' histories):"]
        lines += [
            f"  {t['tool']:<24} {t['calls']:>6}  ({', '.join(t['agents'])})" for t in doc["tools"]
        ]
    lines += [f"warning: {w}" for w in doc["warnings"]]
    return "\n".join(lines)


def _n(n: int, capped: bool) -> str:
    return f">={n}" if capped else str(n)


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat(timespec="seconds")
