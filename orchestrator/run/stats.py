"""`orchestrate stats`: what runs did over time, computed from the run records alone.

Owns `StatsFilter`, `parse_since`, `collect(records, filter) -> dict` and `empty` (plain data: the
JSON document, and what the table and the plot are drawn from). Two queries (runs, then
their step rows), aggregated in one pass, so 10,000 runs answer well under a second.

Definitions (documented in docs/running.md#stats):
- runs by status; `interrupted` is a `running` run whose process is gone; the success and
  failure rates are over finished runs (not running);
- steps: top-level step rows; their p50/p95 duration (nearest rank) over those that
  succeeded or failed; `round trip`: p50/p95 of a unit's duration (one Letta round trip,
  retries included);
- tokens and cost by model, agent and pipeline, from unit rows (a step, a for_each item, a
  loop-body step in one iteration); `cost_usd` is None when some tokens had no price;
- retries: extra attempts that were not JSON repairs; repairs: JSON repair attempts;
- errors of failed steps, grouped once ids, numbers and quoted text are blanked out.
`--agent` / `--model` keep the units (and steps) of that agent / model, and the runs that
have one; `--pipeline` and `--since` select runs.

Must not: write anything, or read anything but the records.
"""

from __future__ import annotations

import calendar
import functools
import math
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from orchestrator.errors import RunError
from orchestrator.run.cost import Cost, PriceTable
from orchestrator.run.records import NO_ITERATION, Records
from orchestrator.run.runner import process_alive
from orchestrator.run.status import FAILED, INTERRUPTED, RUNNING, SUCCEEDED

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_STEP_COLUMNS = (
    "s.run_id, s.step, s.item, s.iteration, s.status, s.attempts, s.agent, s.model,"
    " s.duration, s.started, s.prompt_tokens, s.completion_tokens, s.cost,"
    " s.unpriced_tokens, s.repairs,"
    " CASE WHEN s.status = 'failed' THEN s.error END AS failed_error,"
    " CASE WHEN s.prompt IS NULL THEN 0 ELSE 1 END AS is_unit"
)  # named: PG rows are keyed by name
HISTOGRAM_BINS = 12


@dataclass(frozen=True)
class StatsFilter:
    since: float | None = None  # epoch seconds
    pipeline: str | None = None
    agent: str | None = None
    model: str | None = None


def parse_since(text: str, now: float | None = None) -> float:
    """`7d`, `12h`, `30m`, `2w`, `90s`, or a UTC date `2026-11-30`."""
    now = time.time() if now is None else now
    found = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text)
    if found:
        return now - int(found.group(1)) * _UNITS[found.group(2)]
    try:
        return float(calendar.timegm(time.strptime(text.strip(), "%Y-%m-%d")))
    except ValueError:
        raise RunError(
            f"--since {text!r}: expected a duration like 7d, 12h, 30m, 2w or a date YYYY-MM-DD"
        ) from None


