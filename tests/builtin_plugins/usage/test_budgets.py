"""Budgets through the real app: 402 when spent, exact under concurrency on two replicas sharing
Redis, period rollover on an injected clock, one warning per period, fail closed on store loss."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select
from support.tcp_proxy import TcpProxy
from support.usage import Env, Stack, budget_status, chat, create_budget, records, stack_factory

from builtin_plugins.audit.models import audit_events


async def _one_request_cost(env: Env) -> int:
    """What one ``chat`` costs, measured before any budget exists."""
    response = await chat(env)
    assert response.status_code == 200, response.text
    (row,) = [r for r in await records(env) if r["request_id"] == response.headers["x-request-id"]]
    assert row["cost_micros"] > 0
    return int(row["cost_micros"])


async def reservation_of(env: Env, **fields: Any) -> int:
    """What admission reserves for one ``chat``, as a refusal states it (a user budget of 0,
    deleted again): the bound of its cost (prompt by bytes, ``max_tokens`` in full, the
    dearest provider), so several times what the simulators' short answers cost."""
    probe = await create_budget(env, owner_type="user", owner_id=env.user_id, limit_micros=0)
    refused = await chat(env, **fields)
    async with env.client() as client:
        url = f"/api-internal/v1/budgets/{probe['budget']['id']}"
        assert (await client.delete(url, headers=env.admin)).status_code == 204
    assert refused.status_code == 402, refused.text
    match = re.search(r"may cost up to (\d+)\.(\d{6})", refused.json()["error"]["message"])
    assert match is not None
    return int(match.group(1)) * 1_000_000 + int(match.group(2))


async def test_hard_budget_refuses_with_402_and_reports_status(stack: Stack) -> None:
    async with stack() as env:
        cost = await _one_request_cost(env)
        reserved = await reservation_of(env)
        limit = reserved + cost * 2  # room for exactly three answers
        budget = await create_budget(env, limit_micros=limit, period="daily")
        answers = [await chat(env) for _ in range(6)]
        status = await budget_status(env)
        rows = (await records(env))[2:]  # the measured answer and the probe's refusal
    codes = [a.status_code for a in answers]
    assert codes == [200] * 3 + [402] * 3
    error = answers[-1].json()["error"]
    assert (error["type"], error["code"]) == ("insufficient_quota", "insufficient_quota")
    assert "budget 'test'" in error["message"]
    assert "EUR" in error["message"]
    (entry,) = status["data"]
    spent = sum(r["cost_micros"] for r in rows)
    assert entry["id"] == budget["budget"]["id"]
    assert entry["spent_micros"] == spent == cost * 3 <= limit
    assert entry["remaining_micros"] == limit - spent
    refused = [r for r in rows if r["status"] == 402]
    assert len(refused) == codes.count(402)
    assert all(r["provider"] is None and r["cost_micros"] == 0 for r in refused)
    assert refused[0]["error_code"] == "insufficient_quota"


async def test_a_user_budget_covers_every_key_of_theirs(stack: Stack) -> None:
    await _user_budget_covers_keys(stack)


async def test_cluster_reserves_user_and_key_budgets_in_one_script(cluster_stack: Stack) -> None:
    # The reservation touches the user's and the key's counters: one hash tag, one slot, else
    # the cluster would refuse the script (CROSSSLOT) and every request would fail.
    await _user_budget_covers_keys(cluster_stack)


async def test_cluster_fifty_concurrent_on_two_replicas_never_overspend(
    cluster_stack: Stack,
) -> None:
    async with cluster_stack(replicas=2) as env:
        await _fifty_against_ten(env)


