"""Liveness and readiness through the real app, on every store combination."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from support.tcp_proxy import TcpProxy

from kernel.app import create_app


async def test_live_and_ready_on_embedded_and_shared_stores(
    make_settings: Any, running: Any, database_url: str, kv_backend: str, redis_prefix: str
) -> None:
    prefix = redis_prefix if kv_backend == "redis" else None
    app = create_app(make_settings(database_url, redis_prefix=prefix))
    async with running(app) as client:
        assert (await client.get("/health/live")).json() == {"status": "ok"}
        ready = await client.get("/health/ready")
        assert ready.status_code == 200
        assert ready.json() == {
            "status": "ok",
            "stores": {"sql": None, "kv": None, "vectors": None, "files": None},
            "providers": {},
        }


async def test_ready_names_the_store_that_went_away(
    make_settings: Any, running: Any, redis_url: str, redis_prefix: str, postgres_url: str
) -> None:
    redis = urlsplit(redis_url)
    redis_proxy = TcpProxy(redis.hostname or "127.0.0.1", redis.port or 6379)
    await redis_proxy.start()
    settings = make_settings(
        postgres_url,
        ENCLAVA_REDIS_URL=f"redis://127.0.0.1:{redis_proxy.port}/0",
        ENCLAVA_REDIS_PREFIX=redis_prefix,
    )
    app = create_app(settings)
    async with running(app) as client:
        assert (await client.get("/health/ready")).status_code == 200
        await redis_proxy.stop()
        ready = await client.get("/health/ready")
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "unavailable: kv"
        assert body["stores"]["kv"]
        assert body["stores"]["sql"] is None
        assert "127.0.0.1" not in ready.text
        assert (await client.get("/health/live")).status_code == 200
