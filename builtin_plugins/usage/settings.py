"""The ``[usage]`` settings section: accounting currency, prices, budget periods, record writing.

Every field is enforced: ``currency`` and ``conversion_rates`` by cost arithmetic, ``prices`` by
the price book (the Privatemode list, or any provider without prices of its own),
``timezone`` by budget periods, ``default_max_tokens`` by reservations, and the flush, queue and
cache values by the recorder and the budget cache.
"""

from __future__ import annotations

import re
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

__all__ = ["PriceSetting", "UsageSettings"]

_CURRENCY = re.compile(r"^[A-Z]{3}$")


class PriceSetting(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A configured price: ``currency`` units per million input and output tokens."""

    input: Decimal
    output: Decimal
    currency: str = "EUR"


class UsageSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """``[usage]``.

    ``currency`` is the accounting currency: costs and budget limits are integers in millionths
    of it. ``conversion_rates`` gives accounting units per one unit of every other currency a
    price uses (decimal strings, e.g. ``{"USD": "0.92"}`` when accounting in EUR); a price in a
    currency without a rate is refused. ``prices`` maps provider → upstream model id → price
    (Privatemode's list; discovered and admin prices take precedence). ``timezone`` aligns budget
    periods (days start at its midnight, weeks on Monday, months on the 1st).
    ``default_max_tokens`` is a choice's completion cap when a request sets no ``max_tokens``:
    under a hard budget the most the gateway forwards for a model of unknown context length,
    otherwise what a reservation assumes. Records are inserted every ``flush_interval_seconds``
    in batches of at most ``batch_size``; at most ``queue_size`` wait, after which finishing
    requests wait for room. Budget definitions are cached per replica for
    ``budget_cache_seconds`` (changes made through the API reach every replica at once).
    Discovered prices are synced every ``price_sync_seconds``.
    """

    currency: str = "EUR"
    conversion_rates: dict[str, Decimal] = {}
    prices: dict[str, dict[str, PriceSetting]] = {}
    timezone: str = "UTC"
    default_max_tokens: int = 4096
    flush_interval_seconds: float = 1.0
    batch_size: int = 500
    queue_size: int = 10_000
    budget_cache_seconds: float = 5.0
    price_sync_seconds: float = 60.0

    def __post_init__(self) -> None:
        currencies = [self.currency, *self.conversion_rates]
        currencies += [p.currency for models in self.prices.values() for p in models.values()]
        for currency in currencies:
            if not _CURRENCY.match(currency):
                raise ValueError(f"currency {currency!r} must be a three-letter ISO code")
        if any(not rate.is_finite() or rate <= 0 for rate in self.conversion_rates.values()):
            raise ValueError("conversion_rates must be positive decimals")
        for models in self.prices.values():
            for price in models.values():
                if min(price.input, price.output) < 0 or not price.input.is_finite():
                    raise ValueError("prices must be non-negative decimals")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone {self.timezone!r} is not a known IANA zone") from None
        if self.default_max_tokens < 1:
            raise ValueError("default_max_tokens must be at least 1")
        if self.flush_interval_seconds <= 0 or self.price_sync_seconds < 1:
            raise ValueError("flush_interval_seconds and price_sync_seconds must be positive")
        if self.batch_size < 1 or self.queue_size < self.batch_size:
            raise ValueError("batch_size must be at least 1 and queue_size at least batch_size")
        if self.budget_cache_seconds < 0:
            raise ValueError("budget_cache_seconds must not be negative")

    def rate(self, currency: str) -> Decimal | None:
        """Accounting units per one ``currency`` unit; None when no rate is configured."""
        if currency == self.currency:
            return Decimal(1)
        return self.conversion_rates.get(currency)
