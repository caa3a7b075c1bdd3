"""The KV suite runs on memory, a single Redis and a real three-master Redis Cluster.

``kv``/``open_store`` follow ``kv_backend`` (all three); ``shared_store`` follows
``shared_backend`` (the two Redis kinds), for what only a store shared by replicas can show.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from kernel.storage.kv import KV, open_kv

OpenKV = Callable[..., KV]


def _target(backend: str, request: pytest.FixtureRequest) -> tuple[str, str]:
    if backend == "memory":
        return "", "p:"
    if backend == "redis":
        url = request.getfixturevalue("redis_url")
        return str(url), str(request.getfixturevalue("redis_prefix"))
    url = request.getfixturevalue("redis_cluster_url")
    return str(url), str(request.getfixturevalue("redis_cluster_prefix"))


@pytest.fixture(params=["memory", "redis", "redis_cluster"])
def kv_backend(request: pytest.FixtureRequest) -> str:
    """Each KV test of this folder runs on memory, Redis and Redis Cluster."""
    return str(request.param)


@pytest.fixture(params=["redis", "redis_cluster"])
def shared_backend(request: pytest.FixtureRequest) -> str:
    """Tests of what replicas share run on Redis and Redis Cluster."""
    return str(request.param)


@pytest.fixture
def kv_target(kv_backend: str, request: pytest.FixtureRequest) -> tuple[str, str]:
    """``(url, prefix)`` of the backend under test (the prefix's keys are deleted afterwards)."""
    return _target(kv_backend, request)


@pytest.fixture
def shared_target(shared_backend: str, request: pytest.FixtureRequest) -> tuple[str, str]:
    """``(url, prefix)`` of the shared backend under test."""
    return _target(shared_backend, request)


async def _opener(target: tuple[str, str]) -> AsyncIterator[OpenKV]:
    url, prefix = target
    opened: list[KV] = []

    def open_one(suffix: str = "") -> KV:
        store = open_kv(url, prefix=prefix + suffix)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        await store.close()


@pytest.fixture
async def open_store(kv_target: tuple[str, str]) -> AsyncIterator[OpenKV]:
    """``open_store(prefix_suffix="")``: a new store on the backend under test (another replica
    on Redis; a separate process's store on memory), closed after the test."""
    async for opener in _opener(kv_target):
        yield opener


@pytest.fixture
async def shared_store(shared_target: tuple[str, str]) -> AsyncIterator[OpenKV]:
    """``shared_store(prefix_suffix="")``: a new replica's store on Redis or Redis Cluster."""
    async for opener in _opener(shared_target):
        yield opener


@pytest.fixture
def kv(open_store: OpenKV) -> KV:
    """The store under test."""
    return open_store()


@pytest.fixture
def raw_redis() -> Callable[[str], Any]:
    """``raw_redis(url)``: a plain redis-py client (RedisCluster for a ``+cluster`` URL)."""

    def connect(url: str) -> Any:
        if "+cluster://" in url:
            return RedisCluster.from_url(url.replace("+cluster://", "://", 1))
        return aioredis.from_url(url)

    return connect
