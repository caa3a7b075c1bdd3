"""In-process KV backend for a single replica: a dict with expiry and in-process pub/sub.

Every operation runs without awaiting, so on one event loop each call is atomic. Nothing is
shared with other processes: running several replicas on this backend splits every counter.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import NamedTuple

from kernel.storage.kv import (
    Absent,
    AdmitStep,
    Admitted,
    MessageHandler,
    Reservation,
    Reserve,
    Reserved,
    StepResult,
    Subscription,
    Throttle,
    ThrottleStep,
    WindowCount,
    gcra_interval_us,
    require_one_slot,
    step_passed,
)

__all__ = ["MemoryKV"]

_log = logging.getLogger(__name__)

_SWEEP_INTERVAL = 30.0
_MIN_TTL = 0.001


class _Entry(NamedTuple):
    value: bytes
    expires_at: float | None


def _expiry(now: float, ttl: float | None) -> float | None:
    return None if ttl is None else now + max(ttl, _MIN_TTL)


def _gcra(
    now: int, stored: int | None, interval: int, limit: int, cost: int
) -> tuple[Throttle, int]:
    """One GCRA step in integer microseconds: the decision and the theoretical arrival time (TAT)
    to keep. Mirrors ``_THROTTLE_LUA`` in :mod:`kernel.storage.kv_redis`."""
    tolerance = interval * limit
    tat = now if stored is None else max(stored, now)
    new_tat = tat + interval * cost
    allow_at = new_tat - tolerance
    if now < allow_at:
        refused = Throttle(
            allowed=False,
            limit=limit,
            remaining=max(0, (now - tat + tolerance) // interval),
            reset_after=(tat - now) / 1e6,
            retry_after=(allow_at - now) / 1e6,
        )
        return refused, tat
    allowed = Throttle(
        allowed=True,
        limit=limit,
        remaining=(now - allow_at) // interval,
        reset_after=(new_tat - now) / 1e6,
        retry_after=0.0,
    )
    return allowed, new_tat


def _checked(step: AdmitStep) -> int:
    """A throttle step's interval (0 for other steps); ValueError for an invalid step."""
    if isinstance(step, ThrottleStep):
        return gcra_interval_us(limit=step.limit, period=step.period, cost=step.cost)
    if isinstance(step, Reserve):
        require_one_slot([item.key for item in step.items])
    return 0


class _MemorySubscription:
    """One handler on one channel, fed by a queue that a task drains in order."""

    def __init__(self, kv: MemoryKV, channel: str, handler: MessageHandler) -> None:
        self._kv = kv
        self.channel = channel
        self._handler = handler
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name=f"kv-memory-subscription:{channel}")

    async def _run(self) -> None:
        while True:
            message = await self.queue.get()
            try:
                await self._handler(message)
            except Exception:
                _log.exception("KV subscription handler on %r failed", self.channel)

    async def close(self) -> None:
        """Stop delivery; messages still queued are dropped."""
        self._kv._forget(self)
        self._task.cancel()
        if self._task is not asyncio.current_task():
            await asyncio.wait([self._task])


