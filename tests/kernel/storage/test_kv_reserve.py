"""``KV.reserve``: all-or-nothing adds against limits, on both backends and across replicas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from kernel.storage.kv import KV, Reservation, Reserved, open_kv


@pytest.fixture
async def kv(kv_backend: str, redis_url: str, redis_prefix: str) -> AsyncIterator[KV]:
    store = open_kv("" if kv_backend == "memory" else redis_url, prefix=redis_prefix)
    yield store
    await store.close()


async def test_reserve_adds_until_the_limit(kv: KV) -> None:
    item = Reservation(key="b", amount=40, limit=100)
    assert await kv.reserve([item]) == Reserved(allowed=True, totals=(40,))
    assert await kv.reserve([item]) == Reserved(allowed=True, totals=(80,))
    assert await kv.reserve([item]) == Reserved(allowed=False, totals=(80,), refused=0)
    exact = Reservation(key="b", amount=20, limit=100)
    assert await kv.reserve([exact]) == Reserved(allowed=True, totals=(100,))
    assert await kv.get("b") == b"100"


async def test_reserve_is_all_or_nothing(kv: KV) -> None:
    await kv.reserve([Reservation(key="user", amount=90)])
    items = [
        Reservation(key="key", amount=20, limit=50),
        Reservation(key="user", amount=20, limit=100),
    ]
    refused = await kv.reserve(items)
    assert refused == Reserved(allowed=False, totals=(0, 90), refused=1)
    assert await kv.get("key") is None
    assert await kv.get("user") == b"90"


async def test_negative_amounts_and_no_limit_always_pass(kv: KV) -> None:
    await kv.reserve([Reservation(key="c", amount=100, limit=100)])
    settled = await kv.reserve([Reservation(key="c", amount=-30, limit=100)])
    assert settled == Reserved(allowed=True, totals=(70,))
    over = await kv.reserve([Reservation(key="c", amount=1000)])
    assert over == Reserved(allowed=True, totals=(1070,))
    assert (await kv.reserve([])).allowed


async def test_reserve_ttl_only_on_counters_without_one(kv: KV) -> None:
    await kv.reserve([Reservation(key="t", amount=1, ttl=0.2)])
    await kv.reserve([Reservation(key="t", amount=1, ttl=3600)])
    assert await kv.get("t") == b"2"
    await asyncio.sleep(0.3)
    assert await kv.get("t") is None
    await kv.reserve([Reservation(key="forever", amount=5)])
    assert await kv.get("forever") == b"5"


async def test_concurrent_reservations_never_pass_the_limit(kv: KV) -> None:
    item = Reservation(key="race", amount=7, limit=100)
    results = await asyncio.gather(*(kv.reserve([item]) for _ in range(50)))
    assert sum(r.allowed for r in results) == 14
    assert await kv.get("race") == b"98"


async def test_reserve_exact_across_replicas(redis_url: str, redis_prefix: str) -> None:
    stores = [open_kv(redis_url, prefix=redis_prefix) for _ in range(2)]
    try:
        item = Reservation(key="shared", amount=10, limit=100)
        results = await asyncio.gather(*(stores[i % 2].reserve([item]) for i in range(40)))
        assert sum(r.allowed for r in results) == 10
        assert await stores[0].get("shared") == b"100"
    finally:
        for store in stores:
            await store.close()


async def test_must_exist_refuses_an_absent_counter_and_adds_nothing(kv: KV) -> None:
    await kv.reserve([Reservation(key="seeded", amount=5)])
    items = [
        Reservation(key="seeded", amount=3, must_exist=True),
        Reservation(key="flushed", amount=3, limit=100, must_exist=True),
    ]
    assert await kv.reserve(items) == Reserved(allowed=False, totals=(), missing=1)
    assert await kv.get("seeded") == b"5"
    assert await kv.get("flushed") is None
    assert await kv.compare_and_set("flushed", expected=None, value=b"90")
    assert await kv.reserve(items) == Reserved(allowed=True, totals=(8, 93))