def percentile(values: list[float], p: float) -> float | None:
    """Nearest rank: the smallest value with at least p% of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def error_pattern(text: str) -> str:
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)
    text = re.sub(r"\b(?:agent|orch|batch)-[0-9a-f-]+\b", "<id>", text)
    text = re.sub(r"\b\d{8}-\d{6}-[0-9a-f]{6}\b", "<run>", text)
    text = re.sub(r"\b[0-9a-f]{12,}\b", "<hex>", text)
    text = re.sub(r"\d+(?:\.\d+)?", "N", text)
    return text[:160]


class _Usage:
    __slots__ = ("prompt", "completion", "usd", "unpriced", "units")

    def __init__(self) -> None:
        self.prompt = self.completion = self.unpriced = self.units = 0
        self.usd = 0.0

    def add(self, prompt: int, completion: int, cost: float, unpriced: int) -> None:
        self.prompt += prompt
        self.completion += completion
        self.units += 1
        self.usd += cost
        self.unpriced += unpriced

    def doc(self) -> dict[str, Any]:
        cost = Cost(self.usd, self.unpriced)
        return {
            "units": self.units,
            "prompt_tokens": self.prompt,
            "completion_tokens": self.completion,
            "tokens": self.prompt + self.completion,
            "cost_usd": cost.usd_or_none(),
            "cost_usd_priced": round(self.usd, 6),
            "unpriced_tokens": self.unpriced,
        }


def collect(
    records: Records, flt: StatsFilter = StatsFilter(), prices: PriceTable | None = None
) -> dict[str, Any]:
    """`prices`: prices the units recorded before cost was (their tokens and model are
    recorded); without it their cost is unknown."""
    where: list[str] = ["1=1"]
    params: list[float | str] = []
    if flt.since is not None:
        where.append("r.started >= ?")
        params.append(flt.since)
    if flt.pipeline:
        where.append("r.pipeline = ?")
        params.append(flt.pipeline)
    clause = " AND ".join(where)
    runs = records.read(
        f"SELECT r.id, r.pipeline, r.status, r.started, r.pid FROM runs r WHERE {clause}",
        tuple(params),
    )
    steps = records.read(
        f"SELECT {_STEP_COLUMNS} FROM steps s JOIN runs r ON r.id = s.run_id WHERE {clause}",
        tuple(params),
    )
    return _aggregate(runs, steps, flt, prices)


def empty(flt: StatsFilter = StatsFilter()) -> dict[str, Any]:
    """The document when nothing is recorded (same shape)."""
    return _aggregate([], [], flt)


def _aggregate(
    runs: list[tuple], steps: Iterable[tuple], flt: StatsFilter, prices: PriceTable | None = None
) -> dict[str, Any]:
    pipeline_of = {r[0]: r[1] for r in runs}
    total = _Usage()
    by_model: defaultdict[str, _Usage] = defaultdict(_Usage)
    by_agent: defaultdict[str, _Usage] = defaultdict(_Usage)
    by_pipeline: defaultdict[str, _Usage] = defaultdict(_Usage)
    per_day: defaultdict[str, _Usage] = defaultdict(_Usage)
    step_status: Counter[str] = Counter()
    step_durations: list[float] = []
    round_trips: list[float] = []
    retries = repairs = 0
    errors: dict[str, dict[str, Any]] = {}
    matched: set[str] = set()
    filtering = bool(flt.agent or flt.model)
    for (
        run_id,
        _step,
        item,
        iteration,
        status,
        attempts,
        agent,
        model,
        duration,
        started,
        prompt,
        completion,
        cost,
        unpriced,
        repaired,
        error,
        is_unit,
    ) in steps:
        if flt.agent and agent != flt.agent:
            continue
        if flt.model and model != flt.model and (is_unit or model is not None):
            continue
        if is_unit:
            matched.add(run_id)
            prompt, completion = prompt or 0, completion or 0
            if cost is None:  # recorded before cost was: price it now, if it can be
                priced = (
                    prices.cost(model, prompt, completion)
                    if prices is not None
                    else Cost(0.0, prompt + completion)
                )
                cost, unpriced = priced.usd, priced.unpriced_tokens
            for bucket in (
                total,
                by_model[model or "(unknown)"],
                by_agent[agent or "-"],
                by_pipeline[pipeline_of.get(run_id, "-")],
                per_day[_day(started)],
            ):
                bucket.add(prompt, completion, cost, unpriced or 0)
            if duration is not None:
                round_trips.append(duration)
            repairs += repaired or 0
            retries += max(0, (attempts or 0) - 1 - (repaired or 0))
        # for_each items and loop-body rows are units only (a sub-pipeline's steps,
        # `review.draft`, are steps: their names have dots too)
        if item != -1 or iteration != NO_ITERATION:
            continue
        if filtering and not is_unit and agent is None:
            continue  # a loop's own row: it has no agent or model of its own
        step_status[status] += 1
        if duration is not None and status in (SUCCEEDED, FAILED):
            step_durations.append(duration)
        if status == FAILED and error:
            _group_error(errors, error, run_id)
    kept = [r for r in runs if not filtering or r[0] in matched]
    return {
        "filters": {
            "since": flt.since,
            "pipeline": flt.pipeline,
            "agent": flt.agent,
            "model": flt.model,
        },
        "runs": _runs(kept),
        "steps": {
            "total": sum(step_status.values()),
            "by_status": dict(step_status),
            "duration_p50": percentile(step_durations, 50),
            "duration_p95": percentile(step_durations, 95),
            "round_trip_p50": percentile(round_trips, 50),
            "round_trip_p95": percentile(round_trips, 95),
            "units": total.units,
            "retries": retries,
            "repairs": repairs,
        },
        "usage": {
            "total": total.doc(),
            "by_model": _table(by_model, "model"),
            "by_agent": _table(by_agent, "agent"),
            "by_pipeline": _table(by_pipeline, "pipeline"),
        },
        "per_day": [{"day": day, **u.doc()} for day, u in sorted(per_day.items())],
        "duration_histogram": histogram(step_durations),
        "errors": sorted(errors.values(), key=lambda e: (-e["count"], e["pattern"]))[:10],
    }


def _runs(runs: list[tuple]) -> dict[str, Any]:
    status: Counter[str] = Counter()
    for _id, _pipeline, state, _started, pid in runs:
        if state == RUNNING and not (pid and process_alive(pid)):
            state = INTERRUPTED
        status[state] += 1
    finished = len(runs) - status.get(RUNNING, 0)
    return {
        "total": len(runs),
        "by_status": dict(status),
        "success_rate": round(status[SUCCEEDED] / finished, 4) if finished else None,
        "failure_rate": round(status[FAILED] / finished, 4) if finished else None,
    }


def _table(groups: dict[str, _Usage], key: str) -> list[dict[str, Any]]:
    rows = [{key: name, **u.doc()} for name, u in groups.items()]
    return sorted(rows, key=lambda r: (-r["cost_usd_priced"], -r["tokens"], r[key]))


def _group_error(errors: dict[str, dict[str, Any]], error: str, run_id: str) -> None:
    pattern = error_pattern(error)
    entry = errors.setdefault(
        pattern, {"pattern": pattern, "count": 0, "example": error[:300], "last_run": run_id}
    )
    entry["count"] += 1
    entry["last_run"] = max(entry["last_run"], run_id)  # run ids sort by their start time


@functools.lru_cache(maxsize=4096)
def _day_of(day_number: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(day_number * 86400))


def _day(started: float | None) -> str:
    return _day_of(int((started or 0) // 86400))


def histogram(values: list[float], bins: int = HISTOGRAM_BINS) -> list[dict[str, Any]]:
    if not values:
        return []
    low, high = min(values), max(values)
    width = (high - low) / bins or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - low) / width))] += 1
    return [
        {"from": round(low + i * width, 4), "to": round(low + (i + 1) * width, 4), "count": c}
        for i, c in enumerate(counts)
    ]
