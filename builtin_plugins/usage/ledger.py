"""Budget counters in KV: reserve before forwarding, settle after, one atomic operation each.

A budget's spend in a period lives in the KV counter ``usage:budget:{<slot>}:<id>:<period label>``
in accounting micro-units, shared by every replica. ``<slot>`` is the hash tag of the user the
money is spent for, ``u:<user id>`` (a user's budgets and the budgets of every key of theirs), or
``p:<plugin id>`` for a plugin's own budgets: one reservation only ever touches the budgets of one
user (their own and their key's) or of one plugin, so its counters share a Redis Cluster slot and
stay one atomic script. A key budget's counter needs its key's owner, which a request knows
(``Principal.owner_id``); a chatbot budget's counter carries its chatbot's owner's tag (the
user whose keys invoke it; the caller passes that owner). The first seed of either also stores
the tag at ``usage:budget-slot:<id>`` so a reader without a principal (an admin viewing the
budget) finds the counter.

``reserve`` adds the estimate to the counters of every budget that applies, all or none,
refusing when a hard budget would pass its limit; ``settle`` adds ``actual - estimate``
(negative gives back). So concurrent requests can pass a hard limit by no more than what they
reserved, and an unreachable KV refuses (503). Settlements of concurrent requests are sent
together, one KV round trip (:mod:`.settlements`); each reservation holds until its own is
applied.

Counters heal themselves: every reservation requires its counters to exist (one atomic KV
operation), and a missing one (first use, a restarted in-process KV, a Redis restarted empty or
flushed, an expired counter) is seeded with SET-if-absent from SQL, the recorded cost of the
budget's owner in that period since the budget was created, plus this replica's reservations in
flight on it, and the reservation retried. While the seed cannot be read, admission refuses
(503). Settlements never create a counter: an absent one is re-seeded from SQL, which by then
holds or will hold the settled record. Only other replicas' in-flight reservations and their
records not yet flushed (one flush interval) escape a seed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import msgspec

from builtin_plugins.usage.budget_store import Budget
from builtin_plugins.usage.money import format_micros
from builtin_plugins.usage.periods import Period, PeriodWindow, window
from builtin_plugins.usage.settlements import SettlementBatch
from kernel.admission import Admission
from kernel.errors import InsufficientQuotaError, StoreUnavailableError
from kernel.storage.kv import KV, Reservation, Reserve, Reserved, tagged

__all__ = ["BudgetLedger", "Counter", "Hold", "slot_of"]

_GRACE_SECONDS = 2 * 86_400.0
"""Counters outlive their period by this much, so late settlements land and status can read."""
_SEED_ATTEMPTS = 4
"""Seeds per reservation before refusing (a counter vanishing again each time means a KV losing
its data faster than we can write it)."""
_NOUN = {"daily": "day", "weekly": "week", "monthly": "month", "total": "budget"}


def slot_of(budget: Budget, user: str | None) -> str | None:
    """The hash tag of ``budget``'s counters: its user's (for a key or chatbot budget,
    ``user``, the key's or chatbot's owner; None when unknown) or its plugin's."""
    if budget.owner_type == "plugin":
        return f"p:{budget.owner_id}"
    if budget.owner_type == "user":
        return f"u:{budget.owner_id}"
    return None if user is None else f"u:{user}"


def _slot_pointer(budget: Budget) -> str:
    return f"usage:budget-slot:{budget.id}"


