"""``last_used_at`` bookkeeping off the hot path.

A request only notes the key id in memory, at most once a minute per key; a background task
writes the notes in one transaction every few seconds, and shutdown writes what is left. The
column is therefore accurate to about a minute, and requests never wait for SQL writes.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from builtin_plugins.api_keys.store import record_last_used
from kernel.storage.sql import Database

__all__ = ["FLUSH_SECONDS", "RECORD_EVERY_SECONDS", "UsageRecorder"]

RECORD_EVERY_SECONDS = 60.0
FLUSH_SECONDS = 15.0


class UsageRecorder:
    """Collects key ids seen in requests; ``flush`` persists them."""

    def __init__(self, *, max_tracked: int = 10_000) -> None:
        self._max_tracked = max_tracked
        self._recorded: dict[str, float] = {}
        self._pending: dict[str, datetime] = {}

    def seen(self, key_id: str) -> None:
        """Note a use of ``key_id`` unless one was noted in the last minute."""
        now = time.monotonic()
        last = self._recorded.get(key_id)
        if last is not None and now - last < RECORD_EVERY_SECONDS:
            return
        if len(self._recorded) >= self._max_tracked:
            self._prune(now)
        self._recorded[key_id] = now
        if len(self._pending) < self._max_tracked:
            self._pending[key_id] = datetime.now(UTC)

    def _prune(self, now: float) -> None:
        fresh = {k: t for k, t in self._recorded.items() if now - t < RECORD_EVERY_SECONDS}
        self._recorded = fresh if len(fresh) < self._max_tracked else {}

    async def flush(self, db: Database) -> None:
        """Write the noted uses; on failure they are kept for the next attempt."""
        pending, self._pending = self._pending, {}
        try:
            await record_last_used(db, pending)
        except BaseException:
            self._pending = {**pending, **self._pending}
            raise
