"""Budgets: what a run and each of its steps may spend, and the check before each message.

Owns `Budget` (thread-safe: units of parallel steps and for_each items spend at once),
`BudgetExceeded`, `run_limit` and `spent_so_far`. Scopes: the run (`defaults.budget`, or
`--max-tokens` / `--max-cost`), a top-level step (`steps.X.budget`: all its units, every
for_each item and loop iteration) and a loop-body step (`loop.steps.Y.budget`: its units
in every iteration). Before a unit starts, and before every message it sends (a repair or a
retry is a message too), each scope it belongs to is checked: once a limit is reached no
further message goes out. A unit cannot be priced before it runs, so a unit that starts
below a limit may end above it; what it spent is counted, and the next unit stops.

When the *run's* limit is reached the run stops cleanly: `stopped` holds the reason, the
executor starts no further step, what ran is kept (its records), and `orchestrate resume
RUN --max-cost MORE` continues from the records (spending restarts from what they hold).
A `max_cost` needs the cost of each message: a model with no price cannot be sent under
one (the unit is refused before it spends anything, saying which model to price).

Must not: decide what a step means or when it runs (run.flow / the executor), or print.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from orchestrator.compile.plan import Plan
from orchestrator.errors import RunError
from orchestrator.run.cost import Cost, PriceTable, usd_text
from orchestrator.spec.model import BudgetSpec

RUN = ""  # the scope key of the whole run


class BudgetExceeded(RunError):
    """A limit was reached before a unit (or its next message) started."""

    def __init__(self, message: str, scope: str):
        super().__init__(message)
        self.scope = scope  # RUN, or the step path whose own limit was reached


@dataclass
class _Spent:
    tokens: int = 0
    cost: Cost | None = None

    def add(self, tokens: int, cost: Cost) -> None:
        self.tokens += tokens
        if self.cost is None:
            self.cost = Cost()
        self.cost.add(cost)


def run_limit(plan: Plan, max_tokens: int | None, max_cost: float | None) -> BudgetSpec:
    """The run's limits: the command line's, else the pipeline's `defaults.budget`."""
    base = plan.defaults.budget
    return BudgetSpec(
        max_tokens=max_tokens if max_tokens is not None else base.max_tokens,
        max_cost=max_cost if max_cost is not None else base.max_cost,
    )


def step_limits(plan: Plan) -> dict[str, BudgetSpec]:
    """Step path (`x`, or `loop.body` for a loop-body step) -> its own limits."""
    limits: dict[str, BudgetSpec] = {}
    for name, step in plan.steps.items():
        if step.budget is not None:
            limits[name] = step.budget
        for inner_name, inner in step.loop.steps.items() if step.loop else ():
            if inner.budget is not None:
                limits[f"{name}.{inner_name}"] = inner.budget
    return limits


def spent_so_far(units: Iterable[Mapping]) -> list[tuple[str, int, Cost]]:
    """What earlier attempts of the run spent, per unit row (resume): (step path, tokens,
    cost). Only unit rows (with a prompt) count: aggregate rows repeat their items."""
    out = []
    for row in units:
        if row.get("prompt") is None:
            continue
        tokens = (row.get("prompt_tokens") or 0) + (row.get("completion_tokens") or 0)
        cost = Cost(
            row.get("cost") or 0.0,
            tokens if row.get("cost") is None else row.get("unpriced_tokens") or 0,
        )
        out.append((row["step"], tokens, cost))
    return out


class Budget:
    def __init__(
        self,
        run: BudgetSpec | None = None,
        steps: Mapping[str, BudgetSpec] | None = None,
        spent: Iterable[tuple[str, int, Cost]] = (),
    ):
        self.limits: dict[str, BudgetSpec] = dict(steps or {})
        if run is not None and (run.max_tokens is not None or run.max_cost is not None):
            self.limits[RUN] = run
        self._spent: dict[str, _Spent] = {}
        self._lock = threading.Lock()
        self.stopped: str | None = None  # why the run's own limit stopped it
        for path, tokens, cost in spent:
            self._add(path, tokens, cost)

    def __bool__(self) -> bool:
        return bool(self.limits)

    def check(
        self, path: str, *, model: str | None = None, prices: PriceTable | None = None
    ) -> None:
        """Before a unit of step `path` (or its next message) starts: raise BudgetExceeded
        if a scope it belongs to has reached its limit. With `model`, a `max_cost` also
        needs that model to have a price."""
        if not self.limits:
            return
        with self._lock:
            for scope in _scopes(path):
                limit = self.limits.get(scope)
                if limit is None:
                    continue
                reason = self._reached(scope, limit, model, prices)
                if reason is not None:
                    if scope == RUN and self.stopped is None:
                        self.stopped = reason
                    raise BudgetExceeded(reason, scope)

    def spend(self, path: str, tokens: int, cost: Cost) -> None:
        with self._lock:
            self._add(path, tokens, cost)

    def _add(self, path: str, tokens: int, cost: Cost) -> None:
        for scope in _scopes(path):
            self._spent.setdefault(scope, _Spent()).add(tokens, cost)

    def _reached(
        self, scope: str, limit: BudgetSpec, model: str | None, prices: PriceTable | None
    ) -> str | None:
        spent = self._spent.get(scope, _Spent())
        whose = "the run's budget" if scope == RUN else f"step '{scope}''s budget"
        if limit.max_tokens is not None and spent.tokens >= limit.max_tokens:
            return f"{whose} is spent: {spent.tokens} tokens used, max_tokens {limit.max_tokens}"
        if limit.max_cost is None:
            return None
        cost = spent.cost or Cost()
        if not cost.known:
            return (
                f"{whose} (max_cost {usd_text(limit.max_cost)}) cannot be kept: "
                f"{cost.unpriced_tokens} tokens were spent on a model with no price "
                "(add it to STATE/prices.yaml)"
            )
        if cost.usd >= limit.max_cost:
            return (
                f"{whose} is spent: {usd_text(cost.usd)} used, max_cost {usd_text(limit.max_cost)}"
            )
        if model is not None and prices is not None and prices.price(model) is None:
            return (
                f"{whose} has a max_cost, but model '{model}' has no price: add it to "
                "STATE/prices.yaml (or $ORCHESTRATE_PRICES), see docs/running.md"
            )
        return None


def _scopes(path: str) -> tuple[str, ...]:
    """The run, and every step the unit is part of: `loop.body` counts for `loop`;
    `review.revise.rewrite` (a sub-pipeline's loop) for `review` and `review.revise` too."""
    parts = path.split(".")
    return (RUN, *(".".join(parts[:n]) for n in range(1, len(parts) + 1)))
