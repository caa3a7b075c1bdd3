"""The KV seam: every behaviour on memory, Redis and Redis Cluster, plus Redis-only atomicity and
failure modes (single Redis and cluster)."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from support.tcp_proxy import TcpProxy

from kernel.errors import ConfigError, StoreUnavailableError
from kernel.storage.kv import KV, MessageHandler, Reservation, open_kv
from kernel.storage.kv_memory import MemoryKV
from kernel.storage.kv_redis import RedisKV

WAIT = 2.0
OpenKV = Callable[..., KV]


def _collector() -> tuple[asyncio.Queue[bytes], MessageHandler]:
    queue: asyncio.Queue[bytes] = asyncio.Queue()

    async def handler(message: bytes) -> None:
        queue.put_nowait(message)

    return queue, handler


async def _next(queue: asyncio.Queue[bytes]) -> bytes:
    return await asyncio.wait_for(queue.get(), timeout=WAIT)


def _with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


async def test_attributes_match_backend(kv: KV, kv_backend: str) -> None:
    assert kv.name == ("memory" if kv_backend == "memory" else "redis")
    assert kv.shared_across_processes is (kv_backend != "memory")


async def test_redis_replies_are_parsed_by_hiredis(redis_url: str, redis_prefix: str) -> None:
    """``redis[hiredis]`` is a dependency: replies are parsed in C, not by redis-py's Python
    parser (about 5-15 % of a production request's CPU, issue #19)."""
    store = open_kv(redis_url, prefix=redis_prefix)
    try:
        assert isinstance(store, RedisKV)
        await store.ping()
        client: Any = store._client
        parsers = {type(c._parser).__name__ for c in client.connection_pool._available_connections}
        assert parsers == {"_AsyncHiredisParser"}
    finally:
        await store.close()


async def test_get_set_roundtrip(kv: KV) -> None:
    assert await kv.get("missing") is None
    await kv.set("k", b"v1")
    assert await kv.get("k") == b"v1"
    await kv.set("k", b"\x00\xffbinary")
    assert await kv.get("k") == b"\x00\xffbinary"


async def test_ttl_expires(kv: KV) -> None:
    await kv.set("short", b"x", ttl=0.05)
    await kv.set("forever", b"y")
    assert await kv.get("short") == b"x"
    await asyncio.sleep(0.12)
    assert await kv.get("short") is None
    assert await kv.get("forever") == b"y"


async def test_set_without_ttl_clears_previous_ttl(kv: KV) -> None:
    await kv.set("k", b"a", ttl=0.05)
    await kv.set("k", b"b")
    await asyncio.sleep(0.12)
    assert await kv.get("k") == b"b"


async def test_delete_reports_existence(kv: KV) -> None:
    await kv.set("k", b"v")
    assert await kv.delete("k") is True
    assert await kv.delete("k") is False
    assert await kv.get("k") is None
    await kv.set("gone", b"v", ttl=0.02)
    await asyncio.sleep(0.08)
    assert await kv.delete("gone") is False


async def test_incr_window_counts(kv: KV) -> None:
    assert (await kv.incr_window("c", window=10)).count == 1
    assert (await kv.incr_window("c", window=10)).count == 2
    assert (await kv.incr_window("c", window=10, amount=5)).count == 7
    assert (await kv.incr_window("other", window=10)).count == 1


async def test_incr_window_reset_in_within_window(kv: KV) -> None:
    first = await kv.incr_window("c", window=10)
    assert 0 < first.reset_in <= 10
    await asyncio.sleep(0.05)
    second = await kv.incr_window("c", window=10)
    assert 0 < second.reset_in < first.reset_in, "later increments must not extend the window"


async def test_incr_window_resets_after_window(kv: KV) -> None:
    await kv.incr_window("c", window=0.05)
    assert (await kv.incr_window("c", window=0.05)).count == 2
    await asyncio.sleep(0.12)
    fresh = await kv.incr_window("c", window=0.05)
    assert fresh.count == 1
    assert 0 < fresh.reset_in <= 0.05


async def test_incr_window_gives_untimed_key_a_window(kv: KV) -> None:
    await kv.set("c", b"4")
    result = await kv.incr_window("c", window=5)
    assert result.count == 5
    assert 0 < result.reset_in <= 5
    assert await kv.get("c") == b"5"


async def test_compare_and_set_absent(kv: KV) -> None:
    assert await kv.compare_and_set("k", expected=None, value=b"first") is True
    assert await kv.compare_and_set("k", expected=None, value=b"second") is False
    assert await kv.get("k") == b"first"


async def test_compare_and_set_expected_and_mismatch(kv: KV) -> None:
    await kv.set("k", b"v1")
    assert await kv.compare_and_set("k", expected=b"v1", value=b"v2") is True
    assert await kv.get("k") == b"v2"
    assert await kv.compare_and_set("k", expected=b"v1", value=b"v3") is False
    assert await kv.get("k") == b"v2"
    assert await kv.compare_and_set("missing", expected=b"v1", value=b"x") is False
    assert await kv.get("missing") is None


async def test_compare_and_set_ttl(kv: KV) -> None:
    assert await kv.compare_and_set("k", expected=None, value=b"v", ttl=0.05) is True
    await asyncio.sleep(0.12)
    assert await kv.get("k") is None
    assert await kv.compare_and_set("k", expected=None, value=b"again") is True


async def test_publish_reaches_every_subscriber(kv: KV) -> None:
    queue_a, handler_a = _collector()
    queue_b, handler_b = _collector()
    sub_a = await kv.subscribe("events", handler_a)
    sub_b = await kv.subscribe("events", handler_b)
    await kv.publish("events", b"one")
    await kv.publish("events", b"two")
    assert [await _next(queue_a), await _next(queue_a)] == [b"one", b"two"]
    assert [await _next(queue_b), await _next(queue_b)] == [b"one", b"two"]
    await sub_a.close()
    await sub_b.close()


async def test_publish_stays_on_its_channel(kv: KV) -> None:
    queue, handler = _collector()
    sub = await kv.subscribe("a", handler)
    await kv.publish("b", b"elsewhere")
    await kv.publish("a", b"here")
    assert await _next(queue) == b"here"
    assert queue.empty()
    await sub.close()


async def test_closed_subscription_stops_delivery(kv: KV) -> None:
    queue_closed, handler_closed = _collector()
    queue_open, handler_open = _collector()
    closed = await kv.subscribe("events", handler_closed)
    still_open = await kv.subscribe("events", handler_open)
    await closed.close()
    await kv.publish("events", b"after-close")
    assert await _next(queue_open) == b"after-close"
    await asyncio.sleep(0.05)
    assert queue_closed.empty()
    await still_open.close()


async def test_failing_handler_keeps_subscription(kv: KV, caplog: pytest.LogCaptureFixture) -> None:
    received: asyncio.Queue[bytes] = asyncio.Queue()

    async def handler(message: bytes) -> None:
        if message == b"boom":
            raise RuntimeError("handler bug")
        received.put_nowait(message)

    sub = await kv.subscribe("events", handler)
    await kv.publish("events", b"boom")
    await kv.publish("events", b"ok")
    assert await _next(received) == b"ok"
    assert "handler on" in caplog.text
    assert "failed" in caplog.text
    await sub.close()


async def test_close_stops_subscriptions(kv_backend: str, open_store: OpenKV) -> None:
    store = open_store()
    queue, handler = _collector()
    await store.subscribe("events", handler)
    await store.close()
    publisher = store if kv_backend == "memory" else open_store()
    await publisher.publish("events", b"after-close")
    await asyncio.sleep(0.05)
    assert queue.empty()


async def test_ping(kv: KV) -> None:
    await kv.ping()


async def test_open_kv_picks_backend(redis_url: str, redis_prefix: str) -> None:
    memory = open_kv("", prefix="p:")
    assert isinstance(memory, MemoryKV)
    await memory.close()
    remote = open_kv(redis_url, prefix=redis_prefix)
    assert isinstance(remote, RedisKV)
    await remote.close()


def test_open_kv_rejects_unknown_scheme() -> None:
    with pytest.raises(ConfigError, match="'memcached'"):
        open_kv("memcached://127.0.0.1:11211", prefix="p:")


def test_open_kv_invalid_redis_url_hides_password() -> None:
    with pytest.raises(ConfigError) as info:
        open_kv("redis://:hunter2@127.0.0.1:notaport/0", prefix="p:")
    assert "hunter2" not in str(info.value)


async def test_incr_window_atomic_across_replicas(shared_store: OpenKV) -> None:
    replicas = [shared_store() for _ in range(2)]
    calls = [replicas[i % 2].incr_window("shared", window=30) for i in range(200)]
    results = await asyncio.gather(*calls)
    assert sorted(r.count for r in results) == list(range(1, 201))
    assert all(0 < r.reset_in <= 30 for r in results)


async def test_prefix_isolates_keys_and_channels(
    shared_store: OpenKV, shared_target: tuple[str, str], raw_redis: Callable[[str], Any]
) -> None:
    url, prefix = shared_target
    left = shared_store("left:")
    right = shared_store("right:")
    raw = raw_redis(url)
    try:
        await left.set("k", b"left-value")
        assert await right.get("k") is None
        assert await raw.get(f"{prefix}left:k") == b"left-value"
        queue, handler = _collector()
        await right.subscribe("events", handler)
        await left.publish("events", b"not-for-right")
        await right.publish("events", b"for-right")
        assert await _next(queue) == b"for-right"
        assert queue.empty()
    finally:
        await raw.aclose()


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_unreachable_redis_fails_closed_fast() -> None:
    port = _closed_port()
    store = RedisKV(f"redis://:hunter2@127.0.0.1:{port}/0", prefix="p:")
    _, handler = _collector()
    operations = [
        lambda: store.get("k"),
        lambda: store.set("k", b"v", ttl=1),
        lambda: store.incr_window("k", window=1),
        lambda: store.compare_and_set("k", expected=None, value=b"v"),
        lambda: store.publish("c", b"m"),
        lambda: store.subscribe("c", handler),
        store.ping,
        lambda: store.reserve_many([[Reservation(key="k", amount=1)]]),  # the script line
    ]
    try:
        for operation in operations:
            started = time.monotonic()
            with pytest.raises(StoreUnavailableError) as info:
                await operation()
            assert time.monotonic() - started < 3
            message = str(info.value)
            assert info.value.store == "kv"
            for secret in ("hunter2", "127.0.0.1", str(port), "redis://"):
                assert secret not in message
    finally:
        await store.close()


async def _kill_clients(redis_url: str, client_name: str) -> int:
    """Kill the named client's connections (on every node of a cluster)."""
    if "+cluster://" in redis_url:
        cluster = RedisCluster.from_url(redis_url.replace("+cluster://", "://", 1))
        try:
            await cluster.initialize()
            nodes = [f"redis://{node.host}:{node.port}/0" for node in cluster.get_primaries()]
        finally:
            await cluster.aclose()
        return sum([await _kill_clients(node, client_name) for node in nodes])
    raw = aioredis.from_url(redis_url)
    try:
        clients = await raw.client_list()
        ids = [c["id"] for c in clients if c.get("name") == client_name]
        for client_id in ids:
            await raw.client_kill_filter(_id=client_id)
        return len(ids)
    finally:
        await raw.aclose()


async def test_subscription_survives_killed_connection(shared_target: tuple[str, str]) -> None:
    url, prefix = shared_target
    client_name = f"enclava-test-{uuid.uuid4().hex[:8]}"
    store = open_kv(_with_query(url, f"client_name={client_name}"), prefix=prefix)
    try:
        queue, handler = _collector()
        await store.subscribe("events", handler)
        await store.publish("events", b"before")
        assert await _next(queue) == b"before"

        assert await _kill_clients(url, client_name) >= 1

        # Messages published while the listener reconnects are lost, so keep publishing.
        async def publish_until_delivered() -> bytes:
            while True:
                await store.publish("events", b"after")
                try:
                    return await asyncio.wait_for(queue.get(), timeout=0.2)
                except TimeoutError:
                    continue

        assert await asyncio.wait_for(publish_until_delivered(), timeout=10) == b"after"
    finally:
        await store.close()


async def test_survives_redis_restart(redis_url: str, redis_prefix: str) -> None:
    target = urlsplit(redis_url)
    if target.scheme != "redis":
        pytest.skip("the restart proxy forwards plain TCP only")
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    await proxy.start()
    userinfo = target.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{proxy.port}" if userinfo else f"127.0.0.1:{proxy.port}"
    store = RedisKV(target._replace(netloc=netloc).geturl(), prefix=redis_prefix)
    try:
        queue, handler = _collector()
        await store.subscribe("events", handler)
        await store.set("k", b"v")

        await proxy.stop()
        with pytest.raises(StoreUnavailableError):
            await store.get("k")
        await asyncio.sleep(0.5)  # the listener fails to reconnect and backs off
        await proxy.start()

        async def publish_until_delivered() -> bytes:
            while True:
                await store.publish("events", b"after-restart")
                try:
                    return await asyncio.wait_for(queue.get(), timeout=0.2)
                except TimeoutError:
                    continue

        assert await asyncio.wait_for(publish_until_delivered(), timeout=10) == b"after-restart"
        assert await store.get("k") == b"v"
    finally:
        await store.close()
        await proxy.stop()
