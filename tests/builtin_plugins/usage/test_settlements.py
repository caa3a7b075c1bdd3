"""Settlements queued together go out as one ``KV.reserve_many`` call, each with its own answer;
a failure reaches every caller of the batch."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from builtin_plugins.usage.settlements import SettlementBatch
from kernel.errors import StoreUnavailableError
from kernel.storage.kv import Reservation, Reserved
from kernel.storage.kv_memory import MemoryKV


class _Counting(MemoryKV):
    def __init__(self, *, fail: bool = False) -> None:
        super().__init__()
        self.calls: list[int] = []
        self.fail = fail

    async def reserve_many(self, batches: Sequence[Sequence[Reservation]]) -> list[Reserved]:
        self.calls.append(len(batches))
        if self.fail:
            raise StoreUnavailableError("kv", reason="connection failed")
        return await super().reserve_many(batches)


async def test_concurrent_settlements_share_one_call() -> None:
    kv = _Counting()
    for user in range(3):
        await kv.set(f"usage:budget:{{u:{user}}}:b", b"100")
    batch = SettlementBatch(kv)
    results = await asyncio.gather(
        *(
            batch.reserve(
                [Reservation(key=f"usage:budget:{{u:{u}}}:b", amount=-10 * u, must_exist=True)]
            )
            for u in range(3)
        ),
        batch.reserve([Reservation(key="usage:budget:{u:9}:b", amount=-1, must_exist=True)]),
    )
    assert kv.calls == [4]
    assert results[:3] == [Reserved(True, (100,)), Reserved(True, (90,)), Reserved(True, (80,))]
    assert results[3] == Reserved(allowed=False, totals=(), missing=0)
    # The next settlement starts a new batch.
    await batch.reserve([Reservation(key="usage:budget:{u:0}:b", amount=5)])
    assert kv.calls == [4, 1]


async def test_a_failed_batch_fails_each_caller() -> None:
    batch = SettlementBatch(_Counting(fail=True))
    outcomes = await asyncio.gather(
        batch.reserve([Reservation(key="{u:1}:a", amount=1)]),
        batch.reserve([Reservation(key="{u:2}:a", amount=1)]),
        return_exceptions=True,
    )
    assert all(isinstance(o, StoreUnavailableError) for o in outcomes)
    with pytest.raises(StoreUnavailableError):
        await batch.reserve([Reservation(key="{u:1}:a", amount=1)])
