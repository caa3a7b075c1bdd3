"""The Privatemode proxy simulator through the official ``openai`` SDK and raw HTTP."""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

import httpx
import openai
import pytest

from builtin_plugins.simulators.keys import TEST_API_KEY
from builtin_plugins.simulators.testing import running_simulator

CHAT = "gpt-oss-120b"
EMBED = "qwen3-embedding-4b"
AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
HELLO = [{"role": "user", "content": "tell me about confidential computing"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}


async def test_models_list_tasks_and_both_long_and_short_ids(sdk: Any, openai_schema: Any) -> None:
    async with running_simulator("privatemode") as sim, httpx.AsyncClient(headers=AUTH) as raw:
        body = (await raw.get(f"{sim.base_url}/models")).json()
        openai_schema("ListModelsResponse", body)
        models = await sdk(sim).models.list()
    tasks = {m.id: m.model_extra["tasks"] for m in models.data if m.model_extra}
    assert tasks["openai/gpt-oss-120b"] == tasks["gpt-oss-120b"] == ["generate", "tool_calling"]
    assert "vision" in tasks["gemma-3-27b"]
    assert tasks["qwen3-embedding-4b"] == ["embed"]
    assert tasks["whisper-large-v3"] == ["transcribe"]


async def test_chat_is_deterministic_with_consistent_usage(sdk: Any, openai_schema: Any) -> None:
    async with running_simulator("privatemode") as sim, httpx.AsyncClient(headers=AUTH) as raw:
        client = sdk(sim)
        first = await client.chat.completions.create(model=CHAT, messages=HELLO)
        second = await client.chat.completions.create(model="openai/gpt-oss-120b", messages=HELLO)
        response = await raw.post(
            f"{sim.base_url}/chat/completions",
            json={"model": CHAT, "messages": HELLO, "seed": 7, "logprobs": True, "unknown": {}},
        )
    openai_schema("CreateChatCompletionResponse", response.json())
    choice = response.json()["choices"][0]
    assert choice["stop_reason"] is None
    assert [t["token"] for t in choice["logprobs"]["content"]][:2] == ["Simulated", " reply"]
    text = "Simulated reply to: tell me about confidential computing"
    assert first.choices[0].message.content == second.choices[0].message.content == text
    assert first.id.startswith("chatcmpl-")
    assert first.id != second.id
    assert first.model == CHAT
    assert second.model == "openai/gpt-oss-120b"
    assert first.choices[0].finish_reason == "stop"
    assert first.usage is not None
    assert first.usage.prompt_tokens == 5
    assert first.usage.completion_tokens == len(text.split())
    assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens


async def test_streaming_chunks_share_the_id_and_end_with_usage(
    sdk: Any, openai_schema: Any
) -> None:
    async with running_simulator("privatemode") as sim:
        stream = await sdk(sim).chat.completions.create(
            model=CHAT, messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
    for chunk in chunks:
        openai_schema("CreateChatCompletionStreamResponse", chunk.model_dump(exclude_unset=True))
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Simulated reply to: tell me about confidential computing"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 8
    assert all(c.usage is None for c in chunks[:-1])


async def test_stream_without_include_usage_has_no_usage_member() -> None:
    async with running_simulator("privatemode") as sim, httpx.AsyncClient(headers=AUTH) as raw:
        body = {"model": CHAT, "messages": HELLO, "stream": True}
        response = await raw.post(f"{sim.base_url}/chat/completions", json=body)
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = [f for f in response.text.split("\n\n") if f]
    assert frames[-1] == "data: [DONE]"
    assert all("usage" not in json.loads(f.removeprefix("data: ")) for f in frames[:-1])


async def test_tool_call_when_the_user_asks_for_a_tool(sdk: Any) -> None:
    ask = [{"role": "user", "content": "Please call get_weather for Berlin"}]
    async with running_simulator("privatemode") as sim:
        client = sdk(sim)
        called = await client.chat.completions.create(
            model=CHAT, messages=ask, tools=[WEATHER_TOOL]
        )
        plain = await client.chat.completions.create(
            model=CHAT, messages=HELLO, tools=[WEATHER_TOOL]
        )
        stream = await client.chat.completions.create(
            model=CHAT, messages=ask, tools=[WEATHER_TOOL], stream=True
        )
        chunks = [c async for c in stream]
    choice = called.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {
        "city": "Please call get_weather for Berlin",
        "days": 1,
    }
    assert plain.choices[0].finish_reason == "stop"
    assert not plain.choices[0].message.tool_calls
    deltas = [d for c in chunks for d in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].id == call.id
    assert deltas[0].function.name == "get_weather"
    assert "".join(d.function.arguments or "" for d in deltas) == call.function.arguments
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


async def test_n_stop_max_tokens_and_json_mode(sdk: Any) -> None:
    async with running_simulator("privatemode") as sim:
        client = sdk(sim)
        several = await client.chat.completions.create(model=CHAT, messages=HELLO, n=3)
        stopped = await client.chat.completions.create(model=CHAT, messages=HELLO, stop=["about"])
        short = await client.chat.completions.create(model=CHAT, messages=HELLO, max_tokens=2)
        as_json = await client.chat.completions.create(
            model=CHAT, messages=HELLO, response_format={"type": "json_object"}
        )
        schema = {
            "type": "object",
            "properties": {"city": {"type": "string"}, "n": {"type": "integer"}},
        }
        structured = await client.chat.completions.create(
            model=CHAT,
            messages=HELLO,
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
        )
    assert [c.index for c in several.choices] == [0, 1, 2]
    assert len({c.message.content for c in several.choices}) == 3
    assert stopped.choices[0].message.content == "Simulated reply to: tell me "
    assert short.choices[0].message.content == "Simulated reply"
    assert short.choices[0].finish_reason == "length"
    assert short.usage.completion_tokens == 2
    assert json.loads(structured.choices[0].message.content or "") == {
        "city": "Simulated reply to: tell me about confidential computing",
        "n": 1,
    }
    assert json.loads(as_json.choices[0].message.content or "") == {
        "reply": "Simulated reply to: tell me about confidential computing"
    }


async def test_embeddings_float_and_base64_are_the_same_unit_vector(
    sdk: Any, openai_schema: Any
) -> None:
    async with running_simulator("privatemode") as sim, httpx.AsyncClient(headers=AUTH) as raw:
        client = sdk(sim)
        # The SDK asks for base64 on the wire by default and decodes it.
        decoded = await client.embeddings.create(model=EMBED, input=["alpha beta", "gamma"])
        explicit = await client.embeddings.create(
            model=EMBED, input="alpha beta", encoding_format="float"
        )
        encoded = await raw.post(
            f"{sim.base_url}/embeddings",
            json={"model": EMBED, "input": "alpha beta", "encoding_format": "base64"},
        )
        small = await client.embeddings.create(model=EMBED, input="alpha beta", dimensions=16)
        body = (
            await raw.post(f"{sim.base_url}/embeddings", json={"model": EMBED, "input": "x"})
        ).json()
    openai_schema("CreateEmbeddingResponse", body)
    assert body["id"].startswith("embd-")
    assert isinstance(body["created"], int)
    vector = explicit.data[0].embedding
    assert len(vector) == 2560
    assert abs(sum(v * v for v in vector) - 1.0) < 1e-4
    assert decoded.data[0].embedding == vector
    assert decoded.data[1].embedding != vector
    assert decoded.usage.prompt_tokens == 3
    raw_b64 = encoded.json()["data"][0]["embedding"]
    assert list(struct.unpack("<2560f", base64.b64decode(raw_b64))) == vector
    prefix = vector[:16]
    norm = sum(v * v for v in prefix) ** 0.5
    assert small.data[0].embedding == pytest.approx([v / norm for v in prefix], rel=1e-5)


async def test_errors_are_the_proxys_own_shapes(sdk: Any, openai_schema: Any) -> None:
    async with (
        running_simulator("privatemode", api_key="pm-key") as sim,
        httpx.AsyncClient() as raw,
    ):
        no_key = await raw.post(
            f"{sim.base_url}/chat/completions", json={"model": CHAT, "messages": HELLO}
        )
        with pytest.raises(openai.AuthenticationError) as wrong:
            await sdk(sim, api_key="nope").chat.completions.create(model=CHAT, messages=HELLO)
        sse = await raw.post(
            f"{sim.base_url}/chat/completions",
            json={"model": CHAT, "messages": HELLO, "stream": True},
            headers={"Authorization": "Bearer nope", "Accept": "text/event-stream"},
        )
        ok = await sdk(sim, api_key="pm-key").chat.completions.create(model=CHAT, messages=HELLO)
        later = await sdk(sim, api_key="nope").chat.completions.create(model=CHAT, messages=HELLO)
        with pytest.raises(openai.NotFoundError) as unknown:
            await sdk(sim, api_key="pm-key").chat.completions.create(model="gpt-9", messages=HELLO)
    cipher = "creating request cipher: get latest secret: don't have an API key yet"
    assert no_key.status_code == 500
    assert no_key.json() == {"error": {"message": cipher, "type": ""}}
    assert wrong.value.response.json()["error"]["message"].startswith("trying API key: ")
    assert wrong.value.response.headers["privatemode-encrypted"] == "false"
    assert sse.status_code == 401
    assert sse.headers["content-type"].startswith("text/event-stream")
    assert sse.text.startswith('event: error\n\ndata: {"error":{"message":"trying API key: ')
    assert ok.choices
    assert later.choices
    openai_schema("ErrorResponse", unknown.value.response.json())
    assert unknown.value.code == "model_not_found"


async def test_no_configured_key_accepts_anything_and_wrong_task_is_refused(sdk: Any) -> None:
    async with running_simulator("privatemode", api_key=None) as sim:
        client = sdk(sim, api_key="whatever")
        assert (await client.chat.completions.create(model=CHAT, messages=HELLO)).choices
        with pytest.raises(openai.BadRequestError):
            await client.chat.completions.create(model=EMBED, messages=HELLO)
        with pytest.raises(openai.BadRequestError):
            await client.embeddings.create(model=CHAT, input="x")
        with pytest.raises(openai.BadRequestError):
            await client.embeddings.create(model=EMBED, input="x", dimensions=4096)
