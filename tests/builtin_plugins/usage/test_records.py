"""One record per exchange through the real app: exact costs, failures, cut streams."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

import openai
import pytest
from support.gateway import EMBEDDING, REDPILL_ONLY, SHARED
from support.usage import MESSAGES, Stack, budget_status, chat, create_budget, records

from kernel.exchange import UsageRecord
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel


def expected_cost(row: dict[str, Any], rate: Fraction = Fraction(1)) -> int:
    exact = (
        row["prompt_tokens"] * Fraction(row["input_price"])
        + row["completion_tokens"] * Fraction(row["output_price"])
    ) * rate
    return math.ceil(exact)


async def test_every_kind_is_recorded_with_exact_cost(stack: Stack) -> None:
    async with stack() as env:
        client = env.openai()
        answer = await client.chat.completions.create(
            model=SHARED, messages=MESSAGES, max_tokens=50
        )
        chunks = [
            c
            async for c in await client.chat.completions.create(
                model=REDPILL_ONLY, messages=MESSAGES, stream=True, max_tokens=50
            )
        ]
        embedded = await client.embeddings.create(model=EMBEDDING, input=["a", "b"])
        rows = await records(env)
    assert [r["kind"] for r in rows] == ["chat", "chat", "embeddings"]
    chat, stream, embedding = rows
    assert answer.usage is not None
    assert embedded.usage is not None
    assert chunks
    assert (chat["provider"], chat["model"], chat["status"]) == ("privatemode", SHARED, 200)
    assert chat["prompt_tokens"] == answer.usage.prompt_tokens
    assert chat["completion_tokens"] == answer.usage.completion_tokens
    assert (chat["input_price"], chat["output_price"], chat["price_currency"]) == (
        "0.2",
        "0.8",
        "EUR",
    )
    assert chat["cost_micros"] == expected_cost(chat) > 0
    # RedPill's list price, USD per token → 0.04 / 0.1 USD per million, at 0.5 EUR per USD.
    assert (stream["provider"], stream["price_currency"]) == ("redpill", "USD")
    assert Decimal(stream["input_price"]) == Decimal("0.04")
    assert stream["completion_tokens"] > 0
    assert stream["ttft_ms"] is not None
    assert stream["cost_micros"] == expected_cost(stream, Fraction(1, 2))
    assert embedding["prompt_tokens"] == embedded.usage.prompt_tokens
    assert embedding["cost_micros"] == expected_cost(embedding)
    for row in rows:
        assert row["user_id"] == env.user_id
        assert row["key_id"] == env.key_id
        assert row["currency"] == "EUR"
        assert not row["cost_estimated"]
        assert row["total_tokens"] == row["prompt_tokens"] + row["completion_tokens"]
        assert "hello" not in str(row).lower()


async def test_failures_are_recorded_without_cost(stack: Stack) -> None:
    async with stack() as env:
        for sim in (env.privatemode, env.redpill):
            await sim.control.set_faults(status=500, paths=("/v1/chat",))
        async with env.client() as client:
            refused = await client.post(
                "/api/v1/chat/completions",
                headers=env.bearer(),
                json={"model": SHARED, "messages": MESSAGES},
            )
            unknown = await client.post(
                "/api/v1/chat/completions",
                headers=env.bearer(),
                json={"model": "no-such-model", "messages": MESSAGES},
            )
        rows = await records(env)
    assert refused.status_code in (502, 503)
    assert unknown.status_code == 404
    failed = [r for r in rows if r["model"] == SHARED]
    assert len(failed) == 1
    assert failed[0]["status"] == refused.status_code
    assert failed[0]["error_code"]
    assert failed[0]["cost_micros"] == 0
    assert failed[0]["prompt_tokens"] == 0


async def test_cut_stream_is_charged_its_reservation(stack: Stack) -> None:
    async with stack() as env:
        await create_budget(env, limit_micros=10**9)
        await env.privatemode.control.set_faults(break_after=2, paths=("/v1/chat",))
        client = env.openai()
        with pytest.raises(openai.APIError):
            async for _ in await client.chat.completions.create(
                model=SHARED, messages=MESSAGES, stream=True, max_tokens=100
            ):
                pass
        rows = await records(env)
        status = await budget_status(env)
    (cut,) = rows
    assert cut["cost_estimated"]
    assert cut["completion_tokens"] == 0
    assert cut["error_code"]
    # The reservation: the prompt bound (body bytes + a template allowance) + 100 completion
    # tokens at the dearest provider serving the model, and the budget holds exactly that.
    assert cut["cost_micros"] > 0
    assert status["data"][0]["spent_micros"] == cut["cost_micros"]


class CollectingSink:
    """A plugin contributing a usage sink, as metrics or billing exports would."""

    PLUGIN_NAME = "collecting_sink"

    def __init__(self) -> None:
        self.received: list[UsageRecord] = []

    @hookimpl
    def enclava_usage_sinks(self, kernel: Kernel) -> list[CollectingSink]:
        return [self]

    name = "collecting"

    async def write(self, records: Sequence[UsageRecord]) -> None:
        self.received.extend(records)


async def test_other_sinks_receive_stored_records(stack: Stack) -> None:
    sink = CollectingSink()
    async with stack(plugins=[sink]) as env:
        answers = [await chat(env) for _ in range(3)]
        rows = await records(env)
    assert [a.status_code for a in answers] == [200] * 3
    assert [r.request_id for r in sink.received] == [r["request_id"] for r in rows]
    assert sum(r.cost_micros for r in sink.received) == sum(r["cost_micros"] for r in rows)
