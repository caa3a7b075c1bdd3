"""``KV.reserve``: all-or-nothing adds against limits, on memory, Redis and Redis Cluster and
across replicas; several keys must share a hash tag on every backend."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from kernel.storage.kv import KV, Reservation, Reserved

OpenKV = Callable[..., KV]


async def test_reserve_adds_until_the_limit(kv: KV) -> None:
    item = Reservation(key="b", amount=40, limit=100)
    assert await kv.reserve([item]) == Reserved(allowed=True, totals=(40,))
    assert await kv.reserve([item]) == Reserved(allowed=True, totals=(80,))
    assert await kv.reserve([item]) == Reserved(allowed=False, totals=(80,), refused=0)
    exact = Reservation(key="b", amount=20, limit=100)
    assert await kv.reserve([exact]) == Reserved(allowed=True, totals=(100,))
    assert await kv.get("b") == b"100"


async def test_reserve_is_all_or_nothing(kv: KV) -> None:
    await kv.reserve([Reservation(key="{u:1}:user", amount=90)])
    items = [
        Reservation(key="{u:1}:key", amount=20, limit=50),
        Reservation(key="{u:1}:user", amount=20, limit=100),
    ]
    refused = await kv.reserve(items)
    assert refused == Reserved(allowed=False, totals=(0, 90), refused=1)
    assert await kv.get("{u:1}:key") is None
    assert await kv.get("{u:1}:user") == b"90"


@pytest.mark.parametrize(
    "keys",
    [["user", "key"], ["{u:1}:user", "{u:2}:key"], ["{u:1}:user", "key"], ["{}:a", "{}:b"]],
)
async def test_keys_without_one_hash_tag_are_refused_before_anything_runs(
    kv: KV, keys: list[str]
) -> None:
    items = [Reservation(key=key, amount=1) for key in keys]
    with pytest.raises(ValueError, match="hash tag"):
        await kv.reserve(items)
    for key in keys:
        assert await kv.get(key) is None


async def test_tagged_keys_spread_over_slots_each_reserve_on_its_own(kv: KV) -> None:
    # Twenty users' counters land on every master of a cluster; each reservation is one script.
    for user in range(20):
        items = [
            Reservation(key=f"usage:budget:{{u:{user}}}:{name}", amount=user + 1, limit=100)
            for name in ("user-budget", "key-budget")
        ]
        assert await kv.reserve(items) == Reserved(allowed=True, totals=(user + 1, user + 1))


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


async def test_reserve_exact_across_replicas(shared_store: OpenKV) -> None:
    stores = [shared_store() for _ in range(2)]
    items = [
        Reservation(key="{u:9}:shared", amount=10, limit=100),
        Reservation(key="{u:9}:other", amount=1),
    ]
    results = await asyncio.gather(*(stores[i % 2].reserve(items) for i in range(40)))
    assert sum(r.allowed for r in results) == 10
    assert await stores[0].get("{u:9}:shared") == b"100"
    assert await stores[1].get("{u:9}:other") == b"10"


async def test_must_exist_refuses_an_absent_counter_and_adds_nothing(kv: KV) -> None:
    await kv.reserve([Reservation(key="{t}:seeded", amount=5)])
    items = [
        Reservation(key="{t}:seeded", amount=3, must_exist=True),
        Reservation(key="{t}:flushed", amount=3, limit=100, must_exist=True),
    ]
    assert await kv.reserve(items) == Reserved(allowed=False, totals=(), missing=1)
    assert await kv.get("{t}:seeded") == b"5"
    assert await kv.get("{t}:flushed") is None
    assert await kv.compare_and_set("{t}:flushed", expected=None, value=b"90")
    assert await kv.reserve(items) == Reserved(allowed=True, totals=(8, 93))
