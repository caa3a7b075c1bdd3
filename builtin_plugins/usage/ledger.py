"""Budget counters in KV: reserve before forwarding, settle after, one atomic operation each.

A budget's spend in a period lives in the KV counter ``usage:budget:<id>:<period label>`` in
accounting micro-units, shared by every replica. ``reserve`` adds the estimate to the counters
of every budget that applies, all or none, refusing when a hard budget would pass its limit;
``settle`` adds ``actual - estimate`` (negative gives back). So concurrent requests can pass a
hard limit by no more than what they reserved, and an unreachable KV refuses (503).

A counter this replica has not used yet is first seeded from SQL (the recorded cost of the
budget's owner in that period since the budget was created) if the KV does not have it, so a
restart of an in-process KV, or a flushed Redis, does not hand out a fresh budget; only records
not yet flushed (one flush interval) escape the seed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import msgspec

from builtin_plugins.usage.budget_store import Budget
from builtin_plugins.usage.money import format_micros
from builtin_plugins.usage.periods import Period, PeriodWindow, window
from kernel.errors import InsufficientQuotaError
from kernel.storage.kv import KV, Reservation

__all__ = ["BudgetLedger", "Counter", "Hold"]

_GRACE_SECONDS = 2 * 86_400.0
"""Counters outlive their period by this much, so late settlements land and status can read."""
_MAX_SEEDED = 100_000
_NOUN = {"daily": "day", "weekly": "week", "monthly": "month", "total": "budget"}


class Counter(msgspec.Struct, frozen=True):
    """One budget's counter for one period."""

    budget: Budget
    key: str
    window: PeriodWindow
    ttl: float | None


class Hold(msgspec.Struct, frozen=True):
    """What admission reserved: ``amount`` on each counter."""

    counters: tuple[Counter, ...]
    amount: int


class BudgetLedger:
    """Reservations and settlements on KV counters; periods in ``zone``."""

    def __init__(
        self,
        kv: KV,
        zone: ZoneInfo,
        currency: str,
        recorded: Callable[[Budget, PeriodWindow], Awaitable[int]],
    ) -> None:
        self._kv = kv
        self._zone = zone
        self._currency = currency
        self._recorded = recorded
        self._seeded: set[str] = set()
        self._windows: dict[Period, PeriodWindow] = {}
        """The current window of each period (recomputed only when ``now`` leaves it)."""

    def _window(self, period: Period, now: datetime) -> PeriodWindow:
        cached = self._windows.get(period)
        if cached is None or not cached.contains(now):
            cached = self._windows[period] = window(period, now, self._zone)
        return cached

    def counter(self, budget: Budget, now: datetime) -> Counter:
        """The counter of ``budget`` for the period containing ``now``."""
        period = self._window(budget.period, now)
        ttl = None if period.end is None else (period.end - now).total_seconds() + _GRACE_SECONDS
        return Counter(budget, f"usage:budget:{budget.id}:{period.label}", period, ttl)

    async def _seed(self, counters: Sequence[Counter]) -> None:
        for counter in counters:
            if counter.key in self._seeded:
                continue
            spent = await self._recorded(counter.budget, counter.window)
            await self._kv.compare_and_set(
                counter.key, expected=None, value=str(spent).encode(), ttl=counter.ttl
            )
            if len(self._seeded) >= _MAX_SEEDED:
                self._seeded.clear()
            self._seeded.add(counter.key)

    async def reserve(self, budgets: Sequence[Budget], amount: int, now: datetime) -> Hold:
        """Reserve ``amount`` on every budget; InsufficientQuotaError when a hard one is spent."""
        counters = tuple(self.counter(budget, now) for budget in budgets)
        await self._seed(counters)
        items = [
            Reservation(
                key=c.key,
                amount=amount,
                limit=c.budget.limit_micros if c.budget.hard else None,
                ttl=c.ttl,
            )
            for c in counters
        ]
        result = await self._kv.reserve(items)
        if not result.allowed and result.refused is not None:
            refused = counters[result.refused]
            raise InsufficientQuotaError(
                self._message(refused, result.totals[result.refused], amount)
            )
        return Hold(counters=counters, amount=amount)

    async def settle(self, hold: Hold, actual: int) -> tuple[int, ...]:
        """Replace the reservation by ``actual``; the counters after it."""
        delta = actual - hold.amount
        if not hold.counters:
            return ()
        items = [Reservation(key=c.key, amount=delta, ttl=c.ttl) for c in hold.counters]
        return (await self._kv.reserve(items)).totals

    async def spent(self, budget: Budget, now: datetime) -> tuple[Counter, int]:
        """The counter of the current period and what it holds (reservations in flight count)."""
        counter = self.counter(budget, now)
        await self._seed([counter])
        value = await self._kv.get(counter.key)
        return counter, 0 if value is None else int(value)

    async def first_warning(self, counter: Counter) -> bool:
        """True exactly once per budget and period, across replicas."""
        return await self._kv.compare_and_set(
            counter.key + ":warned", expected=None, value=b"1", ttl=counter.ttl
        )

    def _message(self, counter: Counter, spent: int, amount: int) -> str:
        budget = counter.budget
        owner = "API key" if budget.owner_type == "api_key" else "user"
        noun = _NOUN[budget.period]
        scope = "in total" if budget.period == "total" else f"this {noun}"
        return (
            f"You exceeded your current quota: the {owner} budget '{budget.name}' allows "
            f"{format_micros(budget.limit_micros)} {self._currency} {scope}; "
            f"{format_micros(spent)} is spent or reserved and this request may cost up to "
            f"{format_micros(amount)}."
        )
