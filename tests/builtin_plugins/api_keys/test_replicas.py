"""Two replicas sharing PostgreSQL and Redis: a change made on one stops a key the other has
cached at once (KV pub/sub), long before the cache TTL would."""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from support.identity import create_user, login

from kernel.app import create_app
from kernel.plugins import PluginManager

API = "/api-internal/v1/api-keys"
WHOAMI = "/api/v1/probe/whoami"
MODELS = "/api/v1/probe/models"
PASSWORD = "a long enough password 42"


def replicas(make_settings: Any, postgres_url: str, redis_prefix: str, probe: Any) -> list[Any]:
    """Two apps with one database, one Redis prefix and one pepper; an hour-long cache TTL."""
    pepper = base64.b64encode(os.urandom(32)).decode()
    apps = []
    for _ in range(2):
        settings = make_settings(
            postgres_url,
            redis_prefix=redis_prefix,
            ENCLAVA_API_KEYS_PEPPER=pepper,
            ENCLAVA_API_KEYS_CACHE_TTL_SECONDS="3600",
        )
        plugins = PluginManager(extra=[probe], load_entry_points=False)
        apps.append(create_app(settings, plugins=plugins))
    return apps


async def first_status(
    request: Callable[[], Awaitable[httpx.Response]], wanted: int, *, within: float = 2.0
) -> float:
    """Seconds until ``request`` answers ``wanted`` (pub/sub delivery), failing after ``within``."""
    start = time.monotonic()
    while True:
        response = await request()
        elapsed = time.monotonic() - start
        if response.status_code == wanted:
            return elapsed
        assert elapsed < within, f"still {response.status_code} after {elapsed:.2f}s"
        await asyncio.sleep(0.005)


async def test_changes_on_one_replica_reach_the_others_cache_at_once(
    make_settings: Any, running: Any, postgres_url: str, redis_prefix: str, probe: Any
) -> None:
    app_a, app_b = replicas(make_settings, postgres_url, redis_prefix, probe)
    async with running(app_a) as a, running(app_b) as b:
        await create_user(app_a, "alice@example.com", PASSWORD)
        alice = await login(a, "alice@example.com", PASSWORD)
        created = (await a.post(API, json={"name": "shared"}, headers=alice)).json()
        url, key = f"{API}/{created['id']}", {"X-API-Key": created["key"]}
        assert (await b.get(MODELS, headers=key)).status_code == 200  # cached on B

        await a.patch(url, json={"scopes": ["chat.completions"]}, headers=alice)
        assert await first_status(lambda: b.get(MODELS, headers=key), 403) < 1.0

        assert (await b.get(WHOAMI, headers=key)).status_code == 200  # cached again
        assert (await a.post(f"{url}/revoke", headers=alice)).status_code == 200
        assert await first_status(lambda: b.get(WHOAMI, headers=key), 401) < 1.0

        await a.post(f"{url}/restore", headers=alice)
        assert (await b.get(WHOAMI, headers=key)).status_code == 200
        renewed = (await a.post(f"{url}/regenerate", headers=alice)).json()
        assert await first_status(lambda: b.get(WHOAMI, headers=key), 401) < 1.0
        response = await b.get(WHOAMI, headers={"X-API-Key": renewed["key"]})
        assert response.json()["id"] == created["id"]
