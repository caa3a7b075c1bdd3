"""Usage tests' gateway: Privatemode and RedPill simulators, API keys and the usage plugin, one or
more replicas over the same database and KV (used by tests/builtin_plugins/usage, fixture
``stack``).

``async with stack(replicas=2, **ENCLAVA_env) as env``: ``env.apps[i]`` run their lifespan on
the test's loop and are reached over ASGI (``env.client(i)``, ``env.openai(i)``); ``env.key`` is
an API key of ``env.user_id``; ``env.user`` and ``env.admin`` are internal JWT headers.
Fixtures ``stack`` (SQLite+memory and PostgreSQL+Redis) and ``cluster_stack`` (PostgreSQL and a
real three-master Redis Cluster) are imported by the conftest or test modules that use them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import os
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import httpx
import msgspec
import openai
import pytest
from litestar import Litestar
from sqlalchemy import select

from builtin_plugins.simulators.testing import SimulatorHandle, running_simulator
from builtin_plugins.usage.models import usage_records
from builtin_plugins.usage.runtime import UsageRuntime
from kernel.app import create_app
from kernel.dependencies import kernel_of
from kernel.plugins import PluginManager
from support.gateway import SHARED, TrustSimulator, provider_env
from support.identity import admin_headers, create_user, login

PASSWORD = "correct horse battery staple"
BASE = "http://testserver"
PRIVATEMODE_PRICES = (
    '{"privatemode": {"gpt-oss-120b": {"input": "0.2", "output": "0.8", "currency": "EUR"},'
    ' "qwen3-embedding-4b": {"input": "0.02", "output": "0", "currency": "EUR"}}}'
)


class Env(msgspec.Struct):
    apps: list[Litestar]
    privatemode: SimulatorHandle
    redpill: SimulatorHandle
    key: str = ""
    key_id: str = ""
    user_id: str = ""
    user: dict[str, str] = {}
    admin: dict[str, str] = {}

    def runtime(self, index: int = 0) -> UsageRuntime:
        return UsageRuntime.of(kernel_of(self.apps[index]))

    def client(self, index: int = 0) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.apps[index], client=("127.0.0.1", 50000))
        return httpx.AsyncClient(transport=transport, base_url=BASE, timeout=30)

    def openai(self, index: int = 0, key: str | None = None) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            base_url=f"{BASE}/api/v1",
            api_key=key or self.key,
            max_retries=0,
            http_client=self.client(index),
        )

    def bearer(self, key: str | None = None) -> dict[str, str]:
        return {"authorization": f"Bearer {key or self.key}"}

    async def flush(self) -> None:
        """Write every queued usage record on every replica."""
        for index in range(len(self.apps)):
            await self.runtime(index).recorder.flush()


def _provider_env(kind: str, sim: SimulatorHandle, **fields: str) -> dict[str, str]:
    slower = {"READ_TIMEOUT": "5", "FIRST_BYTE_TIMEOUT": "5", "IDLE_CHUNK_TIMEOUT": "2"}
    return provider_env(kind, sim, **slower, MAX_RETRIES="0", **fields)


async def _identity(env: Env) -> None:
    app = env.apps[0]
    async with env.client() as client:
        env.admin = await admin_headers(app, client)
        email = f"user-{os.urandom(4).hex()}@example.com"
        env.user_id = await create_user(app, email, PASSWORD)
        env.user = await login(client, email, PASSWORD)
        created = await client.post(
            "/api-internal/v1/api-keys", headers=env.user, json={"name": "usage"}
        )
    assert created.status_code == 201, created.text
    env.key, env.key_id = created.json()["key"], created.json()["id"]


async def _until_discovered(env: Env) -> None:
    for index in range(len(env.apps)):
        async with env.client(index) as client:
            for _ in range(500):
                models = await client.get("/api/v1/models", headers=env.bearer())
                ids = {m["id"]: m for m in models.json().get("data", [])}
                if SHARED in ids and len(ids[SHARED]["providers"]) == 2:
                    break
                await asyncio.sleep(0.02)
            else:
                raise AssertionError("providers never discovered their models")
        await env.runtime(index).sync_prices()


Stack = Callable[..., contextlib.AbstractAsyncContextManager[Env]]


def stack_factory(make_settings: Any, database_url: str, prefix: str | None) -> Stack:
    """``async with run(replicas=1, **ENCLAVA_env) as env`` over one database and KV."""
    pepper = base64.b64encode(os.urandom(32)).decode()

    @contextlib.asynccontextmanager
    async def run(
        *, replicas: int = 1, plugins: Sequence[object] = (), **env: str
    ) -> AsyncIterator[Env]:
        if replicas > 1 and prefix is None:
            pytest.skip("replicas share budgets through Redis only")
        async with (
            running_simulator("privatemode") as pm,
            running_simulator("redpill") as rp,
            contextlib.AsyncExitStack() as exits,
        ):
            values = {
                **_provider_env("privatemode", pm),
                **_provider_env("redpill", rp, ALIASES=f'{{"{SHARED}": "phala/gpt-oss-120b"}}'),
                "ENCLAVA_API_KEYS_PEPPER": pepper,
                "ENCLAVA_USAGE_PRICES": PRIVATEMODE_PRICES,
                "ENCLAVA_USAGE_CONVERSION_RATES": '{"USD": "0.5"}',
                "ENCLAVA_USAGE_FLUSH_INTERVAL_SECONDS": "0.05",
                "ENCLAVA_LLM_BACKOFF_INITIAL_SECONDS": "0.01",
                "ENCLAVA_LLM_BACKOFF_MAX_SECONDS": "0.05",
                **env,
            }
            apps = [
                create_app(
                    make_settings(database_url, redis_prefix=prefix, **values),
                    plugins=PluginManager(extra=[TrustSimulator(), *plugins]),
                )
                for _ in range(replicas)
            ]
            for app in apps:
                await exits.enter_async_context(app.lifespan())
            result = Env(apps, pm, rp)
            await _identity(result)
            await _until_discovered(result)
            yield result

    return run


MESSAGES = [{"role": "user", "content": "Say hello in three words."}]


async def records(env: Env) -> list[dict[str, Any]]:
    """Every stored record, oldest first, after flushing every replica's queue."""
    await env.flush()
    async with env.runtime().kernel.stores.db.session() as session:
        rows = (await session.execute(select(usage_records).order_by(usage_records.c.id))).all()
    return [dict(row._mapping) for row in rows]


