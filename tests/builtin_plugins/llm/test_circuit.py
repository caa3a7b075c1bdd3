"""Circuit breaking through the real app: a sliding window that successes reset (issue #20)."""

from __future__ import annotations

import asyncio

import openai
import pytest
from support.gateway import Gateway

CHAT = [{"role": "user", "content": "Tell me something confidential"}]
PRIVATEMODE_ONLY = "gemma-3-27b"


async def test_failures_each_followed_by_a_success_do_not_open(gateway: Gateway) -> None:
    async with gateway(ENCLAVA_LLM_CIRCUIT_FAILURES="2") as env:
        client = env.client()
        for _ in range(3):
            await env.privatemode.control.set_faults(status=503, fail_times=1)
            raw = await client.chat.completions.with_raw_response.create(
                model=PRIVATEMODE_ONLY, messages=CHAT
            )
            assert raw.headers["x-enclava-provider"] == "privatemode"
        assert len(await env.privatemode.control.requests("/v1/chat/completions")) == 6


async def test_stalled_attempts_that_began_before_a_success_do_not_open(
    gateway: Gateway,
) -> None:
    async with gateway(ENCLAVA_LLM_CIRCUIT_FAILURES="2") as env:  # read_timeout 2 s
        client = env.client()
        await env.privatemode.control.set_faults(stall_after=0)
        stalled = [
            asyncio.create_task(
                client.chat.completions.create(model=PRIVATEMODE_ONLY, messages=CHAT)
            )
            for _ in range(3)
        ]
        await asyncio.sleep(0.3)
        await env.privatemode.control.clear_faults()  # the upstream recovers during the stall
        await client.chat.completions.create(model=PRIVATEMODE_ONLY, messages=CHAT)
        for answer in await asyncio.gather(*stalled):  # cut by read_timeout, then retried
            assert answer.choices[0].message.content
        raw = await client.chat.completions.with_raw_response.create(
            model=PRIVATEMODE_ONLY, messages=CHAT
        )
        assert raw.headers["x-enclava-provider"] == "privatemode"


async def test_repeated_failures_still_open_it(gateway: Gateway) -> None:
    async with gateway(ENCLAVA_LLM_CIRCUIT_FAILURES="3") as env:  # 3 tries a request
        await env.privatemode.control.set_faults(status=500)
        client = env.client()
        with pytest.raises(openai.InternalServerError):
            await client.chat.completions.create(model=PRIVATEMODE_ONLY, messages=CHAT)
        with pytest.raises(openai.InternalServerError) as refused:
            await client.chat.completions.create(model=PRIVATEMODE_ONLY, messages=CHAT)
        assert "circuit open" in refused.value.message
        assert len(await env.privatemode.control.requests("/v1/chat/completions")) == 3


async def test_a_circuit_opening_mid_retry_is_named(gateway: Gateway) -> None:
    async with gateway(ENCLAVA_LLM_CIRCUIT_FAILURES="1") as env:
        await env.privatemode.control.set_faults(status=500)
        with pytest.raises(openai.InternalServerError) as refused:
            await env.client().chat.completions.create(model=PRIVATEMODE_ONLY, messages=CHAT)
        assert refused.value.code == "no_available_provider"
        assert "privatemode: circuit open" in refused.value.message
        assert "busy or paused" not in refused.value.message
