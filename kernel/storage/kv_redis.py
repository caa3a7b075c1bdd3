"""Redis KV backend: the store replicas share for windows, budgets, toggles and revocations.

Counters, throttles, compare-and-set, reservations and admissions run as Lua scripts
(:mod:`kernel.storage.kv_lua`) so they stay atomic across replicas.
Any failure to reach Redis becomes :class:`~kernel.errors.StoreUnavailableError` so callers fail
closed.

With ``cluster`` the client is redis-py's RedisCluster (:mod:`kernel.storage.kv_cluster`): every
single-key command and script goes to the node owning the key's slot, a reservation needs its
keys under one hash tag (checked before sending), admissions and batched reservations send one
script per slot concurrently, and pub/sub uses a node chosen by the channel's slot (Redis
Cluster forwards PUBLISH to every node, so any node's subscribers hear it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, cast

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from kernel.errors import StoreUnavailableError
from kernel.storage.kv import (
    AdmitStep,
    Admitted,
    MessageHandler,
    Reservation,
    Reserve,
    Reserved,
    StepResult,
    Subscription,
    Throttle,
    WindowCount,
    gcra_interval_us,
    require_one_slot,
    step_passed,
)
from kernel.storage.kv_batch import ScriptBatch
from kernel.storage.kv_cluster import (
    ClusterGate,
    admit_by_slot,
    cluster_client,
    reserve_many_by_slot,
)
from kernel.storage.kv_lua import (
    ADMIT_LUA,
    BATCH_LUA,
    CAS_LUA,
    INCR_WINDOW_LUA,
    RESERVE_LUA,
    THROTTLE_LUA,
    decode_batch,
    decode_reserved,
    decode_steps,
    decode_throttle,
    encode_group,
    encode_steps,
    reserve_args,
    ttl_ms,
)
from kernel.storage.redis_line import RedisLine
from kernel.storage.redis_pool import single_pool

__all__ = ["RedisKV"]

_log = logging.getLogger(__name__)

_UNREACHABLE = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    OSError,
    # A cluster that cannot be reached, does not cover every slot, or says CLUSTERDOWN.
    redis.exceptions.RedisClusterException,
    redis.exceptions.ClusterError,
)
_BACKOFF_MIN = 0.1
_BACKOFF_MAX = 5.0
_POLL_INTERVAL = 5.0


@contextlib.contextmanager
def _store_errors() -> Iterator[None]:
    """Turn "Redis did not answer" into StoreUnavailableError with a reason free of the URL."""
    try:
        yield
    except (redis.exceptions.TimeoutError, TimeoutError) as exc:
        raise StoreUnavailableError("kv", reason="timed out") from exc
    except _UNREACHABLE as exc:
        raise StoreUnavailableError("kv", reason="connection failed") from exc


class _Errors:
    """``async with`` form of :func:`_store_errors`, one shared stateless instance: no
    generator per command on the hot path."""

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, (redis.exceptions.TimeoutError, TimeoutError)):
            raise StoreUnavailableError("kv", reason="timed out") from exc
        if isinstance(exc, _UNREACHABLE):
            raise StoreUnavailableError("kv", reason="connection failed") from exc


_ERRORS = _Errors()


async def _discard(pubsub: PubSub) -> None:
    with contextlib.suppress(redis.exceptions.RedisError, OSError):
        await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated


class _RedisSubscription:
    """A dedicated PubSub connection and the task that reads it, resubscribing after failures."""

    def __init__(self, kv: RedisKV, channel: str, handler: MessageHandler) -> None:
        self._kv = kv
        self._channel = channel
        self._handler = handler
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Subscribe now (raising StoreUnavailableError) and deliver from a background task."""
        pubsub = await self._open()
        self._task = asyncio.create_task(
            self._run(pubsub), name=f"kv-redis-subscription:{id(self)}"
        )

    async def _open(self) -> PubSub:
        pubsub = self._kv._client.pubsub()
        try:
            with _store_errors():
                await self._kv._ready()  # a cluster picks the node from its slot map
                await pubsub.subscribe(self._channel)
                # Wait for the confirmation so a publish right after subscribe() is not lost.
                async with asyncio.timeout(self._kv._timeout):
                    while (await pubsub.get_message(timeout=self._kv._timeout)) is None:
                        pass
        except BaseException:
            await _discard(pubsub)
            raise
        return pubsub

    async def _run(self, pubsub: PubSub | None) -> None:
        backoff = _BACKOFF_MIN
        while True:
            try:
                if pubsub is None:
                    pubsub = await self._open()
                    _log.info("KV subscription resubscribed after a connection failure")
                    backoff = _BACKOFF_MIN
                await self._pump(pubsub)
            except (StoreUnavailableError, *_UNREACHABLE) as exc:
                _log.warning(
                    "KV subscription lost its connection (%s); retrying in %.1fs",
                    type(exc).__name__,
                    backoff,
                )
                if pubsub is not None:
                    await _discard(pubsub)
                    pubsub = None
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
            except asyncio.CancelledError:
                if pubsub is not None:
                    await _discard(pubsub)
                raise

    async def _pump(self, pubsub: PubSub) -> None:
        while True:
            # A bounded wait lets redis-py send its periodic health-check PING.
            message: dict[str, Any] | None = await pubsub.get_message(timeout=_POLL_INTERVAL)
            if message is None or message["type"] != "message":
                continue
            try:
                await self._handler(message["data"])
            except Exception:
                _log.exception("KV subscription handler on %r failed", self._channel)

    async def close(self) -> None:
        """Stop delivery and release the connection."""
        self._kv._subscriptions.discard(self)
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
            await asyncio.wait([self._task])
        elif self._task is not None:
            self._task.cancel()