async def create_budget(env: Env, **fields: Any) -> dict[str, Any]:
    """A budget on ``env``'s key unless ``owner_type``/``owner_id`` say otherwise."""
    body = {"owner_type": "api_key", "owner_id": env.key_id, "name": "test", **fields}
    async with env.client() as client:
        created = await client.post("/api-internal/v1/budgets", headers=env.admin, json=body)
    assert created.status_code == 201, created.text
    return dict(created.json())


async def budget_status(env: Env, index: int = 0) -> dict[str, Any]:
    async with env.client(index) as client:
        response = await client.get("/api/v1/budget/status", headers=env.bearer())
    assert response.status_code == 200, response.text
    return dict(response.json())


async def chat(env: Env, index: int = 0, **fields: Any) -> Any:
    """One non-streamed chat through replica ``index``; the raw httpx response."""
    body = {"model": "gpt-oss-120b", "messages": MESSAGES, "max_tokens": 8, **fields}
    async with env.client(index) as client:
        return await client.post("/api/v1/chat/completions", headers=env.bearer(), json=body)


@pytest.fixture(params=["sqlite+memory", "postgresql+redis"])
def stack(request: pytest.FixtureRequest, make_settings: Any) -> Stack:
    """``async with stack(replicas=1, **ENCLAVA_env) as env``."""
    sql = "sqlite_url" if request.param.startswith("sqlite") else "postgres_url"
    database_url = str(request.getfixturevalue(sql))
    prefix = request.getfixturevalue("redis_prefix") if request.param.endswith("redis") else None
    return stack_factory(make_settings, database_url, prefix)


@pytest.fixture
def cluster_stack(
    make_settings: Any, postgres_url: str, redis_cluster_url: str, redis_cluster_prefix: str
) -> Stack:
    """``async with cluster_stack(replicas=1, **ENCLAVA_env) as env`` on Redis Cluster."""
    run = stack_factory(make_settings, postgres_url, redis_cluster_prefix)
    return functools.partial(run, ENCLAVA_REDIS_URL=redis_cluster_url)
