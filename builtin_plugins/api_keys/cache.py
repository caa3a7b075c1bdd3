"""The in-process cache of verified keys: a hit costs no SQL and no KV.

Entries are keyed by lookup prefix and hold the stored hash, so a hit still compares the
presented key's hash in constant time. Entries live ``ttl`` seconds at most and are dropped at
once when any replica announces a change to their key (KV pub/sub). A lookup that was in flight
while an announcement arrived is not cached, so a stale row never outlives the announcement.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from kernel.types import Principal

__all__ = ["CachedKey", "KeyCache"]


@dataclass(frozen=True, slots=True)
class CachedKey:
    """A verified, usable key: its hash, its principal and its expiry (epoch seconds)."""

    prefix: str
    key_hash: bytes
    principal: Principal
    expires_at: float | None


class KeyCache:
    """Bounded LRU of verified keys with a time-to-live; ``ttl == 0`` or ``size == 0`` disables."""

    def __init__(self, *, ttl: float, max_entries: int) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.generation = 0
        self._entries: OrderedDict[str, tuple[float, CachedKey]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, prefix: str) -> CachedKey | None:
        """The live entry for ``prefix``, or None."""
        found = self._entries.get(prefix)
        if found is None:
            return None
        if found[0] <= time.monotonic():
            del self._entries[prefix]
            return None
        self._entries.move_to_end(prefix)
        return found[1]

    def put(self, entry: CachedKey, *, generation: int) -> None:
        """Keep ``entry`` unless the cache changed since ``generation`` was read."""
        if generation != self.generation or self.ttl <= 0 or self.max_entries <= 0:
            return
        self._entries[entry.prefix] = (time.monotonic() + self.ttl, entry)
        self._entries.move_to_end(entry.prefix)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def invalidate(self, prefix: str) -> None:
        """Forget ``prefix`` and refuse to cache lookups that started before now."""
        self.generation += 1
        self._entries.pop(prefix, None)

    def clear(self) -> None:
        """Forget everything."""
        self.generation += 1
        self._entries.clear()