class RedisKV:
    """The :class:`~kernel.storage.kv.KV` interface on Redis, every key and channel prefixed."""

    name: str = "redis"
    shared_across_processes: bool = True

    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        cluster: bool = False,
        max_connections: int = 64,
        timeout: float = 2.0,
    ) -> None:
        self._prefix = prefix
        self._timeout = timeout
        # One quick retry on a broken connection (stale after a Redis restart); timeouts are
        # not retried so a dead Redis costs one ``timeout``, not several.
        retry = Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,))
        self._pool: aioredis.BlockingConnectionPool | None = None
        self._line: RedisLine | None = None
        self._client: aioredis.Redis | RedisCluster
        self._gate: ClusterGate | None = None
        if cluster:
            client = cluster_client(
                url, max_connections=max_connections, timeout=timeout, retry=retry
            )
            self._gate = ClusterGate(client, max_connections, timeout)
            self._client = client
        else:
            self._pool = single_pool(
                url, max_connections=max_connections, timeout=timeout, retry=retry
            )
            self._client = aioredis.Redis(connection_pool=self._pool)
            pool = self._pool
            self._line = RedisLine(
                lambda: pool.connection_class(**pool.connection_kwargs), timeout=timeout
            )
        self._incr_window = self._client.register_script(INCR_WINDOW_LUA)
        self._cas = self._client.register_script(CAS_LUA)
        self._throttle = self._client.register_script(THROTTLE_LUA)
        self._reserve = self._client.register_script(RESERVE_LUA)
        self._admit = self._client.register_script(ADMIT_LUA)
        self._batch_script = self._client.register_script(BATCH_LUA)
        # A single Redis coalesces concurrent admissions and settlements into one script call.
        self._batch = ScriptBatch(self._send_batch) if self._gate is None else None
        self._subscriptions: set[_RedisSubscription] = set()

    def _command(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Around each command: Redis errors become StoreUnavailableError; on a cluster, wait
        for a free connection first (:class:`~kernel.storage.kv_cluster.ClusterGate`)."""
        return _ERRORS if self._gate is None else self._cluster_command(self._gate)

    @contextlib.asynccontextmanager
    async def _cluster_command(self, gate: ClusterGate) -> AsyncIterator[None]:
        with _store_errors():
            async with gate.command():
                yield

    async def _ready(self) -> None:
        if isinstance(self._client, RedisCluster):
            await self._client.initialize()  # a no-op once the slot map is known

    async def get(self, key: str) -> bytes | None:
        """The value, or None when absent or expired."""
        async with self._command():
            value = await self._client.get(self._prefix + key)
        return cast("bytes | None", value)  # decode_responses is off: never str

    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        """Store ``value``; ``ttl`` in seconds, None keeps it until deleted."""
        px = None if ttl is None else ttl_ms(ttl)
        async with self._command():
            await self._client.set(self._prefix + key, value, px=px)

    async def delete(self, key: str) -> bool:
        """Remove ``key``; True when it existed."""
        async with self._command():
            removed: int = await self._client.delete(self._prefix + key)
        return removed > 0

    async def incr_window(self, key: str, *, window: float, amount: int = 1) -> WindowCount:
        """Atomically add ``amount``; the first increment starts a window of ``window`` seconds."""
        async with self._command():
            count, left_ms = await self._incr_window(
                keys=[self._prefix + key], args=[amount, ttl_ms(window)]
            )
        return WindowCount(count=int(count), reset_in=int(left_ms) / 1000)

    async def throttle(self, key: str, *, limit: int, period: float, cost: int = 1) -> Throttle:
        """Atomically take ``cost`` from a GCRA bucket of ``limit`` per ``period`` seconds (burst =
        ``limit``); refused requests take nothing. ValueError unless ``1 <= cost <= limit``."""
        interval = gcra_interval_us(limit=limit, period=period, cost=cost)
        async with self._command():
            answer = await self._throttle(keys=[self._prefix + key], args=[interval, limit, cost])
        return decode_throttle(answer, limit)

    async def compare_and_set(
        self, key: str, *, expected: bytes | None, value: bytes, ttl: float | None = None
    ) -> bool:
        """Atomically set ``value`` if the current value equals ``expected`` (None = absent)."""
        args = [
            "1" if expected is None else "0",
            b"" if expected is None else expected,
            value,
            0 if ttl is None else ttl_ms(ttl),
        ]
        async with self._command():
            swapped = await self._cas(keys=[self._prefix + key], args=args)
        return int(swapped) == 1

    async def reserve(self, items: Sequence[Reservation]) -> Reserved:
        """Atomically add every item's amount to its counter, or none of them when one would
        exceed its limit (one Lua script, so replicas never interleave)."""
        if not items:
            return Reserved(allowed=True, totals=())
        require_one_slot([item.key for item in items])
        async with self._command():
            answer = await self._reserve(
                keys=[self._prefix + item.key for item in items], args=reserve_args(items)
            )
        return decode_reserved(answer)

    async def admit(self, steps: Sequence[AdmitStep]) -> Admitted:
        """Run ``steps`` in order until one refuses: one script on a single Redis; on a
        cluster one per slot, sent together (:func:`~kernel.storage.kv_cluster.admit_by_slot`)."""
        if self._gate is not None:
            encode_steps(steps, self._prefix, stop=True)  # ValueError before any group runs
            return await admit_by_slot(steps, self._prefix, self._run_steps, self.reserve_many)
        results = await self._run_steps(steps, True)
        if results and not step_passed(results[-1]):
            return Admitted(results=tuple(results), refused=len(results) - 1)
        return Admitted(results=tuple(results))

    async def reserve_many(self, batches: Sequence[Sequence[Reservation]]) -> list[Reserved]:
        """:meth:`reserve` for each batch, independently: one script on a single Redis, one
        per slot on a cluster."""
        if self._gate is not None:
            for batch in batches:
                require_one_slot([item.key for item in batch])
            return await reserve_many_by_slot(batches, self._prefix, self._run_steps)
        results = await self._run_steps([Reserve(tuple(batch)) for batch in batches], False)
        return [r for r in results if isinstance(r, Reserved)]

    async def _run_steps(self, steps: Sequence[AdmitStep], stop: bool) -> list[StepResult]:
        """``steps`` as one admission script (one slot on a cluster); on a single Redis
        batched with the concurrent ones (:class:`~kernel.storage.kv_batch.ScriptBatch`)."""
        encode = encode_steps if self._batch is None else encode_group
        keys, args = encode(steps, self._prefix, stop=stop)  # ValueError before sending
        if not steps:
            return []
        if self._batch is not None:
            return decode_steps(steps, await self._batch.run(keys, args))
        async with self._command():
            answers = await self._admit(keys=keys, args=args)
        return decode_steps(steps, answers)

    async def _send_batch(self, keys: list[str], args: list[int | str]) -> Sequence[Any]:
        """EVALSHA straight away on the dedicated line (a single Redis only,
        :class:`~kernel.storage.redis_line.RedisLine`); EVAL, which loads it, on NOSCRIPT."""
        line = cast("RedisLine", self._line)
        async with _ERRORS:
            try:
                answer = await line.call("EVALSHA", self._batch_script.sha, len(keys), *keys, *args)
            except redis.exceptions.NoScriptError:
                answer = await line.call("EVAL", BATCH_LUA, len(keys), *keys, *args)
        return decode_batch(answer)

    async def publish(self, channel: str, message: bytes) -> None:
        """Deliver ``message`` to every subscriber of ``channel`` on every replica."""
        async with self._command():
            await self._client.publish(self._prefix + channel, message)

    async def subscribe(self, channel: str, handler: MessageHandler) -> Subscription:
        """Call ``handler`` for each message on ``channel``; messages sent while reconnecting
        are lost (Redis pub/sub keeps no backlog)."""
        subscription = _RedisSubscription(self, self._prefix + channel, handler)
        await subscription.start()
        self._subscriptions.add(subscription)
        return subscription

    async def ping(self) -> None:
        """Raise StoreUnavailableError unless Redis answers (a cluster: unless a node says its
        state is ``ok``, every slot served)."""
        async with self._command():
            if isinstance(self._client, RedisCluster):
                info: dict[str, Any] = await self._client.cluster_info()
                state = str(info.get("cluster_state", "unknown"))
                if state != "ok":
                    raise StoreUnavailableError("kv", reason=f"cluster state is {state}")
            else:
                await self._client.ping()

    async def close(self) -> None:
        """Stop every subscription and close the connection pool."""
        for subscription in list(self._subscriptions):
            await subscription.close()
        if self._batch is not None:
            await self._batch.close()
        if self._line is not None:
            self._line.close()
        await self._client.aclose()
        if self._pool is not None:
            await self._pool.aclose()
