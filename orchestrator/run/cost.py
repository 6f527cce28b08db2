"""What tokens cost: the price table and the cost of a unit, a step, a run.

Owns `Price`, `PriceTable` (the table that ships with orchestrate, `run/prices.yaml`, with a
user's file laid over it: `$ORCHESTRATE_PRICES`, else `STATE/prices.yaml`), `load_prices`,
and `Cost` (a sum that knows which part of it is unknown). Prices are US dollars per
million tokens, input (prompt) and output (completion) apart, per Letta model handle; a
handle ending in `*` covers a family (the longest pattern wins, an exact handle wins over
any pattern). A model in no table has no price: its tokens are counted as *unpriced* and
the cost reads "cost unknown", never a made-up zero.

Must not: read run records or decide anything about a run (run.budget does).
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import RunError
from orchestrator.home import state_home

SHIPPED = Path(__file__).with_name("prices.yaml")
ENV_PRICES = "ORCHESTRATE_PRICES"
PER = 1_000_000  # prices are per million tokens


@dataclass(frozen=True)
class Price:
    input: float  # USD per million prompt tokens
    output: float  # USD per million completion tokens
    checked: str = ""  # the date the figure was read (YYYY-MM-DD)
    source: str = ""  # the file it came from

    def of(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / PER


@dataclass
class Cost:
    """Dollars for the priced tokens, and how many tokens had no price."""

    usd: float = 0.0
    unpriced_tokens: int = 0

    def add(self, other: Cost) -> None:
        self.usd += other.usd
        self.unpriced_tokens += other.unpriced_tokens

    @property
    def known(self) -> bool:
        return self.unpriced_tokens == 0

    def usd_or_none(self) -> float | None:
        """The total when it is known; None when any part is unknown."""
        return round(self.usd, 6) if self.known else None

    def text(self) -> str:
        if self.known:
            return usd_text(self.usd)
        if self.usd:
            return f">= {usd_text(self.usd)} (cost unknown for {self.unpriced_tokens} tokens)"
        return "cost unknown"


def usd_text(usd: float) -> str:
    if usd == 0:
        return "$0"
    return f"${usd:.4f}" if usd < 100 else f"${usd:,.2f}"


class PriceTable:
    def __init__(self, prices: Mapping[str, Price]):
        self._exact = {h: p for h, p in prices.items() if not h.endswith("*")}
        self._patterns = sorted(
            ((h[:-1], p) for h, p in prices.items() if h.endswith("*")), key=lambda hp: -len(hp[0])
        )

    def price(self, model: str | None) -> Price | None:
        if not model:
            return None
        found = self._exact.get(model)
        if found is not None:
            return found
        return next((p for prefix, p in self._patterns if model.startswith(prefix)), None)

    def cost(self, model: str | None, prompt_tokens: int, completion_tokens: int) -> Cost:
        """What these tokens cost; no tokens cost nothing whatever the model."""
        tokens = prompt_tokens + completion_tokens
        if not tokens:
            return Cost()
        price = self.price(model)
        if price is None:
            return Cost(0.0, tokens)
        return Cost(price.of(prompt_tokens, completion_tokens))

    def handles(self) -> list[str]:
        return sorted([*self._exact, *(p + "*" for p, _ in self._patterns)])


def user_file() -> Path:
    """Where a user's prices are read from: $ORCHESTRATE_PRICES, else STATE/prices.yaml."""
    named = os.environ.get(ENV_PRICES)
    if named:
        return Path(named)
    return state_home() / "prices.yaml"


def load_prices(extra: Path | None = None) -> PriceTable:
    """The shipped table with the user's file (`extra`, default `user_file()`) over it.
    A user file that is named by $ORCHESTRATE_PRICES must exist; STATE/prices.yaml may not."""
    path = extra if extra is not None else user_file()
    must = extra is not None or bool(os.environ.get(ENV_PRICES))
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        if must:
            raise RunError(f"{path}: price file not found (${ENV_PRICES} names it)") from None
        stamp = None
    return _load(str(path.resolve()) if stamp is not None else None, stamp)


@functools.lru_cache(maxsize=8)
def _load(user: str | None, stamp: int | None) -> PriceTable:
    prices = dict(_read(SHIPPED))
    if user is not None:
        prices.update(_read(Path(user)))
    return PriceTable(prices)


def _read(path: Path) -> Iterable[tuple[str, Price]]:
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise RunError(f"{path}: cannot read prices: {exc}") from None
    models = _mapping_value(root, "models") if root is not None else None
    if not isinstance(models, yaml.MappingNode):
        raise RunError(
            f"{path}:{_line(root)}: a price file is a mapping with `models:` "
            "(handle: {input: USD per million, output: USD per million, "
            "checked: YYYY-MM-DD})"
        )
    out = []
    for key, value in models.value:
        handle = str(key.value)
        out.append((handle, _price(path, handle, value)))
    return out


def _price(path: Path, handle: str, node: yaml.Node) -> Price:
    where = f"{path}:{node.start_mark.line + 1}:{node.start_mark.column + 1}: models.{handle}"
    data: Any = yaml.safe_load(yaml.serialize(node)) if isinstance(node, yaml.MappingNode) else None
    if not isinstance(data, dict):
        raise RunError(f"{where}: expected {{input: N, output: N, checked: YYYY-MM-DD}}")
    unknown = set(data) - {"input", "output", "checked"}
    if unknown:
        raise RunError(
            f"{where}: unknown key {sorted(unknown)[0]!r} (keys: input, output, checked)"
        )
    for side in ("input", "output"):
        value = data.get(side)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise RunError(
                f"{where}.{side}: expected a number >= 0 (US dollars per million "
                f"tokens), got {value!r}"
            )
    checked = data.get("checked", "")
    if isinstance(checked, (dt.date, dt.datetime)):
        checked = checked.isoformat()[:10]
    return Price(float(data["input"]), float(data["output"]), str(checked), str(path))


def _mapping_value(node: yaml.Node, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((v for k, v in node.value if k.value == key), None)


def _line(node: yaml.Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 1
