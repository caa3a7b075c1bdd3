"""Reservations bound what a provider can bill, through the real app against simulators that
answer at their longest: every choice of ``n``, an injected ``max_tokens`` when the client sent
none, dense prompts by their bytes, and an answer dearer than its reservation."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
import msgspec
from sqlalchemy import select
from support.gateway import SHARED
from support.usage import MESSAGES, Env, Stack, budget_status, chat, create_budget, records

from builtin_plugins.audit.models import audit_events
from builtin_plugins.usage.money import TEMPLATE_TOKENS, cost_micros
from kernel.exchange import Exchange
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.upstream import ModelPrice

DEAREST = ModelPrice(input_per_million=Decimal("0.2"), output_per_million=Decimal("0.8"))
"""Privatemode's configured price of the shared model (RedPill's list price is lower)."""


async def _answer_at_their_longest(env: Env, **faults: Any) -> None:
    for simulator in (env.privatemode, env.redpill):
        await simulator.control.set_faults(longest=True, paths=("/v1/chat",), **faults)


async def _cost_of(env: Env, response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    rid = response.headers["x-request-id"]
    (row,) = [r for r in await records(env) if r["request_id"] == rid]
    return row


async def _forwarded_max_tokens(env: Env) -> list[int | None]:
    logged = [
        *(await env.privatemode.control.requests("/v1/chat")),
        *(await env.redpill.control.requests("/v1/chat")),
    ]
    return [r.max_tokens for r in sorted(logged, key=lambda r: r.received_at)]


async def _unbounded_chat(env: Env, **fields: Any) -> httpx.Response:
    """A chat that sets no ``max_tokens``."""
    body = {"model": SHARED, "messages": MESSAGES, **fields}
    async with env.client() as client:
        return await client.post("/api/v1/chat/completions", headers=env.bearer(), json=body)


async def _fifty_with_eight_choices(env: Env) -> tuple[int, int]:
    await _answer_at_their_longest(env)
    first = await _cost_of(env, await chat(env, n=8, max_tokens=8))
    assert first["completion_tokens"] == 8 * 8
    limit = first["cost_micros"] * 10  # about ten answers
    await create_budget(env, limit_micros=limit, period="total")
    replicas = len(env.apps)
    answers = await asyncio.gather(*(chat(env, i % replicas, n=8, max_tokens=8) for i in range(50)))
    codes = [a.status_code for a in answers]
    assert set(codes) <= {200, 402}, codes
    assert 1 <= codes.count(200) <= 10
    spent = sum(r["cost_micros"] for r in (await records(env))[1:])
    for index in range(replicas):
        (entry,) = (await budget_status(env, index))["data"]
        assert entry["spent_micros"] == spent  # every reservation settled, nothing left held
    return spent, limit


async def test_every_choice_is_reserved(stack: Stack) -> None:
    async with stack() as env:
        spent, limit = await _fifty_with_eight_choices(env)
    assert spent <= limit


async def test_every_choice_is_reserved_on_two_replicas_sharing_redis(stack: Stack) -> None:
    async with stack(replicas=2) as env:
        spent, limit = await _fifty_with_eight_choices(env)
    assert spent <= limit


async def test_a_request_without_max_tokens_gets_the_one_its_budget_can_pay(stack: Stack) -> None:
    async with stack(ENCLAVA_USAGE_DEFAULT_MAX_TOKENS="1000") as env:
        await _answer_at_their_longest(env)
        full = await _cost_of(env, await chat(env, max_tokens=1000))
        assert full["completion_tokens"] == 1000
        limit = full["cost_micros"] * 5 // 2  # two answers the model's limit long, and a half
        await create_budget(env, limit_micros=limit, period="total")
        for simulator in (env.privatemode, env.redpill):
            await simulator.control.clear_requests()
        answers = [
            await _unbounded_chat(env),
            await _unbounded_chat(env, stream=True),
            await _unbounded_chat(env),
            await _unbounded_chat(env),
        ]
        forwarded = await _forwarded_max_tokens(env)
        rows = (await records(env))[1:]
        (status,) = (await budget_status(env))["data"]
    assert [a.status_code for a in answers] == [200, 200, 200, 402]
    injected = [int(a.headers["x-enclava-max-tokens"]) for a in answers[:3]]
    assert injected[:2] == [1000, 1000]  # usage.default_max_tokens: Privatemode states no context
    assert 0 < injected[2] < 1000  # what the rest of the budget pays for
    assert "x-enclava-max-tokens" not in answers[3].headers
    assert forwarded == injected  # the bodies sent upstream carried it; the refusal went nowhere
    assert [r["completion_tokens"] for r in rows[:3]] == injected
    spent = sum(r["cost_micros"] for r in rows)
    assert status["spent_micros"] == spent <= limit


async def test_a_dense_prompt_is_reserved_by_its_bytes(stack: Stack) -> None:
    text = "预算不能超支。" * 100  # 2,100 bytes; a tokenizer spends about a token a character
    body = msgspec.json.encode({"model": SHARED, "messages": [{"role": "user", "content": text}]})
    body = body[:-1] + b',"max_tokens":8}'
    bound = cost_micros(DEAREST, Decimal(1), prompt=len(body) + TEMPLATE_TOKENS, completion=8)
    by_quarters = cost_micros(DEAREST, Decimal(1), prompt=len(body) // 4, completion=8)
    async with stack() as env:
        budget = await create_budget(env, limit_micros=bound - 1, period="total")
        async with env.client() as client:
            headers = {**env.bearer(), "content-type": "application/json"}
            url = "/api/v1/chat/completions"
            refused = await client.post(url, headers=headers, content=body)
            await client.patch(
                f"/api-internal/v1/budgets/{budget['budget']['id']}",
                headers=env.admin,
                json={"limit_micros": bound},
            )
            admitted = await client.post(url, headers=headers, content=body)
    assert by_quarters < bound - 1  # bytes / 4 would have fitted the smaller budget
    assert refused.status_code == 402
    assert f"may cost up to 0.{bound:06d}" in refused.json()["error"]["message"]
    assert admitted.status_code == 200, admitted.text


async def test_an_answer_dearer_than_its_reservation_is_charged_and_stops_the_budget(
    stack: Stack,
) -> None:
    async with stack() as env:
        await _answer_at_their_longest(env, overrun=2000)  # a provider ignoring max_tokens
        budget = await create_budget(env, limit_micros=1000, period="total")
        over = await _cost_of(env, await chat(env))
        refused = await chat(env)
        (status,) = (await budget_status(env))["data"]
        async with env.runtime().kernel.stores.db.session() as session:
            rows = (
                await session.execute(
                    select(audit_events).where(audit_events.c.action == "budget.overrun")
                )
            ).all()
    assert over["completion_tokens"] == 8 + 2000
    assert over["cost_micros"] > 1000
    assert status["spent_micros"] == over["cost_micros"]  # charged in full, not the reservation
    assert status["remaining_micros"] == 0
    assert refused.status_code == 402
    (event,) = [dict(row._mapping) for row in rows]
    details = event["details"]
    assert (event["resource_id"], event["request_id"]) == (
        budget["budget"]["id"],
        over["request_id"],
    )
    assert details["cost_micros"] == over["cost_micros"]
    assert 0 < details["reserved_micros"] <= 1000
    assert details["excess_micros"] == over["cost_micros"] - details["reserved_micros"]


class DroppingMaxTokens:
    """A chat filter that rewrites requests without their ``max_tokens``."""

    PLUGIN_NAME = "dropping_max_tokens"
    name = "dropping"
    order = 1
    fail_open = False

    @hookimpl
    def enclava_chat_filters(self, kernel: Kernel) -> list[DroppingMaxTokens]:
        return [self]

    async def on_request(self, exchange: Exchange, request: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in request.items() if k != "max_tokens"}

    async def on_response(
        self, exchange: Exchange, response: dict[str, Any]
    ) -> dict[str, Any] | None:
        return None


async def test_a_filter_cannot_drop_the_injected_max_tokens(stack: Stack) -> None:
    async with stack(plugins=[DroppingMaxTokens()]) as env:
        await create_budget(env, limit_micros=10**9, period="total")
        for simulator in (env.privatemode, env.redpill):
            await simulator.control.clear_requests()
        dropped = await _unbounded_chat(env)
        forwarded = await _forwarded_max_tokens(env)
        (status,) = (await budget_status(env))["data"]
    assert dropped.status_code == 500
    assert dropped.json()["error"]["code"] == "chat_filter_failed"
    assert forwarded == []  # nothing went upstream without its bound
    assert status["spent_micros"] == 0  # and the reservation was released
