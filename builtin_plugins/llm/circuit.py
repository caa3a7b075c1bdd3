"""Per-provider circuit breakers whose open/closed state every replica shares.

A circuit opens when ``circuit_failures`` attempts failed within the last
``circuit_window_seconds`` with no success since: a sliding window of failure times, kept in KV
(compare-and-set, only on the failure path) so every replica counts the same failures. A failure
counts at the time its attempt *started*, and not at all when that was before the provider's last
success: requests stuck in an outage that has since ended must not re-open the circuit when they
finally time out. Successes are noted in KV at most once a second per replica. An open circuit
is announced over pub/sub and kept in KV for replicas that start later; after the cool-down one
request per replica probes (half-open) and its success closes the circuit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import msgspec

from builtin_plugins.llm.settings import LlmSettings
from kernel.storage.kv import KV, Subscription

__all__ = ["CircuitBreaker"]

log = logging.getLogger(__name__)
CHANNEL = "llm.circuit"
SUCCESS_NOTE_INTERVAL = 1.0
_CAS_TRIES = 8


class CircuitBreaker:
    """Open/half-open/closed per provider; the hot path reads local state only."""

    def __init__(self, kv: KV, settings: Callable[[], LlmSettings]) -> None:
        self._kv = kv
        self._settings = settings
        self._open_until: dict[str, float] = {}
        self._probing: set[str] = set()
        self._last_success: dict[str, float] = {}
        self._noted_success: dict[str, float] = {}
        self._subscription: Subscription | None = None

    async def start(self) -> None:
        """Follow other replicas' announcements."""
        self._subscription = await self._kv.subscribe(CHANNEL, self._on_message)

    async def sync(self, providers: list[str]) -> None:
        """Load circuits other replicas opened (at start, and to heal a missed announcement)."""
        for name in providers:
            value = await self._kv.get(f"llm:circuit:open:{name}")
            if value is not None:
                self._open_until[name] = max(float(value), self._open_until.get(name, 0.0))

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.close()
            self._subscription = None

    def allows(self, provider: str) -> bool:
        """Closed: yes. Open: no. Cool-down over: yes for one probe at a time."""
        until = self._open_until.get(provider)
        if until is None:
            return True
        if time.time() < until or provider in self._probing:
            return False
        self._probing.add(provider)
        return True

    def state(self, provider: str) -> str:
        until = self._open_until.get(provider)
        if until is None:
            return "closed"
        return "open" if time.time() < until else "half_open"

    async def record_success(self, provider: str) -> None:
        """Close an open circuit; note the time so older attempts' failures stop counting."""
        now = time.time()
        self._last_success[provider] = now
        if provider in self._open_until:
            self._close_locally(provider)
            await self._kv.delete(f"llm:circuit:open:{provider}")
            await self._kv.publish(CHANNEL, f"close {provider}".encode())
        elif now - self._noted_success.get(provider, 0.0) < SUCCESS_NOTE_INTERVAL:
            return
        self._noted_success[provider] = now
        ttl = self._settings().circuit_window_seconds
        await self._kv.set(f"llm:circuit:ok:{provider}", repr(now).encode(), ttl=ttl)

    async def record_failure(self, provider: str, *, started: float | None = None) -> None:
        """Count a failed attempt that began at ``started`` (wall time; default now)."""
        started = time.time() if started is None else started
        until = self._open_until.get(provider)
        if until is not None:
            if started >= until:  # a probe (or a later attempt) failed: open again
                self._probing.discard(provider)
                await self._open(provider)
            return
        if started < await self._last_success_of(provider):
            return
        if await self._count(provider, started) >= self._settings().circuit_failures:
            await self._open(provider)

    async def trip(self, provider: str) -> None:
        """Open the circuit of ``provider`` now, on every replica (e.g. failed verification)."""
        self._probing.discard(provider)
        await self._open(provider)

    async def _last_success_of(self, provider: str) -> float:
        value = await self._kv.get(f"llm:circuit:ok:{provider}")
        shared = float(value) if value is not None else 0.0
        return max(shared, self._last_success.get(provider, 0.0))

    async def _count(self, provider: str, started: float) -> int:
        """Add ``started`` to the shared window and return how many failures it now holds."""
        cfg = self._settings()
        key = f"llm:circuit:fail:{provider}"
        times: list[float] = []
        for _ in range(_CAS_TRIES):
            old = await self._kv.get(key)
            since = max(time.time() - cfg.circuit_window_seconds, 0.0)
            since = max(since, await self._last_success_of(provider))
            kept = [t for t in _decode(old) if t >= since]
            times = sorted([*kept, started])[-cfg.circuit_failures :]
            value = msgspec.json.encode(times)
            window = cfg.circuit_window_seconds
            if await self._kv.compare_and_set(key, expected=old, value=value, ttl=window):
                return len(times)
        log.warning("circuit for provider %s: failure count contended, not counted", provider)
        return len(times) - 1

    async def _open(self, provider: str) -> None:
        cooldown = self._settings().circuit_cooldown_seconds
        until = time.time() + cooldown
        self._open_until[provider] = until
        log.warning("circuit for provider %s opened for %.0f s", provider, cooldown)
        await self._kv.set(f"llm:circuit:open:{provider}", repr(until).encode(), ttl=cooldown)
        await self._kv.delete(f"llm:circuit:fail:{provider}")
        await self._kv.publish(CHANNEL, f"open {provider} {until!r}".encode())

    def _close_locally(self, provider: str) -> None:
        self._open_until.pop(provider, None)
        self._probing.discard(provider)

    async def _on_message(self, message: bytes) -> None:
        parts = message.decode(errors="replace").split()
        if len(parts) == 3 and parts[0] == "open":
            self._open_until[parts[1]] = float(parts[2])
            self._probing.discard(parts[1])
        elif len(parts) == 2 and parts[0] == "close":
            self._close_locally(parts[1])


def _decode(value: bytes | None) -> list[float]:
    if value is None:
        return []
    try:
        return msgspec.json.decode(value, type=list[float])
    except msgspec.DecodeError:
        return []
