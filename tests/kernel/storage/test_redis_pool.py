"""A single Redis's pool packs commands with hiredis: the same RESP bytes as redis-py's Python
packer, and commands work end to end on a real Redis."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from kernel.storage.kv_redis import RedisKV
from kernel.storage.redis_pool import hiredis_packing, single_pool

COMMANDS: list[tuple[object, ...]] = [
    ("GET", "k"),
    ("SET", "enclava:é", b"\x00\xffbytes", "PX", 1500),
    ("EVALSHA", "a" * 40, 2, "k1", "k2", 0, -7, 12345678901234567890, "text"),
    ("CONFIG GET", "maxmemory"),
    (b"CLIENT SETNAME", "x"),
    ("SET", "big", b"v" * 20_000),
]


@pytest.mark.parametrize("command", COMMANDS)
def test_packed_bytes_are_redis_pys_own(command: tuple[object, ...]) -> None:
    python = aioredis.Connection()
    packed = hiredis_packing(aioredis.Connection)()
    assert b"".join(packed.pack_command(*command)) == b"".join(python.pack_command(*command))


def test_the_pool_connections_pack_with_hiredis(redis_url: str) -> None:
    pool = single_pool(redis_url, max_connections=4, timeout=1.0, retry=Retry(NoBackoff(), 0))
    assert issubclass(pool.connection_class, aioredis.Connection)
    assert pool.connection_class.__name__ == "HiredisConnection"


async def test_commands_and_scripts_run_on_a_real_redis(redis_url: str, redis_prefix: str) -> None:
    kv = RedisKV(redis_url, prefix=redis_prefix)
    try:
        await kv.set("packed", "é-value".encode(), ttl=30)
        assert await kv.get("packed") == "é-value".encode()
        counts = [await kv.incr_window("window", window=60, amount=3) for _ in range(2)]
        assert [c.count for c in counts] == [3, 6]
    finally:
        await kv.close()
