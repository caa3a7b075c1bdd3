"""Every 503 tells the client when to retry: ``Retry-After`` on a store outage and when no
provider can serve (found by the chaos test, tests/e2e/test_chaos.py: 503s without it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from support.gateway import SHARED, gateway_factory
from support.identity import admin_headers
from support.tcp_proxy import TcpProxy

from kernel.app import create_app
from kernel.errors import ServiceUnavailableError, StoreUnavailableError


def test_a_503_error_carries_retry_after_by_default() -> None:
    assert StoreUnavailableError("kv").headers["retry-after"] == "1"
    assert ServiceUnavailableError("busy", retry_after=2.5).headers["retry-after"] == "3"


async def test_redis_outage_is_a_503_with_retry_after(
    make_settings: Callable[..., Any], sqlite_url: str, redis_url: str, redis_prefix: str
) -> None:
    target = urlsplit(redis_url)
    if target.scheme != "redis" or "@" in target.netloc:
        pytest.skip("the proxy forwards plain TCP without credentials only")
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    await proxy.start()
    url = target._replace(netloc=f"127.0.0.1:{proxy.port}").geturl()
    app = create_app(make_settings(sqlite_url, redis_prefix=redis_prefix, ENCLAVA_REDIS_URL=url))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    try:
        async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            admin = await admin_headers(app, c)
            made = await c.post("/api-internal/v1/api-keys", headers=admin, json={"name": "k"})
            key = {"authorization": f"Bearer {made.json()['key']}"}
            await proxy.stop()
            refused = await c.get("/api/v1/models", headers=key)
    finally:
        await proxy.stop()
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"]["code"] == "store_unavailable"
    assert refused.headers["retry-after"] == "1"


async def test_no_available_provider_is_a_503_with_retry_after(
    make_settings: Callable[..., Any], sqlite_url: str
) -> None:
    gateway = gateway_factory(make_settings, sqlite_url)
    async with gateway(ENCLAVA_LLM_CIRCUIT_FAILURES="1") as env:
        for sim in (env.privatemode, env.redpill):
            await sim.control.set_faults(status=503, paths=["/v1/chat"])
        body = {"model": SHARED, "messages": [{"role": "user", "content": "hi"}]}
        headers = {"authorization": f"Bearer {env.key}"}
        async with httpx.AsyncClient(base_url=env.base_url, timeout=20) as client:
            answers = [
                await client.post("/chat/completions", json=body, headers=headers) for _ in range(3)
            ]
    busy = [a for a in answers if a.status_code == 503]
    assert busy, [a.text for a in answers]
    assert {a.json()["error"]["code"] for a in busy} == {"no_available_provider"}
    assert all(a.headers.get("retry-after") for a in busy)
