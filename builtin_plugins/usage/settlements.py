"""Settlements batched: every settlement queued while one KV call is in flight (or in the same
event-loop turn) goes out together as one :meth:`~kernel.storage.kv.KV.reserve_many` call.

Each settlement stays its own atomic reservation (a refusal or a missing counter affects no
other), and each caller still waits for its own answer, so nothing is given back or charged
before the KV says so: a reservation keeps holding its estimate until its settlement is applied
(the safe side of the no-overspend guarantee). Under load this turns N round trips into one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from kernel.storage.kv import KV, Reservation, Reserved

__all__ = ["SettlementBatch"]

_Queued = tuple[Sequence[Reservation], "asyncio.Future[Reserved]"]


class SettlementBatch:
    """Coalesces concurrent settlements into one KV round trip."""

    def __init__(self, kv: KV) -> None:
        self._kv = kv
        self._queue: list[_Queued] = []
        self._sender: asyncio.Task[None] | None = None

    async def reserve(self, items: Sequence[Reservation]) -> Reserved:
        """:meth:`~kernel.storage.kv.KV.reserve` of ``items``, sent with the others queued."""
        future: asyncio.Future[Reserved] = asyncio.get_running_loop().create_future()
        self._queue.append((items, future))
        if self._sender is None:
            self._sender = asyncio.create_task(self._send(), name="usage-settlements")
        return await future

    async def _send(self) -> None:
        batch: list[_Queued] = []
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                try:
                    results = await self._kv.reserve_many([items for items, _ in batch])
                except Exception as exc:  # every caller sees it (and keeps its reservation
                    _fail(batch, exc)  # charged: the safe side)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._sender = None
            stopped = RuntimeError("settlements stopped before they were sent")
            _fail(batch + self._queue, stopped)
            self._queue = []


def _fail(batch: list[_Queued], exc: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)
