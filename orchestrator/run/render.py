"""Text for people: the end-of-run summary, `runs list`, `runs show`, `run --dry-run`.

Owns plain-text formatting only (no colour codes, so it reads the same in a terminal, a CI
log or a test). Outputs are redacted with the run's Redactor before display.

Must not: read records or run anything; callers pass the data in.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from orchestrator.compile.plan import Plan
from orchestrator.run.cost import Cost, usd_text
from orchestrator.run.status import FAILED


def _value(value: Any) -> str:
    return (
        value
        if isinstance(value, str)
        else json.dumps(value, ensure_ascii=False, indent=2, default=str)
    )


def _indent(text: str, pad: str = "    ") -> str:
    return "\n".join(pad + line for line in text.splitlines()) or pad


def _when(ts: float | None) -> str:
    if not ts:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def outcome_text(outcome: Any) -> str:
    red = outcome.redactor
    lines = [f"run {outcome.run_id}: {outcome.status} in {outcome.duration:.2f}s", "", "steps:"]
    width = max((len(n) for n in outcome.results), default=4)
    total = 0
    for name, r in outcome.results.items():
        total += r.usage.tokens
        extra = " (reused)" if r.reused else " (cached)" if r.cached else ""
        if r.iterations is not None:
            extra += f" ({r.iterations} iteration{'s' if r.iterations != 1 else ''})"
        cost = f"  {r.usage.cost.text()}" if r.usage.tokens else ""
        lines.append(
            f"  {name:<{width}}  {r.status:<16}  {r.duration:7.2f}s  "
            f"{r.usage.prompt_tokens:>7} in / {r.usage.completion_tokens:>6} out"
            f"{cost}{extra}"
        )
    totals = getattr(outcome, "totals", None)
    if totals:  # the whole run from its records: earlier attempts (resume) included
        total = totals["prompt_tokens"] + totals["completion_tokens"]
    lines.append(
        f"  {'total':<{width}}  {'':<16}  {outcome.duration:7.2f}s  {total:>7} tokens"
        + (f"  {_totals_cost(totals).text()}" if totals else "")
    )
    if outcome.outputs:
        lines += ["", "outputs:"]
        for name, value in red.data(outcome.outputs).items():
            lines += [f"  {name}:", _indent(_value(value))]
    return "\n".join(lines)


def _totals_cost(totals: dict[str, Any]) -> Cost:
    return Cost(totals.get("cost") or 0.0, totals.get("unpriced_tokens") or 0)


def _short_cost(cost: Cost) -> str:
    if cost.known:
        return usd_text(cost.usd)
    return f">={usd_text(cost.usd)}" if cost.usd else "unknown"


def runs_table(runs: list[dict]) -> str:
    if not runs:
        return "no runs recorded yet"
    header = (
        f"{'RUN ID':<23}  {'PIPELINE':<20}  {'STATUS':<16}  {'STARTED (UTC)':<19}  "
        f"{'TIME':>8}  {'TOKENS':>7}  {'COST':>10}"
    )
    rows = [header]
    for r in runs:
        took = f"{r['ended'] - r['started']:.1f}s" if r.get("ended") else "-"
        rows.append(
            f"{r['id']:<23}  {r['pipeline'][:20]:<20}  {r['status']:<16}  "
            f"{_when(r['started']):<19}  {took:>8}  {r.get('tokens', 0):>7}  "
            f"{_short_cost(_totals_cost(r)):>10}"
        )
        if r.get("waiting"):  # what a person is asked, and how to answer
            rows.append(
                f"{'':<23}  waits for: {', '.join(r['waiting'])} (orchestrate approve "
                f"{r['id']} STEP)"
            )
    return "\n".join(rows)


def unit_totals(units: list[dict]) -> dict[str, Any]:
    """A run's totals from its unit rows (as Records.usage_totals sums them)."""
    rows = [u for u in units if u.get("prompt") is not None]
    cost = Cost()
    for u in rows:
        tokens = u["prompt_tokens"] + u["completion_tokens"]
        cost.add(
            Cost(
                u.get("cost") or 0.0,
                tokens if u.get("cost") is None else u.get("unpriced_tokens") or 0,
            )
        )
    return {
        "prompt_tokens": sum(u["prompt_tokens"] for u in rows),
        "completion_tokens": sum(u["completion_tokens"] for u in rows),
        "cost": cost.usd,
        "unpriced_tokens": cost.unpriced_tokens,
    }