class Counter(msgspec.Struct, frozen=True):
    """One budget's counter for one period."""

    budget: Budget
    key: str
    window: PeriodWindow
    ttl: float | None
    slot: str


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
        self._settlements = SettlementBatch(kv)
        """Concurrent settlements share one KV round trip."""
        self._in_flight: dict[str, int] = {}
        """What this replica's unsettled reservations hold on each counter (part of a seed)."""
        self._windows: dict[Period, PeriodWindow] = {}
        """The current window of each period (recomputed only when ``now`` leaves it)."""

    def _window(self, period: Period, now: datetime) -> PeriodWindow:
        cached = self._windows.get(period)
        if cached is None or not cached.contains(now):
            cached = self._windows[period] = window(period, now, self._zone)
        return cached

    def counter(self, budget: Budget, now: datetime, slot: str) -> Counter:
        """The counter of ``budget`` for the period containing ``now``, under hash tag ``slot``
        (:func:`slot_of`)."""
        period = self._window(budget.period, now)
        ttl = None if period.end is None else (period.end - now).total_seconds() + _GRACE_SECONDS
        key = tagged(slot, budget.id, period.label)
        return Counter(budget, f"usage:budget:{key}", period, ttl, slot)

    def _counter(self, budget: Budget, now: datetime, user: str | None) -> Counter:
        slot = slot_of(budget, user)
        if slot is None:
            raise ValueError(f"the counter of budget {budget.id} needs its owner's user id")
        return self.counter(budget, now, slot)

    async def _seed(self, counter: Counter) -> None:
        if counter.budget.owner_type in ("api_key", "chatbot"):
            # Before the counter exists, so a reader that finds no pointer finds no counter.
            await self._kv.set(_slot_pointer(counter.budget), counter.slot.encode())
        spent = await self._recorded(counter.budget, counter.window)
        spent += self._in_flight.get(counter.key, 0)
        await self._kv.compare_and_set(
            counter.key, expected=None, value=str(spent).encode(), ttl=counter.ttl
        )

    def _hold(self, counters: Sequence[Counter], amount: int) -> None:
        for counter in counters:
            held = self._in_flight.get(counter.key, 0) + amount
            if held:
                self._in_flight[counter.key] = held
            else:
                self._in_flight.pop(counter.key, None)

    async def reserve(
        self,
        budgets: Sequence[Budget],
        amount: int,
        now: datetime,
        *,
        user: str | None,
        admission: Admission | None = None,
    ) -> Hold:
        """Reserve ``amount`` on every budget (those of ``user`` and of their key, or of one
        plugin: one hash tag, one atomic KV script); InsufficientQuotaError when a hard one is
        spent, StoreUnavailableError when a missing counter cannot be seeded. With the request's
        pending ``admission`` the first attempt is its last step (one KV round trip with the
        block check and the throttle; a refusal of theirs raises first)."""
        counters = tuple(self._counter(budget, now, user) for budget in budgets)
        if not counters:
            return Hold(counters=(), amount=amount)
        items = [
            Reservation(
                key=c.key,
                amount=amount,
                limit=c.budget.limit_micros if c.budget.hard else None,
                ttl=c.ttl,
                must_exist=True,
            )
            for c in counters
        ]
        result = await self._first_reserve(items, admission)
        for _ in range(_SEED_ATTEMPTS):
            if result.missing is None:
                break
            await self._seed(counters[result.missing])
            result = await self._kv.reserve(items)
        if result.missing is not None:
            raise StoreUnavailableError("kv", reason="budget counters keep disappearing")
        if not result.allowed and result.refused is not None:
            refused = counters[result.refused]
            raise InsufficientQuotaError(
                self._message(refused, result.totals[result.refused], amount)
            )
        self._hold(counters, amount)
        return Hold(counters=counters, amount=amount)

    async def _first_reserve(
        self, items: list[Reservation], admission: Admission | None
    ) -> Reserved:
        if admission is None or not admission.pending:
            return await self._kv.reserve(items)
        (result,) = await admission.run([Reserve(tuple(items))])
        if not isinstance(result, Reserved):
            raise TypeError(f"a reserve step answered {result!r}")
        return result

    async def settle(self, hold: Hold, actual: int) -> tuple[int, ...]:
        """Replace the reservation by ``actual``; the counters after it (0 for one that was
        missing: its next seed reads the settled record from SQL)."""
        self._hold(hold.counters, -hold.amount)
        delta = actual - hold.amount
        present = list(hold.counters)
        while present:
            items = [
                Reservation(key=c.key, amount=delta, ttl=c.ttl, must_exist=True) for c in present
            ]
            result = await self._settlements.reserve(items)
            if result.missing is None:
                totals = dict(zip((c.key for c in present), result.totals, strict=True))
                return tuple(totals.get(c.key, 0) for c in hold.counters)
            del present[result.missing]
        return tuple(0 for _ in hold.counters)

    async def spent(
        self, budget: Budget, now: datetime, *, user: str | None = None
    ) -> tuple[PeriodWindow, int]:
        """The current period and what ``budget`` holds in it (reservations in flight count); a
        missing counter is seeded from SQL first. ``user``: the key's owner for a key budget,
        when known; else the slot its first seed stored is used (none: never reserved, so the
        recorded spend is the answer)."""
        slot = slot_of(budget, user)
        if slot is None:
            stored = await self._kv.get(_slot_pointer(budget))
            if stored is None:
                period = self._window(budget.period, now)
                return period, await self._recorded(budget, period)
            slot = stored.decode()
        counter = self.counter(budget, now, slot)
        value = await self._kv.get(counter.key)
        if value is None:
            await self._seed(counter)
            value = await self._kv.get(counter.key)
        return counter.window, 0 if value is None else int(value)

    async def first_warning(self, counter: Counter) -> bool:
        """True exactly once per budget and period, across replicas."""
        return await self._kv.compare_and_set(
            counter.key + ":warned", expected=None, value=b"1", ttl=counter.ttl
        )

    def _message(self, counter: Counter, spent: int, amount: int) -> str:
        budget = counter.budget
        owner = {"api_key": "API key", "chatbot": "chatbot"}.get(budget.owner_type, "user")
        noun = _NOUN[budget.period]
        scope = "in total" if budget.period == "total" else f"this {noun}"
        return (
            f"You exceeded your current quota: the {owner} budget '{budget.name}' allows "
            f"{format_micros(budget.limit_micros)} {self._currency} {scope}; "
            f"{format_micros(spent)} is spent or reserved and this request may cost up to "
            f"{format_micros(amount)}."
        )
