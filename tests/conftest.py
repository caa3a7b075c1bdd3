"""Shared fixtures: real PostgreSQL and Redis (throwaway database / key prefix per test).

The test command (scripts/test.sh) exports TEST_POSTGRES_DSN and TEST_REDIS_URL, starting
throwaway servers when none run; the defaults are the services this machine kind starts. It also
starts a throwaway three-master Redis Cluster and exports TEST_REDIS_CLUSTER_URL; without it the
cluster tests skip, except under CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

POSTGRES_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_CLUSTER_URL = os.environ.get("TEST_REDIS_CLUSTER_URL", "")


def _pg_url(database: str) -> str:
    base, _, _ = POSTGRES_DSN.rpartition("/")
    return f"{base}/{database}".replace("postgresql://", "postgresql+asyncpg://", 1)


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(POSTGRES_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a fresh PostgreSQL database, dropped after the test."""
    name = f"enclava_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield _pg_url(name)
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'enclava.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each storage-backed test runs on SQLite and on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


async def _redis_cleanup(prefix: str) -> None:
    client = aioredis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A unique key prefix on the real Redis; every key under it is deleted afterwards."""
    prefix = f"enclava-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    await _redis_cleanup(prefix)


@pytest.fixture
def redis_url() -> str:
    return REDIS_URL


def _cluster_url() -> str:
    """TEST_REDIS_CLUSTER_URL as a ``redis+cluster://`` URL; skip without it (fail under CI)."""
    url = REDIS_CLUSTER_URL
    if not url:
        message = "TEST_REDIS_CLUSTER_URL is not set (scripts/test.sh starts a Redis Cluster)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    scheme, sep, rest = url.partition("://")
    if sep and scheme in {"redis", "rediss"}:
        url = f"{scheme}+cluster://{rest}"
    return url


@pytest.fixture
def redis_cluster_url() -> str:
    """``redis+cluster://`` URL of a real three-master Redis Cluster (TEST_REDIS_CLUSTER_URL)."""
    return _cluster_url()


async def _redis_cluster_cleanup(url: str, prefix: str) -> None:
    from redis.asyncio.cluster import RedisCluster

    client = RedisCluster.from_url(url.replace("+cluster://", "://", 1))
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=500)]
        for key in keys:  # one slot each: a multi-key DEL would cross slots
            await client.delete(key)
    finally:
        await client.aclose()


@pytest.fixture
async def redis_cluster_prefix(redis_cluster_url: str) -> AsyncIterator[str]:
    """A unique key prefix on the real Redis Cluster; every key under it is deleted afterwards."""
    prefix = f"enclava-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    await _redis_cluster_cleanup(redis_cluster_url, prefix)


@pytest.fixture(params=["memory", "redis"])
def kv_backend(request: pytest.FixtureRequest) -> str:
    """Each KV-backed test runs on the memory backend and on Redis."""
    return str(request.param)


@pytest.fixture
def make_settings(tmp_path: Path, redis_url: str):  # type: ignore[no-untyped-def]
    """Build Settings for one app instance: ``make_settings(database_url, kv="memory"|prefix)``.

    Builtin plugins' sections are declared, so ``ENCLAVA_<PLUGIN>_<KEY>=...`` keywords work. Every
    app of one test shares a JWT secret, as replicas must (each has its own data dir); pass
    ``ENCLAVA_AUTH_JWT_SECRET=""`` to use the secret generated in the data dir instead.
    """
    from kernel.plugins import PluginManager
    from kernel.settings import Settings, load_settings

    schemas = PluginManager(load_entry_points=False).settings_schemas()
    jwt_secret = secrets.token_urlsafe(48)

    def build(
        database_url: str = "",
        *,
        redis_prefix: str | None = None,
        data_dir: Path | None = None,
        **env: str,
    ) -> Settings:
        values = {
            "ENCLAVA_DATA_DIR": str(data_dir or tmp_path / f"data-{uuid.uuid4().hex[:6]}"),
            "ENCLAVA_DATABASE_URL": database_url,
            "ENCLAVA_PLUGINS_RESYNC_SECONDS": "3600",
            "ENCLAVA_PRIVATEMODE_ENABLED": "false",  # no proxy on :8080; tests opt in
            "ENCLAVA_AUTH_JWT_SECRET": jwt_secret,
        }
        if redis_prefix is not None:
            values["ENCLAVA_REDIS_URL"] = redis_url
            values["ENCLAVA_REDIS_PREFIX"] = redis_prefix
        values.update(env)
        return load_settings(env=values, plugin_schemas=schemas)

    return build


@pytest.fixture
def running():  # type: ignore[no-untyped-def]
    """``async with running(app) as client``: lifespan and requests on the test's own loop."""
    import httpx
    from litestar import Litestar

    @contextlib.asynccontextmanager
    async def run(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with (
            app.lifespan(),
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
        ):
            yield client

    return run