async def _user_budget_covers_keys(stack: Stack) -> None:
    async with stack() as env:
        cost = await _one_request_cost(env)
        reserved = await reservation_of(env)
        async with env.client() as client:
            second = await client.post(
                "/api-internal/v1/api-keys", headers=env.user, json={"name": "second"}
            )
        other_key = second.json()["key"]
        key_budget = await create_budget(env, limit_micros=10**9)  # the first key's: room
        limit = reserved + cost - 1  # one answer, then no room for a second reservation
        await create_budget(env, owner_type="user", owner_id=env.user_id, limit_micros=limit)
        first = await chat(env)
        env.key, first_key = other_key, env.key
        refused = await chat(env)
        status = await budget_status(env)
        env.key = first_key
        refused_too = await chat(env)
        key_status = await budget_status(env)
        async with env.client() as client:  # an admin finds the key budget's counter too
            url = f"/api-internal/v1/budgets/{key_budget['budget']['id']}"
            admin_view = (await client.get(url, headers=env.admin)).json()
    assert admin_view["status"]["spent_micros"] == cost
    assert first.status_code == 200
    assert refused.status_code == refused_too.status_code == 402
    assert "user budget" in refused.json()["error"]["message"]
    assert [e["owner_type"] for e in status["data"]] == ["user"]
    assert sorted(e["owner_type"] for e in key_status["data"]) == ["api_key", "user"]
    # The refused reservation was all-or-nothing: the key's own counter holds one request only.
    spent = {e["owner_type"]: e["spent_micros"] for e in key_status["data"]}
    assert spent == {"api_key": cost, "user": cost}


async def _fifty_against_ten(env: Env) -> None:
    cost = await _one_request_cost(env)
    limit = cost * 10
    await create_budget(env, limit_micros=limit, period="total")
    replicas = len(env.apps)
    answers = await asyncio.gather(*(chat(env, i % replicas) for i in range(50)))
    codes = [a.status_code for a in answers]
    assert set(codes) <= {200, 402}, codes
    assert 1 <= codes.count(200) <= 10
    spent = sum(r["cost_micros"] for r in (await records(env))[1:])
    assert spent <= limit
    for index in range(replicas):
        (entry,) = (await budget_status(env, index))["data"]
        assert entry["spent_micros"] == spent  # every reservation settled, nothing left held


async def test_fifty_concurrent_requests_never_overspend(stack: Stack) -> None:
    async with stack() as env:
        await _fifty_against_ten(env)


async def test_fifty_concurrent_on_two_replicas_sharing_redis(stack: Stack) -> None:
    async with stack(replicas=2) as env:
        await _fifty_against_ten(env)


async def test_a_restart_keeps_what_was_spent(stack: Stack) -> None:
    async with stack() as first:
        cost = await _one_request_cost(first)
        limit = await reservation_of(first) + cost - 1  # one answer, no room for another
        await create_budget(first, limit_micros=limit, period="monthly")
        assert (await chat(first)).status_code == 200
        key, spent = first.key, (await budget_status(first))["data"][0]["spent_micros"]
    async with stack() as second:  # a fresh process: the in-process KV starts empty
        second.key = key
        status = await budget_status(second)
        refused = await chat(second)
    assert status["data"][0]["spent_micros"] == spent == cost
    assert refused.status_code == 402


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def test_period_rolls_over_at_local_midnight(stack: Stack) -> None:
    async with stack(ENCLAVA_USAGE_TIMEZONE="Europe/Berlin") as env:
        clock = Clock(datetime(2026, 11, 27, 22, 30, tzinfo=UTC))  # 23:30 in Berlin
        env.runtime().clock = clock
        cost = await _one_request_cost(env)
        limit = await reservation_of(env) + cost  # two answers
        await create_budget(env, limit_micros=limit, period="daily")
        first = [await chat(env) for _ in range(3)]
        clock.now += timedelta(minutes=40)  # 00:10 the next day in Berlin
        status = await budget_status(env)
        second = await chat(env)
    assert [a.status_code for a in first][-1] == 402
    (entry,) = status["data"]
    assert entry["spent_micros"] == 0
    assert entry["period_start"].startswith("2026-11-27T23:00:00")
    assert second.status_code == 200


async def test_warning_is_audited_once_per_period(stack: Stack) -> None:
    async with stack() as env:
        clock = Clock(datetime(2026, 11, 27, 12, tzinfo=UTC))
        env.runtime().clock = clock
        cost = await _one_request_cost(env)
        budget = await create_budget(
            env, limit_micros=cost * 100, period="daily", warning_percent=1, hard=False
        )
        for _ in range(3):
            assert (await chat(env)).status_code == 200
        clock.now += timedelta(days=1)
        assert (await chat(env)).status_code == 200
        async with env.runtime().kernel.stores.db.session() as session:
            rows = (
                await session.execute(
                    select(audit_events).where(audit_events.c.action == "budget.warning")
                )
            ).all()
    events = [dict(row._mapping) for row in rows]
    assert [e["resource_id"] for e in events] == [budget["budget"]["id"]] * 2
    assert [e["details"]["period_start"] for e in events] == ["2026-11-27", "2026-11-28"]


