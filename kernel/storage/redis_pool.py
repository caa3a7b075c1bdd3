"""The connection pool of a single Redis, its commands packed by hiredis (C), not Python.

redis-py's synchronous connections pack commands with hiredis when it is installed; its asyncio
connections always pack them in Python, which profiled at ~4 % of a production chat request's
CPU (the batched admission script carries every step's keys and arguments). The bytes are the
same RESP: this uses redis-py's own ``HiredisRespSerializer``. A cluster client builds its node
connections itself (:mod:`kernel.storage.kv_cluster`) and keeps redis-py's packer.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.connection import HiredisRespSerializer

__all__ = ["HEALTH_CHECK_SECONDS", "hiredis_packing", "single_pool"]

HEALTH_CHECK_SECONDS = 30
"""A connection quiet for longer is PINGed before its next command (redis-py's
``health_check_interval``): one a firewall dropped silently is replaced first."""

_C = TypeVar("_C", bound=AbstractConnection)


def single_pool(
    url: str, *, max_connections: int, timeout: float, retry: Retry
) -> aioredis.BlockingConnectionPool:
    """Connections to the Redis at ``url``: a command waits up to ``timeout`` for a free one."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=HEALTH_CHECK_SECONDS,
        retry=retry,
    )
    pool.connection_class = hiredis_packing(pool.connection_class)
    return pool


def hiredis_packing(connection_class: type[_C]) -> type[_C]:
    """A subclass of ``connection_class`` that packs its commands with hiredis."""
    packer = HiredisRespSerializer()

    def pack_command(self: AbstractConnection, *args: Any) -> list[bytes]:
        return cast("list[bytes]", packer.pack(*args))

    name = f"Hiredis{connection_class.__name__}"
    return cast("type[_C]", type(name, (connection_class,), {"pack_command": pack_command}))
