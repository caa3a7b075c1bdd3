"""Every fault knob, on both simulators, as the official ``openai`` SDK experiences it."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import pytest

from builtin_plugins.simulators.content import LONGEST_WITHOUT_LIMIT
from builtin_plugins.simulators.faults import FaultConfig
from builtin_plugins.simulators.testing import running_simulator

MODELS = {"privatemode": "gpt-oss-120b", "redpill": "phala/qwen-2.5-7b-instruct"}
EMBED = {"privatemode": "qwen3-embedding-4b", "redpill": "qwen/qwen3-embedding-8b"}
HELLO = [{"role": "user", "content": "one two three four"}]

pytestmark = pytest.mark.parametrize("kind", ["privatemode", "redpill"])


async def _chat(client: openai.AsyncOpenAI, kind: str, stream: bool = False) -> Any:
    return await client.chat.completions.create(model=MODELS[kind], messages=HELLO, stream=stream)


async def _stream_into(client: openai.AsyncOpenAI, kind: str, received: list[Any]) -> None:
    async for chunk in await _chat(client, kind, stream=True):
        received.append(chunk)


async def test_latency_delays_targeted_requests_only(kind: str, sdk: Any) -> None:
    async with running_simulator(kind, latency_ms=300, paths=("/v1/chat",)) as sim:
        started = time.monotonic()
        await _chat(sdk(sim), kind)
        slow = time.monotonic() - started
        started = time.monotonic()
        await sdk(sim).models.list()
        fast = time.monotonic() - started
    assert slow >= 0.3
    assert fast < 0.3


async def test_error_statuses_map_to_the_sdk_error_classes(
    kind: str, sdk: Any, openai_schema: Any
) -> None:
    async with running_simulator(kind, status=503) as sim:
        with pytest.raises(openai.InternalServerError) as unavailable:
            await _chat(sdk(sim), kind)
        await sim.control.set_faults(status=429, retry_after=7)
        with pytest.raises(openai.RateLimitError) as limited:
            await _chat(sdk(sim), kind)
        await sim.control.set_faults(status=500)
        with pytest.raises(openai.InternalServerError) as failed:
            await _chat(sdk(sim), kind)
    assert unavailable.value.status_code == 503
    assert limited.value.response.headers["retry-after"] == "7"
    if kind == "redpill":
        openai_schema("ErrorResponse", limited.value.response.json())
        assert limited.value.code == "rate_limit_exceeded"
        assert limited.value.response.headers["x-ratelimit-remaining"] == "0"
    else:
        assert failed.value.response.json()["error"]["message"].startswith(
            "creating request cipher"
        )


async def test_reset_is_a_connection_error(kind: str, sdk: Any) -> None:
    async with running_simulator(kind, reset=True) as sim:
        with pytest.raises(openai.APIConnectionError):
            await _chat(sdk(sim), kind)
        assert len(await sim.control.requests("/v1/chat")) == 1


async def test_stall_mid_stream_and_before_an_answer_time_out(kind: str, sdk: Any) -> None:
    async with running_simulator(kind, stall_after=2) as sim:
        client = sdk(sim, timeout=0.5)
        received: list[Any] = []
        with pytest.raises(openai.APITimeoutError):
            await _stream_into(client, kind, received)
        with pytest.raises(openai.APITimeoutError):
            await _chat(client, kind)
    assert len(received) == 2


async def test_malformed_bodies_fail_to_parse(kind: str, sdk: Any) -> None:
    async with running_simulator(kind, malformed=True) as sim:
        with pytest.raises(ValueError, match=r"Unterminated|Expecting|Invalid"):
            await _chat(sdk(sim), kind)
        with pytest.raises(ValueError, match=r"Unterminated|Expecting|Invalid"):
            await _stream_into(sdk(sim), kind, [])


async def test_break_after_ends_the_stream_the_providers_way(kind: str, sdk: Any) -> None:
    async with running_simulator(kind, break_after=3) as sim:
        received: list[Any] = []
        with pytest.raises((openai.APIError, httpx.HTTPError)) as broken:
            await _stream_into(sdk(sim), kind, received)
    assert len(received) == 3
    if kind == "redpill":
        assert str(broken.value.message) == "The upstream provider returned an error"


async def test_fail_times_then_succeed_is_visible_in_the_request_log(kind: str, sdk: Any) -> None:
    async with running_simulator(kind, status=502, fail_times=2) as sim:
        answer = await _chat(sdk(sim, max_retries=2), kind)
        log = await sim.control.requests("/v1/chat/completions")
    assert answer.choices[0].message.content
    assert [r.headers["x-stainless-retry-count"] for r in log] == ["0", "1", "2"]
    assert {r.model for r in log} == {MODELS[kind]}
    assert all("authorization" not in r.headers for r in log)


async def test_longest_answers_use_every_token_each_choice_may(kind: str, sdk: Any) -> None:
    async with running_simulator(kind, longest=True, paths=("/v1/chat",)) as sim:
        client = sdk(sim)
        capped = await client.chat.completions.create(
            model=MODELS[kind], messages=HELLO, n=3, max_tokens=5, stop=["two"]
        )
        chunks = [
            c
            async for c in await client.chat.completions.create(
                model=MODELS[kind],
                messages=HELLO,
                max_completion_tokens=40,
                stream=True,
                stream_options={"include_usage": True},
            )
        ]
        unlimited = await client.chat.completions.create(model=MODELS[kind], messages=HELLO)
        log = await sim.control.requests("/v1/chat")
    assert capped.usage is not None
    assert capped.usage.completion_tokens == 3 * 5
    assert [c.finish_reason for c in capped.choices] == ["length"] * 3
    assert all(len((c.message.content or "").split()) == 5 for c in capped.choices)
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 40
    assert unlimited.usage is not None
    assert unlimited.usage.completion_tokens == LONGEST_WITHOUT_LIMIT
    assert [r.max_tokens for r in log] == [5, 40, None]


async def test_overrun_answers_past_max_tokens(kind: str, sdk: Any) -> None:
    async with running_simulator(kind, overrun=7) as sim:
        client = sdk(sim)
        natural = await client.chat.completions.create(
            model=MODELS[kind], messages=HELLO, max_tokens=2
        )
        await sim.control.set_faults(longest=True, overrun=7)
        longest = await client.chat.completions.create(
            model=MODELS[kind], messages=HELLO, max_tokens=2, n=2
        )
    assert natural.usage is not None
    assert natural.usage.completion_tokens == 2 + 7
    assert natural.choices[0].finish_reason == "length"
    assert longest.usage is not None
    assert longest.usage.completion_tokens == 2 * (2 + 7)


async def test_paths_target_one_route(kind: str, sdk: Any) -> None:
    async with running_simulator(kind, status=500, paths=("/v1/embeddings",)) as sim:
        assert (await _chat(sdk(sim), kind)).choices
        with pytest.raises(openai.InternalServerError):
            await sdk(sim).embeddings.create(model=EMBED[kind], input="x")


async def test_control_routes_read_replace_and_clear(kind: str) -> None:
    async with (
        running_simulator(kind, latency_ms=5) as sim,
        httpx.AsyncClient(base_url=sim.url) as raw,
    ):
        assert await sim.control.faults() == FaultConfig(latency_ms=5)
        bad = await raw.post("/_sim/faults", json={"status": 200})
        unknown = await raw.post("/_sim/faults", json={"explode": True})
        await raw.get("/v1/models")
        assert len(await sim.control.requests()) == 1
        await sim.control.clear_requests()
        await sim.control.clear_faults()
        assert await sim.control.faults() == FaultConfig()
        assert await sim.control.requests() == []
    assert bad.status_code == 400
    assert unknown.status_code == 400
