"""The RedPill simulator's OpenAI-compatible surface through the official ``openai`` SDK."""

from __future__ import annotations

import base64
import struct
from typing import Any

import httpx
import openai
import pytest

from builtin_plugins.simulators.keys import TEST_API_KEY
from builtin_plugins.simulators.testing import running_simulator

CHAT = "phala/qwen-2.5-7b-instruct"
EMBED = "qwen/qwen3-embedding-8b"
AUTH = {"Authorization": f"Bearer {TEST_API_KEY}"}
HELLO = [{"role": "user", "content": "is this private"}]


async def test_catalog_carries_pricing_tee_flags_and_providers() -> None:
    async with running_simulator("redpill") as sim, httpx.AsyncClient() as raw:
        models = (await raw.get(f"{sim.base_url}/models")).json()
        phala = (await raw.get(f"{sim.base_url}/models/phala")).json()
        embedding = (await raw.get(f"{sim.base_url}/embeddings/models")).json()
    assert "object" not in models  # RedPill's list is {"data": [...]}
    by_id = {m["id"]: m for m in models["data"]}
    entry = by_id[CHAT]
    assert entry["is_tee"] is True
    assert entry["providers"] == ["phala"]
    assert entry["pricing"] == {"prompt": "0.00000004", "completion": "0.0000001"}
    assert isinstance(entry["context_length"], int)
    assert "tools" in entry["supported_parameters"]
    assert by_id["openai/gpt-4o"]["is_tee"] is False
    assert by_id["moonshotai/kimi-k2.5"]["is_tee"]
    assert by_id["moonshotai/kimi-k2.5"]["providers"] == ["chutes"]
    assert EMBED not in by_id
    assert {m["id"] for m in phala["data"]} == {CHAT, "phala/gpt-oss-120b"}
    assert embedding["object"] == "list"
    assert embedding["data"][0]["output_modalities"] == ["embeddings"]


async def test_chat_stream_and_embeddings_match_openai_schema(sdk: Any, openai_schema: Any) -> None:
    async with running_simulator("redpill") as sim, httpx.AsyncClient(headers=AUTH) as raw:
        plain = await raw.post(
            f"{sim.base_url}/chat/completions", json={"model": CHAT, "messages": HELLO}
        )
        stream = await sdk(sim).chat.completions.create(
            model=CHAT, messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
        chunks = [c async for c in stream]
        embedded = await raw.post(
            f"{sim.base_url}/embeddings", json={"model": EMBED, "input": ["a", "b c"]}
        )
        encoded = await sdk(sim).embeddings.create(model=EMBED, input="a", encoding_format="base64")
    openai_schema("CreateChatCompletionResponse", plain.json())
    assert plain.headers["x-receipt-id"].startswith("rcpt-")
    assert plain.headers["x-e2ee-applied"] == "false"
    assert plain.json()["id"].startswith("chatcmpl-")
    for chunk in chunks:
        openai_schema("CreateChatCompletionStreamResponse", chunk.model_dump(exclude_unset=True))
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].id.startswith("chatcmpl-")
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        "Simulated reply to: is this private"
    )
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 3
    openai_schema("CreateEmbeddingResponse", embedded.json())
    assert "id" not in embedded.json()
    assert len(embedded.json()["data"][0]["embedding"]) == 4096
    decoded = struct.unpack("<4096f", base64.b64decode(str(encoded.data[0].embedding)))
    assert list(decoded) == embedded.json()["data"][0]["embedding"]


async def test_non_tee_models_are_served_and_logged(sdk: Any) -> None:
    async with running_simulator("redpill") as sim:
        answer = await sdk(sim).chat.completions.create(model="openai/gpt-4o", messages=HELLO)
        models = [r.model for r in await sim.control.requests("/v1/chat")]
    assert answer.choices[0].message.content
    assert models == ["openai/gpt-4o"]


async def test_errors_use_redpills_envelope(sdk: Any, openai_schema: Any) -> None:
    async with running_simulator("redpill") as sim, httpx.AsyncClient() as raw:
        with pytest.raises(openai.AuthenticationError) as wrong:
            await sdk(sim, api_key="nope").chat.completions.create(model=CHAT, messages=HELLO)
        missing = await raw.post(
            f"{sim.base_url}/chat/completions", json={"model": CHAT, "messages": HELLO}
        )
        with pytest.raises(openai.NotFoundError) as unknown:
            await sdk(sim).chat.completions.create(model="phala/nope", messages=HELLO)
        with pytest.raises(openai.BadRequestError) as bad:
            await sdk(sim).chat.completions.create(model=CHAT, messages=[])
        with pytest.raises(openai.InternalServerError) as refused:
            await sdk(sim).chat.completions.create(
                model="openai/gpt-4o",
                messages=HELLO,
                extra_body={"provider": {"aci_verified": True}},
            )
        broken = await raw.post(f"{sim.base_url}/chat/completions", content=b"{", headers=AUTH)
    for error in (wrong, unknown, bad, refused):
        openai_schema("ErrorResponse", error.value.response.json())
    assert wrong.value.response.json()["error"] == {
        "message": "Invalid API key provided",
        "type": "authentication_error",
        "code": None,
        "param": None,
    }
    assert missing.status_code == 401
    assert unknown.value.response.json()["error"]["type"] == "model_not_found"
    assert refused.value.status_code == 503
    assert refused.value.response.json()["error"]["type"] == "upstream_verification_failed"
    assert broken.status_code == 400
    assert broken.json()["error"]["type"] == "invalid_request_error"


async def test_no_api_key_mode_serves_anyone() -> None:
    async with running_simulator("redpill", api_key=None) as sim, httpx.AsyncClient() as raw:
        response = await raw.post(
            f"{sim.base_url}/chat/completions", json={"model": CHAT, "messages": HELLO}
        )
    assert response.status_code == 200
