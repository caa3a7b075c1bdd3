"""Redis Cluster: a real three-master cluster (TEST_REDIS_CLUSTER_URL), reached through
``redis.cluster`` or a ``redis+cluster://`` URL; multi-key scripts stay in one slot; pub/sub
crosses nodes; an unreachable or misconfigured cluster fails closed."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
import pytest
import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot

from kernel.errors import ConfigError, StoreUnavailableError
from kernel.preflight import preflight
from kernel.settings import RedisSettings, load_settings
from kernel.storage.kv import KV, Reservation, hash_tag, open_kv, tagged
from kernel.storage.kv_redis import RedisKV
from kernel.storage.stores import open_configured_kv

OpenKV = Callable[..., KV]


def _raw(url: str) -> RedisCluster:
    return RedisCluster.from_url(url.replace("+cluster://", "://", 1))


def _node_url(url: str) -> str:
    return url.replace("+cluster://", "://", 1)


async def _owners(raw: RedisCluster, keys: list[str]) -> set[str]:
    await raw.initialize()
    return {raw.get_node_from_key(key).name for key in keys}


def test_hash_tag_follows_redis_rules() -> None:
    assert hash_tag("p:usage:budget:{u:7}:b1:2026-12") == "u:7"
    assert hash_tag("{}:a") == "{}:a"  # an empty tag hashes the whole key
    assert hash_tag("a{b") == "a{b"
    assert hash_tag("a{b}{c}") == "b"
    assert tagged("u:7", "b1", "day") == "{u:7}:b1:day"
    with pytest.raises(ValueError, match="braces"):
        tagged("u{7}", "x")


async def test_the_cluster_has_three_masters(redis_cluster_url: str) -> None:
    raw = _raw(redis_cluster_url)
    try:
        info = await raw.cluster_info()
        assert info["cluster_state"] == "ok"
        assert int(info["cluster_size"]) == 3
        assert len(raw.get_primaries()) == 3
    finally:
        await raw.aclose()


async def test_reserve_runs_on_every_master_with_one_slot_per_call(
    redis_cluster_url: str, redis_cluster_prefix: str
) -> None:
    store = open_kv(redis_cluster_url, prefix=redis_cluster_prefix)
    raw = _raw(redis_cluster_url)
    try:
        keys: list[str] = []
        for user in range(30):
            pair = [tagged(f"u:{user}", "budget", name) for name in ("own", "key")]
            items = [Reservation(key=key, amount=5, limit=10) for key in pair]
            assert (await store.reserve(items)).allowed
            full = [redis_cluster_prefix + key for key in pair]
            assert len({key_slot(key.encode()) for key in full}) == 1
            keys += full
        # The same script ran on all three masters: the layout spreads users over the cluster.
        assert len(await _owners(raw, keys)) == 3
    finally:
        await raw.aclose()
        await store.close()


async def test_the_server_refuses_a_script_across_slots(redis_cluster_url: str) -> None:
    # What the one-tag rule prevents: Redis Cluster answers CROSSSLOT to such a script.
    raw = _raw(redis_cluster_url)
    try:
        await raw.initialize()
        node = raw.get_node_from_key("{u:1}:a")
        other = next(f"k{n}" for n in range(100) if raw.get_node_from_key(f"k{n}") is node)
        assert key_slot(other.encode()) != key_slot(b"{u:1}:a")
        with pytest.raises(redis.exceptions.ResponseError, match="same slot"):  # CROSSSLOT
            await raw.execute_command("EVAL", "return 1", 2, "{u:1}:a", other, target_nodes=node)
    finally:
        await raw.aclose()


async def test_cross_slot_reserve_is_refused_before_sending(
    redis_cluster_url: str, redis_cluster_prefix: str
) -> None:
    store = open_kv(redis_cluster_url, prefix=redis_cluster_prefix)
    try:
        items = [Reservation(key="{u:1}:a", amount=1), Reservation(key="{u:2}:b", amount=1)]
        with pytest.raises(ValueError, match="hash tag"):
            await store.reserve(items)
        assert await store.get("{u:1}:a") is None
    finally:
        await store.close()


async def test_publish_on_any_node_reaches_subscribers(
    redis_cluster_url: str, redis_cluster_prefix: str
) -> None:
    store = open_kv(redis_cluster_url, prefix=redis_cluster_prefix)
    raw = _raw(redis_cluster_url)
    queue: asyncio.Queue[bytes] = asyncio.Queue()

    async def handler(message: bytes) -> None:
        queue.put_nowait(message)

    try:
        await store.subscribe("events", handler)
        await raw.initialize()
        for node in raw.get_primaries():
            direct = aioredis.Redis(host=node.host, port=node.port)
            try:
                await direct.publish(f"{redis_cluster_prefix}events", node.name.encode())
            finally:
                await direct.aclose()
        received = {await asyncio.wait_for(queue.get(), 2.0) for _ in range(3)}
        assert received == {node.name.encode() for node in raw.get_primaries()}
    finally:
        await raw.aclose()
        await store.close()


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_unreachable_cluster_fails_closed_fast() -> None:
    port = _closed_port()
    store = open_kv(f"redis+cluster://:hunter2@127.0.0.1:{port}/0", prefix="p:")
    operations: list[Callable[[], Any]] = [
        lambda: store.get("k"),
        lambda: store.throttle("k", limit=1, period=1),
        lambda: store.reserve([Reservation(key="{a}:x", amount=1)]),
        lambda: store.publish("c", b"m"),
        store.ping,
    ]
    try:
        for operation in operations:
            started = time.monotonic()
            with pytest.raises(StoreUnavailableError) as info:
                await operation()
            assert time.monotonic() - started < 5
            for secret in ("hunter2", str(port), "redis"):
                assert secret not in info.value.reason
    finally:
        await store.close()


async def test_a_single_redis_is_not_a_cluster(redis_url: str) -> None:
    store = open_kv(redis_url, prefix="p:", cluster=True)
    try:
        with pytest.raises(StoreUnavailableError):
            await store.ping()
    finally:
        await store.close()


async def test_cluster_flag_and_scheme_open_the_cluster_client(
    redis_cluster_url: str, redis_cluster_prefix: str
) -> None:
    by_scheme = open_kv(redis_cluster_url, prefix=redis_cluster_prefix)
    by_flag = open_kv(_node_url(redis_cluster_url), prefix=redis_cluster_prefix, cluster=True)
    try:
        for store in (by_scheme, by_flag):
            assert isinstance(store, RedisKV)
            assert isinstance(store._client, RedisCluster)
            await store.ping()
        await by_flag.set("k", b"v")
        assert await by_scheme.get("k") == b"v"
    finally:
        await by_scheme.close()
        await by_flag.close()


def test_cluster_settings_are_validated() -> None:
    with pytest.raises(ConfigError, match="braces"):
        open_kv("redis+cluster://127.0.0.1:7000", prefix="{app}:")
    with pytest.raises(ConfigError, match="unix"):
        open_kv("unix:///run/redis.sock", prefix="p:", cluster=True)
    for bad in (
        {"prefix": "a{b}:"},
        {"cluster": True},
        {"cluster": True, "url": "unix:///run/redis.sock"},
    ):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(bad, RedisSettings)
    assert msgspec.convert({"url": "redis://h:1", "cluster": True}, RedisSettings).cluster


def test_settings_reach_the_cluster_and_preflight_checks_it(
    redis_cluster_url: str, redis_url: str, tmp_path: Path
) -> None:
    def settings(**env: str) -> Any:
        return load_settings(env={"ENCLAVA_DATA_DIR": str(tmp_path / "data"), **env})

    node = _node_url(redis_cluster_url)
    good = settings(ENCLAVA_REDIS_URL=node, ENCLAVA_REDIS_CLUSTER="true")
    assert good.kernel.redis.cluster is True
    preflight(good)
    preflight(settings(ENCLAVA_REDIS_URL=redis_cluster_url))

    async def client_kind() -> type:
        store = open_configured_kv(good)
        try:
            assert isinstance(store, RedisKV)
            return type(store._client)
        finally:
            await store.close()

    assert asyncio.run(client_kind()) is RedisCluster
    with pytest.raises(ConfigError, match="redis"):
        settings(ENCLAVA_REDIS_CLUSTER="true")  # no url
    not_a_cluster = settings(ENCLAVA_REDIS_URL=redis_url, ENCLAVA_REDIS_CLUSTER="true")
    with pytest.raises(StoreUnavailableError, match=r"redis\.cluster"):
        preflight(not_a_cluster)
    assert urlsplit(redis_cluster_url).scheme == "redis+cluster"
