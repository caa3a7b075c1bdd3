"""``GET /api/v1/providers/status`` and its admin twin, through the real app."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import openai
import pytest
from support.gateway import Gateway
from support.identity import admin_headers
from support.metrics import ENABLED, scrape, total

PRIVATEMODE_ONLY = "gemma-3-27b"
CHAT: Any = [{"role": "user", "content": "hi"}]


async def _status(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> Any:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return {entry["name"]: entry for entry in response.json()["data"]}


async def test_status_shows_health_circuit_attestation_and_last_error(gateway: Gateway) -> None:
    async with gateway(**ENABLED, ENCLAVA_LLM_CIRCUIT_FAILURES="1") as env:
        base = env.base_url.removesuffix("/api/v1")
        async with httpx.AsyncClient(base_url=base) as client:
            key = {"authorization": f"Bearer {env.key}"}
            before = await _status(client, "/api/v1/providers/status", key)
            assert before["privatemode"] == {
                "name": "privatemode",
                "region": before["privatemode"]["region"],
                "healthy": True,
                "circuit": "closed",
                "models": before["privatemode"]["models"],
                "attested_models": before["privatemode"]["attested_models"],
                "last_error": None,
            }
            assert before["redpill"]["attested_models"] == before["redpill"]["models"] > 0
            await env.privatemode.control.set_faults(status=400, fail_times=1)
            with pytest.raises(openai.BadRequestError):
                await env.client().chat.completions.create(model=PRIVATEMODE_ONLY, messages=CHAT)
            for _ in range(100):  # the usage record reaches the sink after it is stored
                after = await _status(client, "/api/v1/providers/status", key)
                if after["privatemode"]["last_error"]:
                    break
                await asyncio.sleep(0.05)
            assert after["privatemode"]["last_error"] == "invalid_request_error"
            await env.privatemode.control.set_faults(status=500)
            with pytest.raises(openai.InternalServerError):
                await env.client().chat.completions.create(model=PRIVATEMODE_ONLY, messages=CHAT)
            after = await _status(client, "/api/v1/providers/status", key)
            assert after["privatemode"]["circuit"] == "open"
            assert after["redpill"]["circuit"] == "closed"
            admin = await admin_headers(env.app, client)
            detail = await _status(client, "/api-internal/v1/providers/status", admin)
            assert detail["privatemode"]["kind"] == "privatemode"
            assert detail["privatemode"]["last_error_at"]
            assert detail["privatemode"]["circuit"] == "open"
            assert "requests_per_minute" in detail["redpill"]
            assert (await client.get("/api-internal/v1/providers/status", headers=key)).is_error
            _, samples = await scrape(base)
    opened = {"provider": "privatemode", "state": "open"}
    assert total(samples, "enclava_provider_circuit_state", **opened) == 1


async def test_internal_status_without_credentials_asks_for_an_access_token(
    gateway: Gateway,
) -> None:
    """The internal surface takes a JWT: its 401 must not tell the operator to send an API key
    (one would be refused there too)."""
    async with gateway(**ENABLED) as env:
        base = env.base_url.removesuffix("/api/v1")
        async with httpx.AsyncClient(base_url=base) as client:
            internal = await client.get("/api-internal/v1/providers/status")
            public = await client.get("/api/v1/providers/status")
    assert internal.status_code == public.status_code == 401
    assert "access token" in internal.json()["error"]["message"]
    assert "API key" not in internal.json()["error"]["message"]
    assert "API key" in public.json()["error"]["message"]
