"""The price book: which price applies to a provider's model at a moment, and the estimate.

Prices are a history of rows per (provider, upstream model id); rows are never changed, so a
record's price snapshot stays what it was. At a moment, the price is, first match wins:

1. the latest ``admin`` row in effect (an override; a row without prices ends the override);
2. the price the provider's model list states now (RedPill), else the latest ``discovery`` row;
3. ``[usage] prices`` (Privatemode, or any provider without prices of its own).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

import msgspec

from builtin_plugins.usage.money import affordable_tokens, cost_micros
from builtin_plugins.usage.settings import UsageSettings
from kernel.upstream import ModelPrice

__all__ = ["PriceBook", "PriceRow", "PriceSource", "Quote", "Target"]

PriceSource = str
Target = tuple[str, str]
"""(provider, upstream model id)."""


class PriceRow(msgspec.Struct, frozen=True, kw_only=True):
    """One stored price: ``admin`` (override) or ``discovery``; no prices = override ended."""

    id: int
    provider: str
    model: str
    input_per_million: Decimal | None
    output_per_million: Decimal | None
    currency: str | None
    source: str
    effective_from: datetime
    created_at: datetime
    created_by: str | None = None

    @property
    def price(self) -> ModelPrice | None:
        if self.input_per_million is None or self.output_per_million is None:
            return None
        return ModelPrice(
            input_per_million=self.input_per_million,
            output_per_million=self.output_per_million,
            currency=self.currency or "USD",
        )


class Quote(msgspec.Struct, frozen=True):
    """The price that applies and where it came from (``admin``, ``discovery``, ``settings``)."""

    price: ModelPrice
    source: str


def _latest(rows: Sequence[PriceRow], at: datetime) -> PriceRow | None:
    found = None
    for row in rows:  # sorted by effective_from, then id
        if row.effective_from <= at:
            found = row
    return found


class PriceBook:
    """An immutable snapshot of every price row, the configured prices and the live catalog."""

    def __init__(
        self,
        rows: Iterable[PriceRow],
        settings: UsageSettings,
        catalog: Mapping[str, Sequence[tuple[Target, ModelPrice | None]]] | None = None,
    ) -> None:
        self.settings = settings
        self.catalog = dict(catalog or {})
        self.rows = tuple(rows)
        self._rows: dict[tuple[str, Target], list[PriceRow]] = {}
        for row in sorted(self.rows, key=lambda r: (r.effective_from, r.id)):
            self._rows.setdefault((row.source, (row.provider, row.model)), []).append(row)

    def with_settings(self, settings: UsageSettings) -> PriceBook:
        """The same rows and catalog under new settings."""
        return self if settings is self.settings else PriceBook(self.rows, settings, self.catalog)

    def quote(
        self, target: Target, at: datetime, *, listed: ModelPrice | None = None
    ) -> Quote | None:
        """The price of ``target`` at ``at`` (``listed``: what the provider states right now)."""
        override = _latest(self._rows.get(("admin", target), ()), at)
        if override is not None and override.price is not None:
            return Quote(override.price, "admin")
        if listed is not None:
            return Quote(listed, "discovery")
        discovered = _latest(self._rows.get(("discovery", target), ()), at)
        if discovered is not None and discovered.price is not None:
            return Quote(discovered.price, "discovery")
        configured = self.settings.prices.get(target[0], {}).get(target[1])
        if configured is not None:
            price = ModelPrice(
                input_per_million=configured.input,
                output_per_million=configured.output,
                currency=configured.currency,
            )
            return Quote(price, "settings")
        return None

    def cost(self, price: ModelPrice, *, prompt: int, completion: int) -> int | None:
        """Cost in accounting micro-units; None when the price's currency has no rate."""
        rate = self.settings.rate(price.currency)
        if rate is None:
            return None
        return cost_micros(price, rate, prompt=prompt, completion=completion)

    def _priced(self, model: str, at: datetime) -> list[tuple[ModelPrice, Decimal]]:
        """(price, conversion rate) of every provider serving ``model`` that can be priced."""
        targets = self.catalog.get(model) or [
            ((provider, model), None) for provider in self.settings.prices
        ]
        priced = []
        for target, listed in targets:
            quote = self.quote(target, at, listed=listed)
            rate = None if quote is None else self.settings.rate(quote.price.currency)
            if quote is not None and rate is not None:
                priced.append((quote.price, rate))
        return priced

    def estimate(self, model: str, at: datetime, *, prompt: int, completion: int) -> int | None:
        """The highest cost any provider serving ``model`` would charge; None if none is priced."""
        costs = [
            cost_micros(price, rate, prompt=prompt, completion=completion)
            for price, rate in self._priced(model, at)
        ]
        return max(costs) if costs else None

    def affordable(self, model: str, at: datetime, *, prompt: int, micros: int) -> int | None:
        """The most completion tokens that, after ``prompt`` tokens, cost at most ``micros`` at
        every provider serving ``model``; None when no priced provider charges for output."""
        counts = [
            affordable_tokens(price, rate, prompt=prompt, micros=micros)
            for price, rate in self._priced(model, at)
        ]
        limits = [count for count in counts if count is not None]
        return min(limits) if limits else None

    def history(self, target: Target) -> list[PriceRow]:
        """Every stored row of ``target``, oldest first."""
        rows = [*self._rows.get(("admin", target), ()), *self._rows.get(("discovery", target), ())]
        return sorted(rows, key=lambda r: (r.effective_from, r.id))
