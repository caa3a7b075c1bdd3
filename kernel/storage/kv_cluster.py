"""Redis Cluster for the Redis KV backend: the client, the connection gate, and admission steps
spread over slots.

A script may only touch keys of one slot, so :meth:`~kernel.storage.kv.KV.admit` and
:meth:`~kernel.storage.kv.KV.reserve_many` group their steps by slot and send the groups
concurrently: one round trip of latency, several scripts. Within a group steps stop at the first
refusal as on a single Redis; across groups they cannot, so after a refusal the reservations that
later steps made in other groups are given back (one more round trip, on the refusal path only)
and throttle tokens they took stay taken (counting more, never less).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.crc import key_slot

from kernel.storage.kv import (
    AdmitStep,
    Admitted,
    Reservation,
    Reserve,
    Reserved,
    StepResult,
    step_passed,
)
from kernel.storage.redis_pool import HEALTH_CHECK_SECONDS

__all__ = ["ClusterGate", "admit_by_slot", "cluster_client", "reserve_many_by_slot"]

PUBSUB_HEADROOM = 32
"""Connections per cluster node beyond ``max_connections``: each subscription holds one."""

RunSteps = Callable[[Sequence[AdmitStep], bool], Awaitable[list[StepResult]]]
"""Runs steps of one slot as one script; the bool says "stop at the first refusal"."""


def cluster_client(url: str, *, max_connections: int, timeout: float, retry: Retry) -> RedisCluster:
    """redis-py's cluster client for ``url`` (one node; the others are discovered)."""
    return RedisCluster.from_url(
        url,
        max_connections=max_connections + PUBSUB_HEADROOM,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=HEALTH_CHECK_SECONDS,
        retry=retry,
    )


class ClusterGate:
    """The cluster client refuses (MaxConnectionsError) instead of waiting when a node's
    connections are all busy; the gate makes commands wait, as the single pool does. It also
    learns the slot map before the first command, so a burst of first commands does not storm
    the nodes with MOVED redirects (whose reconnects made redis-py resend commands that had
    already run)."""

    def __init__(self, client: RedisCluster, max_connections: int, timeout: float) -> None:
        self._client = client
        self._semaphore = asyncio.Semaphore(max_connections)
        self._timeout = timeout

    @contextlib.asynccontextmanager
    async def command(self) -> AsyncIterator[None]:
        """Wait (up to ``timeout``) for a free connection, then run the command."""
        async with asyncio.timeout(self._timeout):
            await self._semaphore.acquire()
        try:
            await self._client.initialize()  # a no-op once the slot map is known
            yield
        finally:
            self._semaphore.release()


def _slot(step: AdmitStep, prefix: str) -> int | None:
    """The slot of ``step``'s keys (a reservation's share one); None for one without keys."""
    if isinstance(step, Reserve):
        if not step.items:
            return None
        return int(key_slot((prefix + step.items[0].key).encode()))
    return int(key_slot((prefix + step.key).encode()))


def _groups(steps: Sequence[AdmitStep], prefix: str) -> dict[int | None, list[int]]:
    groups: dict[int | None, list[int]] = {}
    for index, step in enumerate(steps):
        groups.setdefault(_slot(step, prefix), []).append(index)
    return groups


async def _run_groups(
    steps: Sequence[AdmitStep], prefix: str, run: RunSteps, *, stop: bool
) -> dict[int, StepResult]:
    """Each slot's steps as one script, every slot at once; results by step index."""
    groups = _groups(steps, prefix)
    found: dict[int, StepResult] = {}
    keyless = groups.pop(None, [])
    for index in keyless:
        found[index] = Reserved(allowed=True, totals=())
    indexes = list(groups.values())
    answers = await asyncio.gather(*(run([steps[i] for i in group], stop) for group in indexes))
    for group, results in zip(indexes, answers, strict=True):
        found.update(zip(group, results, strict=False))
    return found


async def admit_by_slot(
    steps: Sequence[AdmitStep],
    prefix: str,
    run: RunSteps,
    give_back: Callable[[Sequence[Sequence[Reservation]]], Awaitable[object]],
) -> Admitted:
    """:meth:`~kernel.storage.kv.KV.admit` over slots (see the module's notes)."""
    found = await _run_groups(steps, prefix, run, stop=True)
    results: list[StepResult] = []
    for index in range(len(steps)):
        result = found[index]  # every step before the first refusal ran
        results.append(result)
        if not step_passed(result):
            await _undo(steps, found, index, give_back)
            return Admitted(results=tuple(results), refused=index)
    return Admitted(results=tuple(results))


async def _undo(
    steps: Sequence[AdmitStep],
    found: dict[int, StepResult],
    refused: int,
    give_back: Callable[[Sequence[Sequence[Reservation]]], Awaitable[object]],
) -> None:
    """Give back what reservations after the refusing step added in other slots."""
    batches: list[list[Reservation]] = []
    for index, result in found.items():
        step = steps[index]
        if index > refused and isinstance(step, Reserve) and step_passed(result):
            batches.append(
                [Reservation(key=i.key, amount=-i.amount, must_exist=True) for i in step.items]
            )
    if batches:
        await give_back(batches)


async def reserve_many_by_slot(
    batches: Sequence[Sequence[Reservation]], prefix: str, run: RunSteps
) -> list[Reserved]:
    """:meth:`~kernel.storage.kv.KV.reserve_many` over slots: one script per slot."""
    steps = [Reserve(tuple(batch)) for batch in batches]
    found = await _run_groups(steps, prefix, run, stop=False)
    results: list[Reserved] = []
    for index in range(len(steps)):
        result = found[index]
        assert isinstance(result, Reserved)
        results.append(result)
    return results