def _via(proxy: TcpProxy, url: str) -> str:
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{proxy.port}" if userinfo else f"127.0.0.1:{proxy.port}"
    return parts._replace(netloc=netloc).geturl()


def _refused_by_store(response: Any, store: str) -> None:
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "store_unavailable"
    assert f"'{store}'" in error["message"]


async def test_kv_down_fails_closed(
    make_settings: Any, sqlite_url: str, redis_url: str, redis_prefix: str
) -> None:
    target = urlsplit(redis_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    await proxy.start()
    run = stack_factory(make_settings, sqlite_url, redis_prefix)
    try:
        async with run(ENCLAVA_REDIS_URL=_via(proxy, redis_url)) as env:
            await create_budget(env, limit_micros=10**9)
            assert (await chat(env)).status_code == 200
            await proxy.stop()
            _refused_by_store(await chat(env), "kv")
            await proxy.start()
            assert (await chat(env)).status_code == 200
    finally:
        await proxy.stop()


async def test_sql_down_fails_closed(
    make_settings: Any, postgres_url: str, redis_prefix: str
) -> None:
    target = urlsplit(postgres_url.replace("postgresql+asyncpg", "postgresql"))
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.start()
    run = stack_factory(make_settings, _via(proxy, postgres_url), redis_prefix)
    try:
        async with run(ENCLAVA_USAGE_BUDGET_CACHE_SECONDS="0") as env:
            await create_budget(env, limit_micros=10**9)
            assert (await chat(env)).status_code == 200
            await proxy.stop()
            _refused_by_store(await chat(env), "sql")
            await proxy.start()
            assert (await chat(env)).status_code == 200
    finally:
        await proxy.stop()


@pytest.mark.parametrize("hard", [True, False])
async def test_unpriced_model_and_soft_budgets(stack: Stack, hard: bool) -> None:
    async with stack(ENCLAVA_USAGE_PRICES="{}") as env:
        await create_budget(env, limit_micros=0, hard=hard)
        unpriced = await chat(env)  # Privatemode's prices are gone, RedPill's is not
        unknown = await chat(env, model="no-such-model")
        over = await chat(env, model="phala/qwen-2.5-7b-instruct")
    # Nobody can price an unknown model, so a hard budget refuses it before routing.
    assert unknown.status_code == (402 if hard else 404)
    assert "has no price" in unknown.text or not hard
    assert unpriced.status_code == (402 if hard else 200)
    assert over.status_code == (402 if hard else 200)


async def _forget_every_key(redis_url: str, prefix: str) -> None:
    """What a Redis restarted without persistence holds under this test's prefix: nothing."""
    client = aioredis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def test_a_hard_budget_survives_redis_restarting_empty(
    stack: Stack, redis_url: str, redis_prefix: str
) -> None:
    async with stack(replicas=2) as env:
        cost = await _one_request_cost(env)
        limit = await reservation_of(env) + cost * 2  # room for exactly three answers
        budget = await create_budget(env, limit_micros=limit, period="total")
        answers = [await chat(env, i % 2) for i in range(6)]
        assert [a.status_code for a in answers] == [200] * 3 + [402] * 3
        await env.flush()
        await _forget_every_key(redis_url, redis_prefix)
        retried = [await chat(env, i % 2) for i in range(4)]
        async with env.client(1) as client:
            url = f"/api-internal/v1/budgets/{budget['budget']['id']}"
            status = (await client.get(url, headers=env.admin)).json()
        spent = sum(r["cost_micros"] for r in (await records(env))[1:])
    assert [a.status_code for a in retried] == [402] * 4
    assert spent == cost * 3
    assert spent <= limit
    assert status["status"]["spent_micros"] == spent