def run_detail(run: dict, units: list[dict], approvals: list[dict] | None = None) -> str:
    lines = [
        f"run {run['id']}  {run['status']}",
        f"  pipeline  {run['pipeline']} ({run['file']})",
        f"  file hash {run['file_hash'][:16]}",
        f"  server    {run.get('base_url')}",
        f"  started   {_when(run['started'])}   ended {_when(run.get('ended'))}",
        f"  inputs    {json.dumps(run['inputs'], ensure_ascii=False)}",
    ]
    if run["secret_inputs"]:
        lines.append(f"  secret    {', '.join(run['secret_inputs'])} (not recorded)")
    if run.get("resumes"):
        lines.append(f"  resumed   {run['resumes']} time(s)")
    if run.get("error"):
        lines.append(f"  error     {run['error']}")
    totals = unit_totals(units)
    lines.append(
        f"  usage     {totals['prompt_tokens']} in / {totals['completion_tokens']} out"
        f" tokens, {_totals_cost(totals).text()}"
    )
    for u in units:
        lines += ["", _unit_title(u)]
        # a failed unit's output is its last reply, not valid for its schema (JSON steps)
        output = "last reply (invalid)" if u.get("status") == FAILED else "output"
        for label, key in (("prompt", "prompt"), (output, "output"), ("error", "error")):
            if u.get(key) is not None:
                lines += [f"  {label}:", _indent(_value(u[key]))]
    if approvals:
        lines += ["", "approvals:"] + [_approval_line(a) for a in approvals]
    if run.get("outputs"):
        lines += ["", "outputs:"] + [
            f"  {k}:\n{_indent(_value(v))}" for k, v in run["outputs"].items()
        ]
    return "\n".join(lines)


def _approval_line(a: dict) -> str:
    name = (
        a["step"]
        + (f"#{a['iteration']}" if a["iteration"] else "")
        + (f"[{a['item']}]" if a["item"] >= 0 else "")
    )
    line = f"  {name} [{a['stage']}]: {a['status']}"
    if a["status"] != "waiting":
        line += f" by {a.get('decided_by')} at {_when(a.get('decided'))}"
        if a.get("comment"):
            line += f": {a['comment']}"
    elif a.get("deadline"):
        line += f" (until {_when(a['deadline'])})"
    return line + (f"\n    asked: {a['prompt']}" if a.get("prompt") else "")


def _unit_title(u: dict) -> str:
    name = u["step"]
    if u["iteration"]:
        name += f" (iteration {u['iteration']})"
    if u["item"] >= 0:
        name += f" [item {u['item']}]"
    took = f"{u['duration']:.2f}s" if u.get("duration") is not None else "-"
    bits = [
        f"{name}: {u['status']}",
        f"attempts {u['attempts']}",
        took,
        f"tokens {u['prompt_tokens']} in / {u['completion_tokens']} out",
    ]
    tokens = u["prompt_tokens"] + u["completion_tokens"]
    if tokens or u.get("cost") is not None:
        bits.append(
            "cost "
            + Cost(
                u.get("cost") or 0.0,
                tokens if u.get("cost") is None else u.get("unpriced_tokens") or 0,
            ).text()
        )
    if u.get("repairs"):
        bits.append(f"repairs {u['repairs']}")
    if u.get("cached"):
        bits.append("cached (an earlier run's output)")
    if u.get("agent"):
        copy = f"#{u['replica']}" if (u.get("replica") or 1) > 1 else ""
        bits.append(
            f"agent {u['agent']}{copy}" + (f" ({u['agent_id']})" if u.get("agent_id") else "")
        )
    if u.get("model"):
        bits.append(f"model {u['model']}")
    if u.get("iterations"):
        bits.append(f"{u['iterations']} iterations")
    return "  ".join(bits)


def dry_run_text(plan: Plan, steps: list[dict]) -> str:
    lines = [
        f"pipeline {plan.name}: {len(plan.steps)} steps, levels: "
        + " -> ".join("[" + ", ".join(level) + "]" for level in plan.levels),
        "(dry run: no server contacted; <...> marks values known only at run time)",
    ]
    for s in steps:
        head = f"\n{s['name']}"
        if s["loop"]:
            head += f": loop, {s['loop']}"
        elif s.get("uses"):
            head += f": {s['uses']}"
        else:
            head += f": agent {s['agent']}, model {s['model'] or '(run default)'}"
        if s["depends_on"]:
            head += f", after {', '.join(s['depends_on'])}"
        lines.append(head)
        if s["when"]:
            lines.append(f"  when: {s['when']}")
        if s["for_each"]:
            lines.append(f"  for_each: {s['for_each']}")
        if s["prompt"] is not None:
            label = "with" if s.get("uses") else "prompt"
            lines += [f"  {label}:", _indent(s["prompt"].rstrip("\n"))]
    return "\n".join(lines)