class MemoryKV:
    """The :class:`~kernel.storage.kv.KV` interface on a dict; one process, one event loop."""

    name: str = "memory"
    shared_across_processes: bool = False

    def __init__(self) -> None:
        self._data: dict[str, _Entry] = {}
        self._channels: dict[str, set[_MemorySubscription]] = {}
        self._next_sweep = time.monotonic() + _SWEEP_INTERVAL

    def _live(self, key: str, now: float) -> _Entry | None:
        entry = self._data.get(key)
        if entry is not None and entry.expires_at is not None and entry.expires_at <= now:
            del self._data[key]
            return None
        return entry

    def _write(self, key: str, entry: _Entry, now: float) -> None:
        self._data[key] = entry
        if now >= self._next_sweep:
            # Lazy expiry only frees keys that are read again; the sweep bounds the rest.
            self._next_sweep = now + _SWEEP_INTERVAL
            expired = [
                k for k, e in self._data.items() if e.expires_at is not None and e.expires_at <= now
            ]
            for k in expired:
                del self._data[k]

    async def get(self, key: str) -> bytes | None:
        """The value, or None when absent or expired."""
        entry = self._live(key, time.monotonic())
        return None if entry is None else entry.value

    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        """Store ``value``; ``ttl`` in seconds, None keeps it until deleted."""
        now = time.monotonic()
        self._write(key, _Entry(value, _expiry(now, ttl)), now)

    async def delete(self, key: str) -> bool:
        """Remove ``key``; True when it existed."""
        existed = self._live(key, time.monotonic()) is not None
        self._data.pop(key, None)
        return existed

    async def incr_window(self, key: str, *, window: float, amount: int = 1) -> WindowCount:
        """Atomically add ``amount``; the first increment starts a window of ``window`` seconds."""
        now = time.monotonic()
        entry = self._live(key, now)
        count = amount if entry is None else int(entry.value) + amount
        if entry is None or entry.expires_at is None:
            expires_at = now + max(window, _MIN_TTL)
        else:
            expires_at = entry.expires_at
        self._write(key, _Entry(str(count).encode(), expires_at), now)
        return WindowCount(count=count, reset_in=min(window, expires_at - now))

    async def throttle(self, key: str, *, limit: int, period: float, cost: int = 1) -> Throttle:
        """Atomically take ``cost`` from a GCRA bucket of ``limit`` per ``period`` seconds (burst =
        ``limit``); refused requests take nothing. ValueError unless ``1 <= cost <= limit``."""
        interval = gcra_interval_us(limit=limit, period=period, cost=cost)
        return self._throttle(key, interval, limit, cost)

    def _throttle(self, key: str, interval: int, limit: int, cost: int) -> Throttle:
        now = time.monotonic()
        entry = self._live(key, now)
        now_us = round(now * 1_000_000)
        result, tat = _gcra(
            now_us, None if entry is None else int(entry.value), interval, limit, cost
        )
        if result.allowed:
            self._write(key, _Entry(str(tat).encode(), now + result.reset_after), now)
        return result

    async def compare_and_set(
        self, key: str, *, expected: bytes | None, value: bytes, ttl: float | None = None
    ) -> bool:
        """Atomically set ``value`` if the current value equals ``expected`` (None = absent)."""
        now = time.monotonic()
        entry = self._live(key, now)
        current = None if entry is None else entry.value
        if current != expected:
            return False
        self._write(key, _Entry(value, _expiry(now, ttl)), now)
        return True

    async def reserve(self, items: Sequence[Reservation]) -> Reserved:
        """Atomically add every item's amount to its counter, or none of them when one would
        exceed its limit (mirrors ``_RESERVE_LUA`` in :mod:`kernel.storage.kv_redis`); keys must
        share a hash tag, as on Redis Cluster."""
        require_one_slot([item.key for item in items])
        return self._reserve(items)

    async def admit(self, steps: Sequence[AdmitStep]) -> Admitted:
        """Run ``steps`` in order until one refuses; atomic (no await in between)."""
        checked = [_checked(step) for step in steps]  # ValueError before anything runs
        results: list[StepResult] = []
        for step, interval in zip(steps, checked, strict=True):
            result: StepResult
            if isinstance(step, Absent):
                result = self._live(step.key, time.monotonic()) is None
            elif isinstance(step, ThrottleStep):
                result = self._throttle(step.key, interval, step.limit, step.cost)
            else:
                result = self._reserve(step.items)
            results.append(result)
            if not step_passed(result):
                return Admitted(results=tuple(results), refused=len(results) - 1)
        return Admitted(results=tuple(results))

    async def reserve_many(self, batches: Sequence[Sequence[Reservation]]) -> list[Reserved]:
        """:meth:`reserve` for each batch, independently; atomic as a whole here."""
        for batch in batches:
            require_one_slot([item.key for item in batch])
        return [self._reserve(batch) for batch in batches]

    def _reserve(self, items: Sequence[Reservation]) -> Reserved:
        now = time.monotonic()
        entries = [self._live(item.key, now) for item in items]
        for index, (item, entry) in enumerate(zip(items, entries, strict=True)):
            if item.must_exist and entry is None:
                return Reserved(allowed=False, totals=(), missing=index)
        current = [0 if e is None else int(e.value) for e in entries]
        for index, (item, value) in enumerate(zip(items, current, strict=True)):
            if item.limit is not None and item.amount > 0 and value + item.amount > item.limit:
                return Reserved(allowed=False, totals=tuple(current), refused=index)
        totals: list[int] = []
        for item, entry, value in zip(items, entries, current, strict=True):
            total = value + item.amount
            expires_at = None if entry is None else entry.expires_at
            if expires_at is None:
                expires_at = _expiry(now, item.ttl)
            self._write(item.key, _Entry(str(total).encode(), expires_at), now)
            totals.append(total)
        return Reserved(allowed=True, totals=tuple(totals))

    async def publish(self, channel: str, message: bytes) -> None:
        """Queue ``message`` for every subscription on ``channel`` in this process."""
        for subscription in self._channels.get(channel, ()):
            subscription.queue.put_nowait(message)

    async def subscribe(self, channel: str, handler: MessageHandler) -> Subscription:
        """Call ``handler`` for each message on ``channel`` until the subscription is closed."""
        subscription = _MemorySubscription(self, channel, handler)
        self._channels.setdefault(channel, set()).add(subscription)
        return subscription

    def _forget(self, subscription: _MemorySubscription) -> None:
        subscribers = self._channels.get(subscription.channel)
        if subscribers is not None:
            subscribers.discard(subscription)
            if not subscribers:
                del self._channels[subscription.channel]

    async def ping(self) -> None:
        """Always answers: the store is this process."""

    async def close(self) -> None:
        """Stop every subscription and drop the data."""
        subscriptions = [s for subs in self._channels.values() for s in subs]
        for subscription in subscriptions:
            await subscription.close()
        self._data.clear()
