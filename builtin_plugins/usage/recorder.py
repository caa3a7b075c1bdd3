"""Usage records off the hot path: a bounded queue, batched inserts, forwarded to other sinks.

``put`` waits while the queue is full (back-pressure, never a silent drop); the kernel's meter is
told the depth (records not yet stored) after each put and each stored batch. A writer task takes
the first waiting record, waits out the flush interval, then inserts everything queued in batches
of ``batch_size``, one transaction each, and hands each stored batch to every usage sink; while
records keep coming it flushes on a fixed cadence (every interval from the first flush, not an
interval after the last insert ended, so a slow insert does not stretch the window). A failed
insert keeps its batch and is retried with backoff (the queue fills meanwhile, so finishing
requests wait); the backoff is cut short as soon as the database pool opens a new connection (the
server is back: a readiness probe or a request reached it), so the records of an outage are stored
within moments of recovery rather than after the next backoff step. ``stop`` writes what is left. A
crash therefore loses at most the records of one flush interval plus one insert."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event

from builtin_plugins.usage.models import usage_records
from kernel.exchange import UsageRecord, UsageSink
from kernel.observe import Meter, no_meter
from kernel.storage.sql import Database

__all__ = ["UsageRecorder", "record_values"]

log = logging.getLogger(__name__)
_BACKOFF_MIN = 0.1
_BACKOFF_MAX = 1.0


def record_values(record: UsageRecord, zone: ZoneInfo) -> dict[str, Any]:
    """The ``usage_records`` row of ``record``; ``day`` is its local date in ``zone``."""
    return {
        "request_id": record.request_id,
        "created_at": record.created_at,
        "day": record.created_at.astimezone(zone).date().isoformat(),
        "kind": record.kind,
        "user_id": record.user_id,
        "key_id": record.key_id,
        "chatbot_id": record.chatbot_id,
        "plugin": record.plugin,
        "provider": record.provider,
        "model": record.model[:200],
        "prompt_tokens": record.prompt_tokens,
        "completion_tokens": record.completion_tokens,
        "total_tokens": record.total_tokens,
        "input_price": None if record.input_price is None else str(record.input_price),
        "output_price": None if record.output_price is None else str(record.output_price),
        "price_currency": record.price_currency,
        "cost_micros": record.cost_micros,
        "currency": record.currency,
        "cost_estimated": record.cost_estimated,
        "latency_ms": record.latency_ms,
        "ttft_ms": record.ttft_ms,
        "status": record.status,
        "error_code": None if record.error_code is None else record.error_code[:64],
    }


class UsageRecorder:
    """The queue and writer task of one kernel."""

    def __init__(
        self,
        db: Database,
        *,
        zone: ZoneInfo,
        interval: float,
        batch_size: int,
        queue_size: int,
        sinks: Callable[[], Sequence[UsageSink]],
        meter: Callable[[], Meter] = no_meter,
    ) -> None:
        self._db = db
        self._zone = zone
        self._interval = interval
        self._batch_size = batch_size
        self._sinks = sinks
        self._meter = meter
        self._queue: asyncio.Queue[UsageRecord] = asyncio.Queue(maxsize=queue_size)
        self._task: asyncio.Task[None] | None = None
        self._held: list[UsageRecord] = []
        self._writing = asyncio.Lock()
        """Taken from the queue, not yet stored; written first, kept across failures."""
        self._reconnected = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def pending(self) -> int:
        """Records not yet stored."""
        return self._queue.qsize() + len(self._held)

    async def put(self, record: UsageRecord) -> None:
        """Queue ``record``; waits while the queue is full."""
        await self._queue.put(record)
        self._meter().usage_queue(self.pending)

    def start(self) -> None:
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            event.listen(self._db.engine.sync_engine, "connect", self._on_connect)
            self._task = asyncio.create_task(self._run(), name="usage-recorder")

    def _on_connect(self, _dbapi_connection: Any, _record: Any) -> None:
        """A pool connection was opened: wake a writer waiting out its backoff."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._reconnected.set)

    async def stop(self) -> None:
        """Stop the writer and write every record still queued (one attempt)."""
        if self._task is not None:
            event.remove(self._db.engine.sync_engine, "connect", self._on_connect)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self.flush()
        except Exception:
            log.exception("usage: %d records could not be written at shutdown", len(self._held))

    async def flush(self) -> None:
        """Write every record taken or queued now (shutdown, tests)."""
        self._take()
        await self._write_held()

    async def _write_held(self) -> None:
        async with self._writing:  # the writer task and flush() never store a batch twice
            while self._held:
                batch = self._held[: self._batch_size]
                await self._write(batch)
                del self._held[: len(batch)]
                self._meter().usage_queue(self.pending)

    def _take(self) -> None:
        while not self._queue.empty():
            self._held.append(self._queue.get_nowait())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._held.append(await self._queue.get())
            due = loop.time() + self._interval
            while True:
                await asyncio.sleep(max(0.0, due - loop.time()))
                self._take()
                await self._store_held()
                if self._queue.empty():
                    break
                due = max(due + self._interval, loop.time())

    async def _store_held(self) -> None:
        backoff = _BACKOFF_MIN
        while self._held:
            try:
                # Shielded: stop() cancels this task, and a write cut mid-way by that would
                # leave its SQLite transaction holding the write lock (and the batch held,
                # to be written twice); the final flush waits for it instead (the lock).
                await asyncio.shield(self._write_held())
            except Exception as exc:
                log.warning(
                    "usage: writing %d records failed (%s); retrying in %.1fs",
                    len(self._held),
                    type(exc).__name__,
                    backoff,
                )
                self._reconnected.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._reconnected.wait(), backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)

    async def _write(self, batch: list[UsageRecord]) -> None:
        rows = [record_values(record, self._zone) for record in batch]
        await self._db.insert_rows(usage_records, rows)
        for sink in self._sinks():
            try:
                await sink.write(batch)
            except Exception:
                log.exception("usage sink %s failed on %d records", sink.name, len(batch))
