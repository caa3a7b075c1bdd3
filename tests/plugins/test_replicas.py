"""A toggle through the internal API takes effect on a second replica (shared SQL + Redis)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from support.identity import admin_headers

from kernel.app import create_app

from .conftest import Install

ADMIN = "/api-internal/v1/wasm-plugins"
HELLO = "/api-internal/v1/plugins/hello/hello"


async def _until(client: httpx.AsyncClient, headers: dict[str, str], status: int) -> None:
    for _ in range(200):
        if (await client.get(HELLO, headers=headers)).status_code == status:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the second replica never answered {status}")


async def test_enable_approve_disable_reach_the_other_replica(
    make_settings: Any, database_url: str, redis_prefix: str, install: Install, running: Any
) -> None:
    env = install("hello")
    first = create_app(make_settings(database_url, redis_prefix=redis_prefix, **env))
    second = create_app(make_settings(database_url, redis_prefix=redis_prefix, **env))
    async with running(first) as one, running(second) as two:
        admin = await admin_headers(first, one)
        assert (await two.get(HELLO, headers=admin)).status_code == 404
        enabled = (await one.post(f"{ADMIN}/hello/enable", headers=admin)).json()
        digest = {"permissions_digest": enabled["permissions_digest"]}
        await one.post(f"{ADMIN}/hello/approve", headers=admin, json=digest)
        await _until(two, admin, 200)
        await one.post(f"{ADMIN}/hello/disable", headers=admin)
        await _until(two, admin, 404)
