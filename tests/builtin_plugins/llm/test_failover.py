"""The fault matrix: provider failures never reach the client while another provider can serve."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest
from support.gateway import REDPILL_ONLY, SHARED, Env, Gateway

CHAT = [{"role": "user", "content": "Tell me something confidential"}]
PRIVATEMODE_ONLY = "gemma-3-27b"
FAULTS: dict[str, dict[str, Any]] = {
    "500": {"status": 500},
    "503": {"status": 503},
    "reset": {"reset": True},
    "429": {"status": 429, "retry_after": 1},
    "timeout": {"latency_ms": 4000},
    "malformed": {"malformed": True},
    "cipher": {"status": 500, "message": None},
}


async def _chat_requests(sim: Any) -> int:
    return len(await sim.control.requests("/v1/chat/completions"))


@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
async def test_privatemode_fault_is_served_by_redpill(gateway: Gateway, fault: str) -> None:
    async with gateway() as env:
        await env.privatemode.control.set_faults(**FAULTS[fault])
        raw = await env.client().chat.completions.with_raw_response.create(
            model=SHARED, messages=CHAT
        )
        assert raw.parse().choices[0].message.content
        assert raw.headers["x-enclava-provider"] == "redpill"
        assert raw.headers["x-enclava-attestation"] == "simulated; response=off"
        assert await _chat_requests(env.privatemode) >= 1


@pytest.mark.parametrize(
    "faults", [{"status": 502}, {"reset": True}, {"stall_after": 0}], ids=["502", "reset", "stall"]
)
async def test_stream_fails_over_before_the_first_byte(
    gateway: Gateway, faults: dict[str, Any]
) -> None:
    async with gateway() as env:
        await env.privatemode.control.set_faults(**faults)
        stream = await env.client().chat.completions.with_raw_response.create(
            model=SHARED, messages=CHAT, stream=True
        )
        assert stream.headers["x-enclava-provider"] == "redpill"
        chunks = [chunk async for chunk in stream.parse()]
        assert chunks[-1].choices[0].finish_reason == "stop"


async def test_both_down_is_one_clear_503(gateway: Gateway) -> None:
    async with gateway() as env:
        await env.privatemode.control.set_faults(status=500)
        await env.redpill.control.set_faults(status=503)
        with pytest.raises(openai.InternalServerError) as failed:
            await env.client().chat.completions.create(model=SHARED, messages=CHAT)
        assert failed.value.status_code == 503
        assert failed.value.code == "no_available_provider"
        assert "privatemode" in failed.value.message
        assert "redpill" in failed.value.message
        assert "127.0.0.1" not in failed.value.message


async def test_retries_then_succeeds_on_the_same_provider(gateway: Gateway) -> None:
    async with gateway() as env:
        await env.privatemode.control.set_faults(status=503, fail_times=1)
        raw = await env.client().chat.completions.with_raw_response.create(
            model=PRIVATEMODE_ONLY, messages=CHAT
        )
        assert raw.headers["x-enclava-provider"] == "privatemode"
        assert await _chat_requests(env.privatemode) == 2


async def test_circuit_opens_and_recovers(gateway: Gateway) -> None:
    env_vars = {"ENCLAVA_LLM_CIRCUIT_FAILURES": "2", "ENCLAVA_LLM_CIRCUIT_COOLDOWN_SECONDS": "0.5"}
    async with gateway(**env_vars) as env:
        await env.privatemode.control.set_faults(status=500)
        client = env.client()
        for _ in range(4):
            raw = await client.chat.completions.with_raw_response.create(
                model=SHARED, messages=CHAT
            )
            assert raw.headers["x-enclava-provider"] == "redpill"
        assert await _chat_requests(env.privatemode) == 2
        await env.privatemode.control.clear_faults()
        await asyncio.sleep(0.6)
        raw = await client.chat.completions.with_raw_response.create(model=SHARED, messages=CHAT)
        assert raw.headers["x-enclava-provider"] == "privatemode"


async def test_mid_stream_failure_ends_with_an_sse_error(gateway: Gateway) -> None:
    async with gateway() as env:
        await env.privatemode.control.set_faults(stall_after=3)
        stream = await env.client().chat.completions.create(
            model=PRIVATEMODE_ONLY, messages=CHAT, stream=True
        )
        received: list[str] = []

        async def consume() -> None:
            async for chunk in stream:
                received.append(chunk.choices[0].delta.content or "" if chunk.choices else "")

        with pytest.raises(openai.APIError) as broken:
            await consume()
        assert "incomplete" in broken.value.message
        assert 1 <= len(received) <= 3
        assert await _chat_requests(env.privatemode) == 1
        assert await _chat_requests(env.redpill) == 0


async def _served_by_nobody(
    env: Env, model: str, key: str | None = None
) -> openai.InternalServerError:
    with pytest.raises(openai.InternalServerError) as refused:
        await env.client(key).chat.completions.create(model=model, messages=CHAT)
    assert (refused.value.status_code, refused.value.code) == (503, "no_available_provider")
    return refused.value


async def test_unattested_redpill_never_gets_prompts(gateway: Gateway) -> None:
    async with gateway(trust=False) as env:
        refused = await _served_by_nobody(env, REDPILL_ONLY)
        assert "attestation" in refused.message
        await env.privatemode.control.set_faults(status=500)
        refused = await _served_by_nobody(env, SHARED)
        assert await _chat_requests(env.redpill) == 0


async def test_required_region_keeps_prompts_in_the_eu(gateway: Gateway) -> None:
    async with gateway(ENCLAVA_LLM_REQUIRED_REGION="eu") as env:
        refused = await _served_by_nobody(env, REDPILL_ONLY)
        assert "region" in refused.message
        await env.privatemode.control.set_faults(status=500)
        await _served_by_nobody(env, SHARED)
        assert await _chat_requests(env.redpill) == 0


async def test_key_region_keeps_its_prompts_in_the_eu(gateway: Gateway) -> None:
    async with gateway() as env:
        eu_key = await env.new_key(required_region="eu")
        refused = await _served_by_nobody(env, REDPILL_ONLY, eu_key)
        assert "redpill: outside the API key's required region eu" in refused.message
        await env.privatemode.control.set_faults(status=500)
        await _served_by_nobody(env, SHARED, eu_key)
        assert await _chat_requests(env.redpill) == 0
        raw = await env.client().chat.completions.with_raw_response.create(
            model=SHARED, messages=CHAT
        )
        assert raw.headers["x-enclava-provider"] == "redpill"


async def test_models_list_only_what_the_key_region_can_reach(gateway: Gateway) -> None:
    async with gateway() as env:
        eu_key = await env.new_key(required_region="eu")
        listed = {m.id: m for m in (await env.client(eu_key).models.list()).data}
        assert REDPILL_ONLY not in listed
        assert listed[SHARED].model_extra == {
            **(listed[SHARED].model_extra or {}),
            "providers": ["privatemode"],
            "regions": ["eu"],
        }
        everything = {m.id for m in (await env.client().models.list()).data}
        assert REDPILL_ONLY in everything


async def test_key_and_deployment_regions_must_both_hold(gateway: Gateway) -> None:
    async with gateway(ENCLAVA_LLM_REQUIRED_REGION="eu") as env:
        eu_key = await env.new_key(required_region="eu")
        raw = await env.client(eu_key).chat.completions.with_raw_response.create(
            model=SHARED, messages=CHAT
        )
        assert raw.headers["x-enclava-provider"] == "privatemode"
        us_key = await env.new_key(required_region="us")
        refused = await _served_by_nobody(env, SHARED, us_key)
        assert "privatemode: outside the API key's required region us" in refused.message
        assert "redpill: outside the required region eu" in refused.message
        assert await _chat_requests(env.privatemode) == 1
        assert await _chat_requests(env.redpill) == 0


async def test_provider_rpm_budget_fails_over(gateway: Gateway) -> None:
    async with gateway(ENCLAVA_PRIVATEMODE_REQUESTS_PER_MINUTE="1") as env:
        client = env.client()
        first = await client.chat.completions.with_raw_response.create(model=SHARED, messages=CHAT)
        second = await client.chat.completions.with_raw_response.create(model=SHARED, messages=CHAT)
        assert first.headers["x-enclava-provider"] == "privatemode"
        assert second.headers["x-enclava-provider"] == "redpill"


async def test_provider_client_errors_keep_their_status(gateway: Gateway) -> None:
    """A 4xx from the provider is the client's problem: never retried, never a 502."""
    async with gateway() as env:
        client = env.client()
        with pytest.raises(openai.BadRequestError) as plain:
            await client.chat.completions.create(model=PRIVATEMODE_ONLY, messages=[])
        with pytest.raises(openai.BadRequestError) as streamed:
            await client.chat.completions.create(model=PRIVATEMODE_ONLY, messages=[], stream=True)
        assert plain.value.status_code == streamed.value.status_code == 400
        assert streamed.value.param == "messages"
        assert await _chat_requests(env.privatemode) == 2
