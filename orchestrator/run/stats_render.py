"""`orchestrate stats` as text: a plain table, and bar charts for what is easier seen than
read (tokens and cost per day, the step-duration distribution).

Owns `stats_text(doc)` over the document `run.stats.collect` returns. Plain text only (no
colour codes), so it reads the same in a terminal, a CI log or a test.

Must not: read records or compute figures (run.stats does).
"""

from __future__ import annotations

from typing import Any

from orchestrator.run.cost import Cost, usd_text

BAR = 40  # characters of the longest bar


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def cost_text(row: dict[str, Any]) -> str:
    return Cost(row["cost_usd_priced"], row["unpriced_tokens"]).text()


def _bar(value: float, top: float) -> str:
    return "#" * max(1 if value else 0, round(BAR * value / top)) if top else ""


def _usage_table(title: str, key: str, rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    width = max(len(key), *(len(str(r[key])) for r in rows))
    lines = [
        "",
        f"{title}:",
        f"  {key.upper():<{width}}  {'UNITS':>7}  {'IN':>10}  {'OUT':>9}  COST",
    ]
    for r in rows:
        lines.append(
            f"  {str(r[key]):<{width}}  {r['units']:>7}  {r['prompt_tokens']:>10}  "
            f"{r['completion_tokens']:>9}  {cost_text(r)}"
        )
    return lines


def stats_text(doc: dict[str, Any]) -> str:
    runs, steps, total = doc["runs"], doc["steps"], doc["usage"]["total"]
    if not runs["total"]:
        return "no runs match (see `orchestrate runs list`)"
    status = ", ".join(f"{n} {s}" for s, n in sorted(runs["by_status"].items()))
    step_status = ", ".join(f"{n} {s}" for s, n in sorted(steps["by_status"].items()))
    lines = [
        f"runs        {runs['total']} ({status})",
        f"            success {_rate(runs['success_rate'])}, failure "
        f"{_rate(runs['failure_rate'])} (of finished runs)",
        f"steps       {steps['total']} ({step_status or 'none'}); {steps['units']} agent calls",
        f"duration    step p50 {_seconds(steps['duration_p50'])}, p95 "
        f"{_seconds(steps['duration_p95'])}; round trip p50 "
        f"{_seconds(steps['round_trip_p50'])}, p95 {_seconds(steps['round_trip_p95'])}",
        f"attempts    {steps['retries']} retries, {steps['repairs']} JSON repairs",
        f"tokens      {total['prompt_tokens']} in / {total['completion_tokens']} out, "
        f"{cost_text(total)}",
    ]
    lines += _usage_table("by model", "model", doc["usage"]["by_model"])
    lines += _usage_table("by agent", "agent", doc["usage"]["by_agent"])
    lines += _usage_table("by pipeline", "pipeline", doc["usage"]["by_pipeline"])
    lines += _per_day(doc["per_day"])
    lines += _durations(doc["duration_histogram"])
    if doc["errors"]:
        lines += ["", "top errors:"]
        for e in doc["errors"]:
            lines.append(f"  {e['count']:>5}x  {e['example'][:110]}  (last: run {e['last_run']})")
    return "\n".join(lines)


def _per_day(days: list[dict[str, Any]]) -> list[str]:
    if not days:
        return []
    top = max(d["tokens"] for d in days)
    lines = ["", "tokens per day (UTC):"]
    for d in days[-30:]:
        money = usd_text(d["cost_usd_priced"]) + ("+?" if d["unpriced_tokens"] else "")
        lines.append(f"  {d['day']}  {d['tokens']:>10}  {money:>10}  {_bar(d['tokens'], top)}")
    return lines


def _durations(bins: list[dict[str, Any]]) -> list[str]:
    if not bins:
        return []
    top = max(b["count"] for b in bins)
    lines = ["", "step durations:"]
    for b in bins:
        span = f"{b['from']:.2f}-{b['to']:.2f}s"
        lines.append(f"  {span:>16}  {b['count']:>6}  {_bar(b['count'], top)}")
    return lines
