"""The official openai SDK against Enclava in front of both simulated providers."""

from __future__ import annotations

import asyncio
import base64
import struct
from typing import Any

import openai
import pytest
from support.gateway import EMBEDDING, REDPILL_ONLY, SHARED, Gateway
from support.openai_schema import Validate

CHAT = [{"role": "user", "content": "Say hello to the confidential world"}]


async def test_chat_completion_non_streaming(gateway: Gateway, openai_schema: Validate) -> None:
    async with gateway() as env:
        client = env.client()
        raw = await client.chat.completions.with_raw_response.create(model=SHARED, messages=CHAT)
        completion = raw.parse()
        assert completion.object == "chat.completion"
        assert completion.choices[0].message.content
        assert completion.usage is not None
        assert completion.usage.total_tokens > 0
        openai_schema("CreateChatCompletionResponse", completion.model_dump(exclude_unset=True))
        assert raw.headers["x-enclava-provider"] == "privatemode"
        assert raw.headers["x-enclava-attestation"] == "privatemode-proxy; response=off"
        assert raw.headers["x-request-id"]
        assert int(raw.headers["x-ratelimit-limit"]) == 1000


async def test_chat_streaming_hides_usage_unless_asked(
    gateway: Gateway, openai_schema: Validate
) -> None:
    async with gateway() as env:
        client = env.client()
        chunks = [
            c
            async for c in await client.chat.completions.create(
                model=SHARED, messages=CHAT, stream=True
            )
        ]
        assert chunks
        assert all(c.usage is None for c in chunks)
        assert chunks[-1].choices[0].finish_reason == "stop"
        for chunk in chunks:
            openai_schema(
                "CreateChatCompletionStreamResponse", chunk.model_dump(exclude_unset=True)
            )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        asked = [
            c
            async for c in await client.chat.completions.create(
                model=SHARED, messages=CHAT, stream=True, stream_options={"include_usage": True}
            )
        ]
        assert asked[-1].usage is not None
        assert asked[-1].usage.completion_tokens > 0
        assert "".join(c.choices[0].delta.content or "" for c in asked if c.choices) == text


def test_sync_client_chats_and_streams(gateway: Gateway) -> None:
    async def scenario() -> None:
        async with gateway() as env:

            def use_sync_sdk() -> None:
                client = env.sync_client()
                reply = client.chat.completions.create(model=SHARED, messages=CHAT)
                assert reply.choices[0].message.content
                stream = client.chat.completions.create(model=SHARED, messages=CHAT, stream=True)
                assert sum(1 for _ in stream) > 1

            await asyncio.to_thread(use_sync_sdk)

    asyncio.run(scenario())


async def test_tools_and_unknown_fields_pass_through(gateway: Gateway) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    async with gateway() as env:
        reply = await env.client().chat.completions.create(
            model=SHARED,
            messages=[{"role": "user", "content": "Please get weather for Berlin"}],
            tools=[tool],
            seed=7,
            user="tester",
            extra_body={"vendor_field": {"kept": True}},
        )
        assert reply.choices[0].message.tool_calls
        received = await env.privatemode.control.requests("/v1/chat/completions")
        assert received
        assert received[-1].model == SHARED


async def test_embeddings_float_and_base64(gateway: Gateway, openai_schema: Validate) -> None:
    async with gateway() as env:
        client = env.client()
        floats = await client.embeddings.create(
            model=EMBEDDING, input=["one", "two"], encoding_format="float"
        )
        assert len(floats.data) == 2
        openai_schema("CreateEmbeddingResponse", floats.model_dump(exclude_unset=True))
        raw = await client.embeddings.with_raw_response.create(
            model=EMBEDDING, input="one", encoding_format="base64"
        )
        packed = raw.http_response.json()["data"][0]["embedding"]
        decoded = struct.unpack(f"<{len(base64.b64decode(packed)) // 4}f", base64.b64decode(packed))
        assert decoded == pytest.approx(floats.data[0].embedding, rel=1e-6)


async def test_models_union_filters_non_tee(gateway: Gateway, openai_schema: Validate) -> None:
    async with gateway() as env:
        client = env.client()
        models = {m.id: m for m in (await client.models.list()).data}
        assert SHARED in models
        assert REDPILL_ONLY in models
        assert "openai/gpt-4o" not in models
        assert "anthropic/claude-sonnet-4.5" not in models
        shared: Any = models[SHARED]
        assert shared.providers == ["privatemode", "redpill"]
        assert shared.confidential is True
        assert sorted(shared.regions) == ["eu", "us"]
        one = await client.models.retrieve(REDPILL_ONLY)
        openai_schema(
            "Model",
            {
                k: v
                for k, v in one.model_dump().items()
                if k in {"id", "object", "created", "owned_by"}
            },
        )
        with pytest.raises(openai.NotFoundError) as missing:
            await client.models.retrieve("no-such-model")
        assert missing.value.code == "model_not_found"


async def test_error_classes(gateway: Gateway, openai_schema: Validate) -> None:
    async with gateway(ENCLAVA_RATE_LIMIT_PUBLIC_PER_MINUTE="3") as env:
        with pytest.raises(openai.AuthenticationError):
            await openai.AsyncOpenAI(
                base_url=env.base_url, api_key="en_" + "x" * 40, max_retries=0
            ).models.list()
        client = env.client()
        with pytest.raises(openai.NotFoundError) as unknown:
            await client.chat.completions.create(model="nope", messages=CHAT)
        assert unknown.value.code == "model_not_found"
        openai_schema("ErrorResponse", unknown.value.body and {"error": unknown.value.body})
        with pytest.raises(openai.BadRequestError):
            await client.chat.completions.create(model=SHARED, messages="not a list")  # type: ignore[arg-type]

        async def exhaust() -> None:
            for _ in range(5):
                await client.models.list()

        with pytest.raises(openai.RateLimitError) as limited:
            await exhaust()
        assert limited.value.response.headers["retry-after"]
