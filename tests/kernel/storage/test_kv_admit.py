"""``KV.admit`` (a request's block check, throttle and reservation in one round trip) and
``KV.reserve_many`` (independent reservations in one round trip), on memory, Redis and Redis
Cluster: same answers as the single-step methods, stopping at the first refusal."""

from __future__ import annotations

import pytest

from kernel.storage.kv import (
    KV,
    Absent,
    AdmitStep,
    Admitted,
    Reservation,
    Reserve,
    Reserved,
    Throttle,
    ThrottleStep,
)

BUDGET = "usage:budget:{u:7}:b:2026-01"
KEY_BUDGET = "usage:budget:{u:7}:k:2026-01"


def _steps(amount: int = 10, limit: int = 100, throttle: int = 5) -> list[AdmitStep]:
    return [
        Absent("threat:block:10.0.0.1"),
        ThrottleStep(key="rl:key:k1", limit=throttle, period=60.0),
        Reserve(
            (
                Reservation(key=BUDGET, amount=amount, limit=limit, must_exist=True),
                Reservation(key=KEY_BUDGET, amount=amount, ttl=60.0, must_exist=True),
            )
        ),
    ]


async def _seed(kv: KV) -> None:
    await kv.set(BUDGET, b"0")
    await kv.set(KEY_BUDGET, b"0")


async def test_every_step_passes_in_one_call(kv: KV) -> None:
    await _seed(kv)
    admitted = await kv.admit(_steps())
    assert admitted.refused is None
    blocked, throttle, reserved = admitted.results
    assert blocked is True
    assert isinstance(throttle, Throttle)
    assert throttle.allowed
    assert throttle.remaining == 4
    assert reserved == Reserved(allowed=True, totals=(10, 10))
    assert await kv.get(BUDGET) == b"10"


async def test_a_blocked_client_reserves_nothing(kv: KV, kv_backend: str) -> None:
    await _seed(kv)
    await kv.set("threat:block:10.0.0.1", b"x", ttl=60)
    admitted = await kv.admit(_steps())
    assert admitted == Admitted(results=(False,), refused=0)
    assert await kv.get(BUDGET) == b"0"
    assert await kv.get(KEY_BUDGET) == b"0"
    fresh = await kv.throttle("rl:key:k1", limit=5, period=60.0)
    # One script takes no token after the refusal; a cluster ran the throttle's slot at the
    # same time and keeps the token taken (counting more, never less).
    assert fresh.remaining == (3 if kv_backend == "redis_cluster" else 4)


async def test_a_throttled_client_reserves_nothing(kv: KV) -> None:
    await _seed(kv)
    first = await kv.admit(_steps(throttle=1))
    assert first.refused is None
    second = await kv.admit(_steps(throttle=1))
    assert second.refused == 1
    throttle = second.results[1]
    assert isinstance(throttle, Throttle)
    assert not throttle.allowed
    assert throttle.retry_after > 0
    assert len(second.results) == 2
    assert await kv.get(BUDGET) == b"10"
    assert await kv.get(KEY_BUDGET) == b"10"


async def test_a_spent_budget_refuses_after_taking_the_token(kv: KV) -> None:
    await _seed(kv)
    admitted = await kv.admit(_steps(amount=150))
    assert admitted.refused == 2
    assert admitted.results[2] == Reserved(allowed=False, totals=(0, 0), refused=0)
    assert await kv.get(BUDGET) == b"0"
    after = await kv.throttle("rl:key:k1", limit=5, period=60.0)
    assert after.remaining == 3  # the admission's token was taken, as a throttle check would


async def test_a_missing_counter_is_reported_for_seeding(kv: KV) -> None:
    admitted = await kv.admit(_steps())
    assert admitted.refused == 2
    assert admitted.results[2] == Reserved(allowed=False, totals=(), missing=0)
    assert await kv.get(KEY_BUDGET) is None


async def test_invalid_steps_fail_before_anything_runs(kv: KV) -> None:
    crossing = Reserve((Reservation(key="{u:1}:a", amount=1), Reservation(key="{u:2}:b", amount=1)))
    with pytest.raises(ValueError, match="hash tag"):
        await kv.admit([ThrottleStep(key="rl:x", limit=5, period=60.0), crossing])
    with pytest.raises(ValueError, match="cost"):
        await kv.admit([ThrottleStep(key="rl:x", limit=5, period=60.0, cost=9)])
    assert await kv.get("rl:x") is None


async def test_empty_admissions_answer_without_steps(kv: KV) -> None:
    assert await kv.admit([]) == Admitted(results=())
    assert await kv.admit([Reserve(())]) == Admitted(results=(Reserved(True, ()),))


async def test_reserve_many_runs_every_batch_on_its_own(kv: KV) -> None:
    # Users spread over a cluster's slots; one refusal or missing counter stops no other batch.
    for user in range(6):
        await kv.set(f"usage:budget:{{u:{user}}}:b", b"50")
    batches = [
        [Reservation(key=f"usage:budget:{{u:{user}}}:b", amount=-20, must_exist=True)]
        for user in range(6)
    ]
    batches[2] = [Reservation(key="usage:budget:{u:2}:b", amount=60, limit=100)]
    batches.append([Reservation(key="usage:budget:{u:9}:gone", amount=-5, must_exist=True)])
    results = await kv.reserve_many(batches)
    assert results[2] == Reserved(allowed=False, totals=(50,), refused=0)
    assert results[6] == Reserved(allowed=False, totals=(), missing=0)
    for user in (0, 1, 3, 4, 5):
        assert results[user] == Reserved(allowed=True, totals=(30,))
        assert await kv.get(f"usage:budget:{{u:{user}}}:b") == b"30"
    assert await kv.get("usage:budget:{u:9}:gone") is None
    assert await kv.reserve_many([]) == []


async def test_steps_in_many_slots_give_back_what_a_refusal_made_pointless(kv: KV) -> None:
    # On a cluster the three steps run in three slots at once; the reservation after the
    # refusing throttle is given back, so every backend ends in the same state.
    await _seed(kv)
    await kv.admit(_steps(throttle=1))
    for _ in range(3):
        refused = await kv.admit(_steps(throttle=1))
        assert refused.refused == 1
    assert await kv.get(BUDGET) == b"10"
    assert await kv.get(KEY_BUDGET) == b"10"
