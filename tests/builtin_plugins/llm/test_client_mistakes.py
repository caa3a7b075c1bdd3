"""Client mistakes are 4xx (the SDK does not retry them); unreachable providers are a named 503."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import openai
import pytest
from support.gateway import EMBEDDING, REDPILL_ONLY, Gateway, _api_key, provider_env
from support.server import serving

from builtin_plugins.simulators.testing import running_simulator
from kernel.app import create_app

CHAT = [{"role": "user", "content": "hello"}]


async def test_embeddings_with_a_chat_model_is_a_400(gateway: Gateway) -> None:
    async with gateway() as env:
        with pytest.raises(openai.BadRequestError) as refused:
            await env.client().embeddings.create(model=REDPILL_ONLY, input="hi")
        assert refused.value.code == "model_not_supported_for_endpoint"
        assert refused.value.param == "model"
        assert "/chat/completions" in refused.value.message


async def test_chat_with_an_embedding_model_is_a_400(gateway: Gateway) -> None:
    async with gateway() as env:
        with pytest.raises(openai.BadRequestError) as refused:
            await env.client().chat.completions.create(model=EMBEDDING, messages=CHAT)  # type: ignore[arg-type]
        assert refused.value.code == "model_not_supported_for_endpoint"
        assert "/embeddings" in refused.value.message


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_provider_is_a_503_naming_it(
    make_settings: Any, sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"http://127.0.0.1:{_closed_port()}/v1"
    async with running_simulator("redpill") as rp:
        settings = make_settings(
            sqlite_url,
            **provider_env("redpill", rp),
            ENCLAVA_PRIVATEMODE_ENABLED="true",
            ENCLAVA_PRIVATEMODE_URL=dead,
            ENCLAVA_PRIVATEMODE_CONNECT_TIMEOUT="1",
        )
        app = create_app(settings)
        async with serving(app) as base:
            key = await _api_key(app, base)
            async with openai.AsyncOpenAI(
                base_url=f"{base}/api/v1", api_key=key, max_retries=0
            ) as client:
                with pytest.raises(openai.InternalServerError) as refused:
                    await client.chat.completions.create(model="gemma-3-27b", messages=CHAT)
            assert refused.value.status_code == 503
            assert refused.value.code == "provider_unreachable"
            assert "privatemode: cannot list its models" in refused.value.message
            assert "redpill" not in refused.value.message
            assert "127.0.0.1" not in refused.value.message
            async with httpx.AsyncClient(base_url=base) as http:
                ready = await http.get("/health/ready")
            assert ready.status_code == 200
            assert ready.json()["providers"] == {
                "privatemode": "cannot list its models (connection refused)",
                "redpill": None,
            }
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"privatemode: cannot list models at {dead}/models (connection refused)" in logged
    assert "ENCLAVA_PRIVATEMODE_URL" in logged
    assert "--demo" in logged
