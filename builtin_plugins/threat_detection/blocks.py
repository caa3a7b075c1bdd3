"""Blocks shared by every replica through KV: blocked IPs, flagged accounts and their indexes.

Keys (under the KV prefix; every operation touches one key, so any Redis Cluster slot will do):

- ``threat:block:<ip>`` — a blocked IP, TTL ``block_seconds``; the one key the hot path reads.
- ``threat:account:<id>`` — an account flagged for credential stuffing, TTL ``block_seconds``.
- ``threat:index:ip`` / ``threat:index:account`` — JSON lists of active blocks for the admin API
  (and the login guard's "is anything flagged?"), updated with compare-and-set, pruned on write.
- ``threat:count:<counter>:<subject>`` — windowed failure counters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Literal

import msgspec

from kernel.storage.kv import KV, WindowCount

__all__ = ["BlockEntry", "BlockIndex", "Blocks", "Counter", "Subject"]

log = logging.getLogger(__name__)

Subject = Literal["ip", "account"]
Counter = Literal["login_ip", "login_account", "invalid_key_ip"]
MAX_INDEX_ENTRIES = 1000
_CAS_ATTEMPTS = 16
_KEY_PREFIX: dict[Subject, str] = {"ip": "threat:block:", "account": "threat:account:"}
_IP_COUNTERS: tuple[Counter, ...] = ("login_ip", "invalid_key_ip")


class BlockEntry(msgspec.Struct, frozen=True, array_like=True):
    """One active block: who, why, and when it started and ends (epoch seconds)."""

    subject: str
    reason: str
    since: float
    until: float


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(list[BlockEntry]).decode


def _live(raw: bytes | None, now: float) -> list[BlockEntry]:
    if raw is None:
        return []
    try:
        return [entry for entry in _decode(raw) if entry.until > now]
    except msgspec.DecodeError:
        return []


class BlockIndex:
    """A small JSON list of active blocks under one key, changed by compare-and-set."""

    def __init__(self, kv: KV, key: str) -> None:
        self.kv = kv
        self.key = key

    async def entries(self) -> list[BlockEntry]:
        """Entries that have not expired (one KV read)."""
        return _live(await self.kv.get(self.key), time.time())

    async def add(self, entry: BlockEntry) -> None:
        """Add or replace ``entry``; the soonest-ending entries go first beyond the cap."""

        def mutate(entries: list[BlockEntry]) -> list[BlockEntry]:
            kept = [e for e in entries if e.subject != entry.subject] + [entry]
            return sorted(kept, key=lambda e: e.until)[-MAX_INDEX_ENTRIES:]

        await self._update(mutate)

    async def remove(self, subject: str) -> None:
        """Drop ``subject`` from the index."""
        await self._update(lambda entries: [e for e in entries if e.subject != subject])

    async def _update(self, mutate: Callable[[list[BlockEntry]], list[BlockEntry]]) -> None:
        for _ in range(_CAS_ATTEMPTS):
            raw = await self.kv.get(self.key)
            now = time.time()
            entries = mutate(_live(raw, now))
            ttl = max((e.until for e in entries), default=now + 1) - now
            if await self.kv.compare_and_set(
                self.key, expected=raw, value=_encode(entries), ttl=max(ttl, 1.0)
            ):
                return
        # The block keys stay authoritative; only the admin listing may lag behind.
        log.warning("block index %s is contended; giving up this update", self.key)


class Blocks:
    """Reads and writes blocks and failure counters; KV errors propagate (fail closed)."""

    def __init__(self, kv: KV) -> None:
        self.kv = kv
        self.index: dict[Subject, BlockIndex] = {
            "ip": BlockIndex(kv, "threat:index:ip"),
            "account": BlockIndex(kv, "threat:index:account"),
        }

    @staticmethod
    def key(subject: Subject, value: str) -> str:
        """The KV key marking ``value`` blocked."""
        return _KEY_PREFIX[subject] + value

    async def is_blocked(self, subject: Subject, value: str) -> bool:
        """One KV read: is ``value`` blocked right now?"""
        return await self.kv.get(self.key(subject, value)) is not None

    async def block(self, subject: Subject, value: str, *, reason: str, seconds: float) -> bool:
        """Block ``value`` for ``seconds``; True only for the caller that set the block."""
        now = time.time()
        entry = BlockEntry(subject=value, reason=reason, since=now, until=now + seconds)
        created = await self.kv.compare_and_set(
            self.key(subject, value), expected=None, value=_encode(entry), ttl=seconds
        )
        if created:
            await self.index[subject].add(entry)
        return created

    async def lift(self, subject: Subject, value: str) -> bool:
        """Remove a block and reset the subject's counters; True when a block was active."""
        existed = await self.kv.delete(self.key(subject, value))
        counters: tuple[Counter, ...] = _IP_COUNTERS if subject == "ip" else ("login_account",)
        for counter in counters:
            await self.kv.delete(f"threat:count:{counter}:{value}")
        await self.index[subject].remove(value)
        return existed

    async def active(self, subject: Subject) -> list[BlockEntry]:
        """Indexed blocks whose key still exists, soonest-ending first."""
        entries = await self.index[subject].entries()
        return [e for e in entries if await self.is_blocked(subject, e.subject)]

    async def count(self, counter: Counter, value: str, *, window: float) -> WindowCount:
        """Add one to ``counter`` for ``value`` in a window of ``window`` seconds."""
        return await self.kv.incr_window(f"threat:count:{counter}:{value}", window=window)
