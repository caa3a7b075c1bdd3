"""``KV.throttle``: GCRA on memory, Redis and Redis Cluster, exact under concurrency, atomic
across Redis replicas."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import msgspec
import pytest
import redis.asyncio as aioredis

from kernel.errors import StoreUnavailableError
from kernel.storage.kv import KV, Throttle, gcra_interval_us
from kernel.storage.kv_redis import RedisKV

OpenKV = Callable[..., KV]


async def test_fresh_bucket_allows_and_reports(kv: KV) -> None:
    result = await kv.throttle("k", limit=5, period=60)
    assert result.allowed is True
    assert result.limit == 5
    assert result.remaining == 4
    assert result.retry_after == 0
    assert 11.9 < result.reset_after <= 12.0  # one emission interval: 60 s / 5


async def test_allows_exactly_limit_then_refuses(kv: KV) -> None:
    results = [await kv.throttle("k", limit=5, period=60) for _ in range(6)]
    assert [r.allowed for r in results] == [True] * 5 + [False]
    assert [r.remaining for r in results] == [4, 3, 2, 1, 0, 0]
    refused = results[-1]
    assert 11.9 < refused.retry_after <= 12.0
    assert 59.9 < refused.reset_after <= 60.0


async def test_refused_requests_take_nothing(kv: KV) -> None:
    for _ in range(5):
        assert (await kv.throttle("k", limit=5, period=1)).allowed
    for _ in range(3):
        assert not (await kv.throttle("k", limit=5, period=1)).allowed
    await asyncio.sleep(0.25)  # one emission interval (0.2 s) and a margin
    assert (await kv.throttle("k", limit=5, period=1)).allowed
    assert not (await kv.throttle("k", limit=5, period=1)).allowed


async def test_bucket_is_full_again_after_reset_and_key_expires(kv: KV) -> None:
    results = [await kv.throttle("k", limit=3, period=0.3) for _ in range(3)]
    last = results[-1]
    assert last.remaining == 0
    await asyncio.sleep(last.reset_after + 0.05)
    assert await kv.get("k") is None, "the stored TAT must expire once the bucket is full"
    assert (await kv.throttle("k", limit=3, period=0.3)).remaining == 2


async def test_cost_takes_several_cells(kv: KV) -> None:
    first = await kv.throttle("k", limit=10, period=60, cost=4)
    assert (first.allowed, first.remaining) == (True, 6)
    assert (await kv.throttle("k", limit=10, period=60, cost=4)).remaining == 2
    refused = await kv.throttle("k", limit=10, period=60, cost=4)
    assert (refused.allowed, refused.remaining) == (False, 2)
    assert 11.9 < refused.retry_after <= 12.0  # two cells short, 6 s each
    last = await kv.throttle("k", limit=10, period=60, cost=2)
    assert (last.allowed, last.remaining) == (True, 0)


async def test_keys_are_independent(kv: KV) -> None:
    assert (await kv.throttle("a", limit=1, period=60)).allowed
    assert not (await kv.throttle("a", limit=1, period=60)).allowed
    assert (await kv.throttle("b", limit=1, period=60)).allowed


@pytest.mark.parametrize(
    ("limit", "period", "cost"),
    [(0, 60, 1), (5, 0, 1), (5, -1, 1), (5, 60, 0), (5, 60, 6)],
    ids=["no-limit", "no-period", "negative-period", "no-cost", "cost-over-limit"],
)
async def test_bad_arguments_raise(kv: KV, limit: int, period: float, cost: int) -> None:
    with pytest.raises(ValueError, match="throttle"):
        await kv.throttle("k", limit=limit, period=period, cost=cost)


def test_interval_rounds_up_so_the_rate_never_exceeds_the_limit() -> None:
    assert gcra_interval_us(limit=1000, period=60, cost=1) == 60_000
    assert gcra_interval_us(limit=7, period=60, cost=1) == 8_571_429
    assert gcra_interval_us(limit=10**9, period=1, cost=1) == 1


def test_throttle_is_frozen() -> None:
    result = Throttle(allowed=True, limit=1, remaining=0, reset_after=1.0, retry_after=0.0)
    with pytest.raises(AttributeError):
        result.allowed = False  # type: ignore[misc]
    assert msgspec.json.decode(msgspec.json.encode(result), type=Throttle) == result


async def test_concurrent_burst_allows_exactly_limit(kv: KV) -> None:
    results = await asyncio.gather(*(kv.throttle("k", limit=20, period=60) for _ in range(21)))
    assert sum(r.allowed for r in results) == 20
    assert sorted(r.remaining for r in results if r.allowed) == list(range(20))


async def test_exact_across_replicas(shared_store: OpenKV) -> None:
    replicas = [shared_store() for _ in range(2)]
    calls = [replicas[i % 2].throttle("shared", limit=50, period=60) for i in range(51)]
    results = await asyncio.gather(*calls)
    assert sum(r.allowed for r in results) == 50
    assert sorted(r.remaining for r in results if r.allowed) == list(range(50))


async def test_redis_keeps_tat_on_server_clock(redis_url: str, redis_prefix: str) -> None:
    store = RedisKV(redis_url, prefix=redis_prefix)
    raw = aioredis.from_url(redis_url)
    try:
        result = await store.throttle("k", limit=4, period=60)
        seconds, micros = await raw.time()
        stored = await raw.get(f"{redis_prefix}k")
        assert stored is not None
        assert stored.isdigit(), "the TAT is an integer in microseconds"
        server_now = seconds * 1_000_000 + micros
        assert abs(int(stored) - server_now - 15_000_000) < 1_000_000
        ttl_ms = await raw.pttl(f"{redis_prefix}k")
        assert abs(ttl_ms - result.reset_after * 1000) < 1_000
    finally:
        await raw.aclose()
        await store.close()


async def test_unreachable_redis_fails_closed() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = RedisKV(f"redis://127.0.0.1:{port}/0", prefix="p:")
    try:
        with pytest.raises(StoreUnavailableError) as info:
            await store.throttle("k", limit=5, period=60)
        assert info.value.store == "kv"
    finally:
        await store.close()
