"""Across replicas: two apps share one Redis (or Redis Cluster) bucket exactly; an unreachable
Redis fails closed."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

import pytest
from support.tcp_proxy import TcpProxy

KEY = {"authorization": "Bearer key:k1"}


async def test_two_apps_share_one_bucket_exactly(
    build_app: Any, running: Any, database_url: str
) -> None:
    apps = [
        build_app("redis", database_url=database_url, ENCLAVA_RATE_LIMIT_PUBLIC_PER_MINUTE="20")
        for _ in range(2)
    ]
    async with running(apps[0]) as first, running(apps[1]) as second:
        clients = (first, second)
        answers = await asyncio.gather(
            *(clients[i % 2].get("/api/v1/ping", headers=KEY) for i in range(21))
        )
    assert sorted(r.status_code for r in answers) == [200] * 20 + [429]
    remaining = sorted(int(r.headers["x-ratelimit-remaining"]) for r in answers)
    assert remaining == [0, *range(20)]


async def test_two_apps_share_one_bucket_on_redis_cluster(
    build_app: Any, running: Any, redis_cluster_url: str, redis_cluster_prefix: str
) -> None:
    env = {
        "ENCLAVA_REDIS_URL": redis_cluster_url,
        "ENCLAVA_REDIS_PREFIX": redis_cluster_prefix,
        "ENCLAVA_RATE_LIMIT_PUBLIC_PER_MINUTE": "20",
    }
    apps = [build_app(**env) for _ in range(2)]
    async with running(apps[0]) as first, running(apps[1]) as second:
        clients = (first, second)
        answers = await asyncio.gather(
            *(clients[i % 2].get("/api/v1/ping", headers=KEY) for i in range(21))
        )
    assert sorted(r.status_code for r in answers) == [200] * 20 + [429]


async def test_unreachable_redis_fails_closed(build_app: Any, running: Any, redis_url: str) -> None:
    target = urlsplit(redis_url)
    if target.scheme != "redis":
        pytest.skip("the proxy forwards plain TCP only")
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    await proxy.start()
    userinfo = target.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{proxy.port}" if userinfo else f"127.0.0.1:{proxy.port}"
    app = build_app("redis", ENCLAVA_REDIS_URL=target._replace(netloc=netloc).geturl())
    try:
        async with running(app) as client:
            assert (await client.get("/api/v1/ping", headers=KEY)).status_code == 200
            await proxy.stop()
            for path, method in [("/api/v1/ping", "GET"), ("/api-internal/v1/login", "POST")]:
                refused = await client.request(method, path, headers=KEY)
                assert refused.status_code == 503, refused.text
                error = refused.json()["error"]
                assert (error["type"], error["code"]) == (
                    "service_unavailable",
                    "store_unavailable",
                )
                assert "x-ratelimit-remaining" not in refused.headers
                assert "127.0.0.1" not in refused.text
            await proxy.start()
            assert (await client.get("/api/v1/ping", headers=KEY)).status_code == 200
    finally:
        await proxy.stop()
