"""Admissions coalesced into one Redis script call: each group answers as if it ran alone."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
import redis.asyncio as aioredis

from kernel.errors import StoreUnavailableError
from kernel.storage.kv import Absent, Reservation, Reserve, Reserved, ThrottleStep
from kernel.storage.kv_batch import ScriptBatch
from kernel.storage.kv_redis import RedisKV


class _Fake:
    """A send that waits for ``release`` and answers each group with its ARGV."""

    def __init__(self) -> None:
        self.calls: list[list[int | str]] = []
        self.release = asyncio.Event()
        self.fail: Exception | None = None

    async def __call__(self, keys: list[str], args: list[int | str]) -> Sequence[Any]:
        self.calls.append(args)
        await self.release.wait()
        if self.fail is not None:
            raise self.fail
        return [args[i : i + 3] for i in range(0, len(args), 3)]


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_groups_queued_during_a_call_go_out_together() -> None:
    send = _Fake()
    batch = ScriptBatch(send)
    tasks = [asyncio.create_task(batch.run([], ["1", 0, i])) for i in range(4)]
    await _settle()
    assert len(send.calls) == 1  # the first is in flight, the others wait
    send.release.set()
    assert await asyncio.gather(*tasks) == [["1", 0, i] for i in range(4)]
    assert send.calls == [["1", 0, 0], ["1", 0, 1, "1", 0, 2, "1", 0, 3]]


async def test_a_failed_call_fails_every_group_in_it() -> None:
    send = _Fake()
    batch = ScriptBatch(send)
    first = asyncio.create_task(batch.run([], ["1", 0, 0]))
    await _settle()
    others = [asyncio.create_task(batch.run([], ["1", 0, i])) for i in (1, 2)]
    await _settle()
    send.fail = StoreUnavailableError("kv", reason="timed out")
    send.release.set()
    for task in (first, *others):
        with pytest.raises(StoreUnavailableError):
            await task
    assert len(send.calls) == 2
    send.fail = None  # idle again: the next caller sends at once
    assert await batch.run([], ["0", 0, 9]) == ["0", 0, 9]


async def test_a_group_cancelled_before_it_was_sent_is_dropped() -> None:
    send = _Fake()
    batch = ScriptBatch(send)
    first = asyncio.create_task(batch.run([], ["1", 0, 0]))
    await _settle()
    gone = asyncio.create_task(batch.run([], ["1", 0, 1]))
    kept = asyncio.create_task(batch.run([], ["1", 0, 2]))
    await _settle()
    gone.cancel()
    send.release.set()
    await first
    assert await kept == ["1", 0, 2]
    assert send.calls == [["1", 0, 0], ["1", 0, 2]]


async def test_concurrent_redis_admissions_keep_each_groups_semantics(
    redis_url: str, redis_prefix: str
) -> None:
    kv = RedisKV(redis_url, prefix=redis_prefix)
    try:
        await kv.set("blocked", b"1")
        limit = [Reservation(key="{u}:spent", amount=10, limit=50)]

        async def admit(blocked: bool) -> Any:
            absent = Absent(key="blocked" if blocked else "free")
            throttle = ThrottleStep(key="t", limit=1000, period=60.0)
            return await kv.admit([absent, throttle, Reserve(tuple(limit))])

        answers = await asyncio.gather(*(admit(i % 3 == 0) for i in range(15)))
        blocked = [a for i, a in enumerate(answers) if i % 3 == 0]
        assert all(a.refused == 0 and len(a.results) == 1 for a in blocked)  # stopped there
        others = [a for i, a in enumerate(answers) if i % 3 != 0]
        reserved = [a.results[2] for a in others if a.refused is None]
        assert len(reserved) == 5  # 5 x 10 fit under 50; the other five refused at step 2
        assert all(a.refused == 2 for a in others if a.refused is not None)
        assert sorted(r.totals[0] for r in reserved if isinstance(r, Reserved)) == [
            10,
            20,
            30,
            40,
            50,
        ]
        settled = await asyncio.gather(
            *(kv.reserve_many([[Reservation(key="{u}:spent", amount=-10)]]) for _ in range(5))
        )
        assert sorted(r[0].totals[0] for r in settled) == [0, 10, 20, 30, 40]
    finally:
        await kv.close()


async def test_batched_answers_keep_large_counters_exact(redis_url: str, redis_prefix: str) -> None:
    kv = RedisKV(redis_url, prefix=redis_prefix)
    big = 2**53 - 7  # the JSON answer carries integers, never floats in exponent notation
    try:
        item = Reservation(key="{u}:spent", amount=big, limit=2**53 - 1)
        admitted = await kv.admit([Reserve((item,))])
        assert admitted.results == (Reserved(allowed=True, totals=(big,)),)
        again = await kv.admit([Reserve((item,))])
        assert again.refused == 0
        assert again.results == (Reserved(allowed=False, totals=(big,), refused=0),)
        missing = Reservation(key="{u}:gone", amount=1, must_exist=True)
        [settled] = await kv.reserve_many([[missing]])
        assert settled == Reserved(allowed=False, totals=(), missing=0)
    finally:
        await kv.close()


async def test_admissions_reload_the_script_after_a_flush(
    redis_url: str, redis_prefix: str
) -> None:
    kv = RedisKV(redis_url, prefix=redis_prefix)
    raw = aioredis.from_url(redis_url)
    try:
        await raw.script_flush()
        admitted = await kv.admit([Absent(key="nothing")])
        assert admitted.results == (True,)
    finally:
        await raw.aclose()
        await kv.close()


async def test_the_single_admission_script_answers_as_the_batch_does(
    redis_url: str, redis_prefix: str
) -> None:
    """ADMIT_LUA (sent per slot on a cluster) and BATCH_LUA share their steps function."""
    batched = RedisKV(redis_url, prefix=redis_prefix + "b:")
    single = RedisKV(redis_url, prefix=redis_prefix + "s:")
    single._batch = None  # the per-call path a cluster takes
    try:
        for kv in (batched, single):
            await kv.set("blocked", b"1")
        limit = (Reservation(key="{u}:spent", amount=30, limit=50),)
        steps = [Absent(key="free"), ThrottleStep(key="t", limit=5, period=60.0), Reserve(limit)]
        for _ in range(2):
            one, other = await batched.admit(steps), await single.admit(steps)
            assert one.refused == other.refused
            assert [type(r) for r in one.results] == [type(r) for r in other.results]
            assert one.results[2:] == other.results[2:]
        blocked = [Absent(key="blocked"), *steps[1:]]
        assert (await batched.admit(blocked)).results == (await single.admit(blocked)).results
        free = [[Reservation(key="{u}:x", amount=1)]] * 2
        assert await batched.reserve_many(free) == await single.reserve_many(free)
    finally:
        await batched.close()
        await single.close()
