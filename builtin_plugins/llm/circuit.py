"""Per-provider circuit breakers whose open/closed state every replica shares.

Failures are counted in KV (one op per failure, none per success); reaching the threshold opens
the circuit for a cool-down, announced over pub/sub and kept in KV for replicas that start
later. After the cool-down one request per replica probes (half-open); success closes it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from builtin_plugins.llm.settings import LlmSettings
from kernel.storage.kv import KV, Subscription

__all__ = ["CircuitBreaker"]

log = logging.getLogger(__name__)
CHANNEL = "llm.circuit"


class CircuitBreaker:
    """Open/half-open/closed per provider; the hot path reads local state only."""

    def __init__(self, kv: KV, settings: Callable[[], LlmSettings]) -> None:
        self._kv = kv
        self._settings = settings
        self._open_until: dict[str, float] = {}
        self._probing: set[str] = set()
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
        if provider in self._open_until:
            self._close_locally(provider)
            await self._kv.delete(f"llm:circuit:open:{provider}")
            await self._kv.publish(CHANNEL, f"close {provider}".encode())

    async def record_failure(self, provider: str) -> None:
        self._probing.discard(provider)
        if provider in self._open_until:
            await self._open(provider)
            return
        cfg = self._settings()
        key = f"llm:circuit:fail:{provider}"
        count = await self._kv.incr_window(key, window=cfg.circuit_window_seconds)
        if count.count >= cfg.circuit_failures:
            await self._open(provider)

    async def trip(self, provider: str) -> None:
        """Open the circuit of ``provider`` now, on every replica (e.g. failed verification)."""
        self._probing.discard(provider)
        await self._open(provider)

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
