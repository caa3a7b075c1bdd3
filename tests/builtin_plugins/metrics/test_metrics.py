"""``GET /metrics`` through the real app, after real chat calls against the provider simulators."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import httpx
import pytest
from support.gateway import SHARED, Gateway
from support.metrics import ENABLED, TOKEN, Samples, scrape, scrape_with, total
from support.usage import Stack, chat, create_budget

from kernel.app import create_app
from kernel.errors import ConfigError
from kernel.observe import NO_METER

PROMPT = "the-secret-prompt-4711 tell me a story"


async def scrape_when(base: str, name: str, at_least: float, **labels: str) -> tuple[str, Samples]:
    """Usage records reach the sink after they are stored: scrape until ``name`` has counted."""
    for _ in range(200):
        text, samples = await scrape(base)
        if total(samples, name, **labels) >= at_least:
            return text, samples
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} {labels} never appeared")


async def test_scrape_after_chats_has_every_family(gateway: Gateway) -> None:
    began = time.time()
    async with gateway(**ENABLED) as env:
        client = env.client()
        messages: Any = [{"role": "user", "content": PROMPT}]
        await client.chat.completions.create(model=SHARED, messages=messages)
        stream = await client.chat.completions.create(
            model=SHARED, messages=messages, stream=True, stream_options={"include_usage": True}
        )
        async for _ in stream:
            pass
        base = env.base_url.removesuffix("/api/v1")
        text, samples = await scrape_when(
            base, "enclava_model_requests_total", 2, provider="privatemode"
        )
    chat = {"surface": "public", "route": "/api/v1/chat/completions", "method": "POST"}
    assert total(samples, "enclava_http_requests_total", **chat, status="200") == 2
    assert total(samples, "enclava_http_request_duration_seconds_count", **chat) == 2
    assert total(samples, "enclava_http_request_duration_seconds_sum", **chat) > 0
    model = {"provider": "privatemode", "model": SHARED}
    assert total(samples, "enclava_model_requests_total", **model, kind="chat") == 2
    assert total(samples, "enclava_upstream_duration_seconds_count", **model) == 2
    assert total(samples, "enclava_time_to_first_token_seconds_count", **model) >= 1
    assert total(samples, "enclava_tokens_total", **model, type="prompt") > 0
    assert total(samples, "enclava_tokens_total", **model, type="completion") > 0
    assert total(samples, "enclava_spend_total", **model, currency="EUR") > 0
    assert total(samples, "enclava_provider_healthy", provider="privatemode") == 1
    assert total(samples, "enclava_provider_healthy", provider="redpill") == 1
    closed = {"provider": "privatemode", "state": "closed"}
    assert total(samples, "enclava_provider_circuit_state", **closed) == 1
    assert total(samples, "enclava_provider_circuit_state", provider="privatemode") == 1
    attested = total(samples, "enclava_provider_attested_models", provider="redpill")
    assert attested >= 1
    assert total(samples, "enclava_attestation_verified", provider="redpill") == attested
    verified = {
        labels["model"]
        for labels, value in samples["enclava_attestation_verified"]
        if labels["provider"] == "redpill" and value == 1
    }
    expiries = {
        labels["model"]: value
        for labels, value in samples["enclava_attestation_expiry_timestamp_seconds"]
        if labels["provider"] == "redpill"
    }
    assert verified
    assert verified <= set(expiries)
    # verified during this test, good for at most twice the attestation TTL
    assert all(began < expiries[model] < time.time() + 31 * 86400 for model in verified)
    # labels never carry the prompt, the API key or a raw path
    assert PROMPT not in text
    assert env.key not in text
    assert env.key[:12] not in text


async def test_token_is_required_and_compared(gateway: Gateway) -> None:
    async with gateway(**ENABLED) as env, httpx.AsyncClient() as client:
        url = env.base_url.removesuffix("/api/v1") + "/metrics"
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": TOKEN}):
            response = await client.get(url, headers=headers)
            assert response.status_code == 401, headers
            assert response.json()["error"]["code"] == "invalid_api_key"
            assert response.headers["www-authenticate"].startswith("Bearer")
        ok = await client.get(url, headers={"authorization": f"bearer {TOKEN}"})
        assert ok.status_code == 200


async def test_disabled_metrics_answer_404_and_observe_nothing(
    make_settings: Any, running: Any, sqlite_url: str
) -> None:
    app = create_app(make_settings(sqlite_url))
    async with running(app) as client:
        assert app.state.kernel.components.request_observers == ()
        assert app.state.kernel.components.meter is NO_METER
        sinks = app.state.kernel.components.usage_sinks
        assert [sink.name for sink in sinks] == ["provider-errors"]  # provider status only
        response = await client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 404


def test_enabled_without_a_token_refuses_to_start(make_settings: Any, sqlite_url: str) -> None:
    with pytest.raises(ConfigError, match="token"):
        make_settings(sqlite_url, ENCLAVA_METRICS_ENABLED="true")
    with pytest.raises(ConfigError, match="token"):
        make_settings(sqlite_url, ENCLAVA_METRICS_ENABLED="true", ENCLAVA_METRICS_TOKEN="short")


def test_a_token_with_surrounding_whitespace_refuses_to_start(
    make_settings: Any, sqlite_url: str
) -> None:
    """Scrapers trim their credentials file and the route trims what is sent: such a token
    could never be matched, so every scrape would get 401. Say so at boot instead."""
    padded = TOKEN + "\n"
    with pytest.raises(ConfigError, match="whitespace") as caught:
        make_settings(sqlite_url, ENCLAVA_METRICS_ENABLED="true", ENCLAVA_METRICS_TOKEN=padded)
    assert TOKEN not in str(caught.value)


async def test_rate_limit_refusals_are_counted(gateway: Gateway) -> None:
    async with gateway(**ENABLED, ENCLAVA_RATE_LIMIT_PUBLIC_PER_MINUTE="2") as env:
        async with httpx.AsyncClient(base_url=env.base_url) as client:
            headers = {"authorization": f"Bearer {env.key}"}
            statuses = [(await client.get("/models", headers=headers)).status_code for _ in "abcd"]
        assert statuses.count(429) == 2
        _, samples = await scrape(env.base_url.removesuffix("/api/v1"))
    assert total(samples, "enclava_refusals_total", reason="rate_limit") == 2
    route = {"surface": "public", "route": "/api/v1/models", "status": "429"}
    assert total(samples, "enclava_http_requests_total", **route) == 2


async def _random_models(base_url: str, key: str, count: int) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        headers = {"authorization": f"Bearer {key}"}
        for _ in range(count):
            body = {
                "model": f"model-{secrets.token_hex(8)}",
                "messages": [{"role": "user", "content": "hi"}],
            }
            response = await client.post("/chat/completions", json=body, headers=headers)
            assert response.status_code == 404


async def _scrape_count(base: str, count: int) -> tuple[str, Samples]:
    for _ in range(200):
        text, samples = await scrape(base)
        if total(samples, "enclava_http_requests_total", status="404") >= count:
            return text, samples
        await asyncio.sleep(0.05)
    raise AssertionError("requests not counted")


async def test_random_model_names_keep_the_series_bounded(gateway: Gateway) -> None:
    """1,000 random model names add no series beyond what the first 10 added."""
    async with gateway(**ENABLED, ENCLAVA_RATE_LIMIT_PUBLIC_PER_MINUTE="100000") as env:
        base = env.base_url.removesuffix("/api/v1")
        await scrape(base)  # the scrape route's own series exist from here on
        await _random_models(env.base_url, env.key, 10)
        await asyncio.sleep(0.3)  # usage records (if any) reach the sink
        _, first = await _scrape_count(base, 10)
        await _random_models(env.base_url, env.key, 990)
        await asyncio.sleep(0.3)
        text, after = await _scrape_count(base, 1000)
    assert "model-" not in text
    assert sorted(after) == sorted(first)
    assert {n: len(v) for n, v in after.items()} == {n: len(v) for n, v in first.items()}
    chat_404 = {"route": "/api/v1/chat/completions", "status": "404"}
    assert total(after, "enclava_http_requests_total", **chat_404) == 1000


async def test_budget_refusals_are_counted(stack: Stack) -> None:
    async with stack(**ENABLED) as env:
        await create_budget(env, owner_type="user", owner_id=env.user_id, limit_micros=0)
        refused = await chat(env)
        async with env.client() as client:
            _, samples = await scrape_with(client)
    assert refused.status_code == 402, refused.text
    assert total(samples, "enclava_refusals_total", reason="budget") == 1
    route = {"surface": "public", "route": "/api/v1/chat/completions", "status": "402"}
    assert total(samples, "enclava_http_requests_total", **route) == 1
