"""The KV seam: one interface, two backends (Redis for replicas, memory for one process).

Everything replicas must agree on (rate-limit windows, budgets, toggles, revocations) goes through
this interface. Backends raise :class:`~kernel.errors.StoreUnavailableError` (store ``"kv"``) when
the store does not answer, so callers fail closed.

Redis Cluster: an operation on several keys (only :meth:`KV.reserve`) runs on one node, so its
keys must share a hash tag, the text between the first ``{`` and the next ``}``
(:func:`hash_tag`, :func:`tagged`). Every backend refuses keys that do not (ValueError), so a
layout that would fail on a cluster fails in memory too. The prefix stays outside the braces.

:meth:`KV.admit` runs a request's admission steps (a block check, a throttle, a budget
reservation) in one round trip, stopping at the first refusal; :meth:`KV.reserve_many` runs
independent reservations (batched settlements) in one round trip. On a single Redis each is one
script; on a cluster the steps are grouped by slot and the groups sent concurrently (one round
trip of latency), see :mod:`kernel.storage.kv_redis`.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol
from urllib.parse import urlsplit

import msgspec

from kernel.errors import ConfigError

__all__ = [
    "KV",
    "Absent",
    "AdmitStep",
    "Admitted",
    "MessageHandler",
    "Reservation",
    "Reserve",
    "Reserved",
    "StepResult",
    "Subscription",
    "Throttle",
    "ThrottleStep",
    "WindowCount",
    "gcra_interval_us",
    "hash_tag",
    "open_kv",
    "require_one_slot",
    "step_passed",
    "tagged",
]

MessageHandler = Callable[[bytes], Awaitable[None]]


class WindowCount(msgspec.Struct, frozen=True):
    """Result of :meth:`KV.incr_window`: the counter after the increment and seconds to reset."""

    count: int
    reset_in: float


class Throttle(msgspec.Struct, frozen=True):
    """Result of :meth:`KV.throttle`: the decision and the bucket after it. ``remaining`` counts
    requests of cost 1 that would pass now; ``reset_after`` is seconds until the bucket is full
    again; ``retry_after`` seconds until this request would pass (0 when allowed)."""

    allowed: bool
    limit: int
    remaining: int
    reset_after: float
    retry_after: float


class Reservation(msgspec.Struct, frozen=True, kw_only=True):
    """One counter of :meth:`KV.reserve`: add ``amount`` (may be negative); with a ``limit``, a
    positive amount must not take the counter above it. ``ttl`` (seconds) is given to a counter
    that has none. With ``must_exist`` an absent counter refuses the whole call (``missing``), so
    a flushed store is re-seeded by the caller instead of being read as 0."""

    key: str
    amount: int
    limit: int | None = None
    ttl: float | None = None
    must_exist: bool = False


class Reserved(msgspec.Struct, frozen=True):
    """Result of :meth:`KV.reserve`: whether every amount was added, the counters after the
    operation (unchanged when refused), the index of the first counter that refused over its
    limit, and the index of the first ``must_exist`` counter that was absent."""

    allowed: bool
    totals: tuple[int, ...]
    refused: int | None = None
    missing: int | None = None


class Absent(msgspec.Struct, frozen=True):
    """Admission step: refuse unless ``key`` is absent (a block marker). Its result is True."""

    key: str


class ThrottleStep(msgspec.Struct, frozen=True, kw_only=True):
    """Admission step: :meth:`KV.throttle` on ``key``; refuses when the bucket refuses. Its
    result is the :class:`Throttle`."""

    key: str
    limit: int
    period: float
    cost: int = 1


class Reserve(msgspec.Struct, frozen=True):
    """Admission step: :meth:`KV.reserve` of ``items`` (one hash tag); refuses when not
    ``allowed`` (over a limit or a ``must_exist`` counter missing). Its result is the
    :class:`Reserved`."""

    items: tuple[Reservation, ...]


AdmitStep = Absent | ThrottleStep | Reserve
StepResult = bool | Throttle | Reserved


class Admitted(msgspec.Struct, frozen=True):
    """Result of :meth:`KV.admit`: one entry per step that counts, in order, up to and including
    the first refusing step (``refused``, its index; None when every step passed). Steps after a
    refusal did not run (or, on a cluster, were undone) and have no entry."""

    results: tuple[StepResult, ...]
    refused: int | None = None


def step_passed(result: StepResult) -> bool:
    """Whether one step's result lets the request through."""
    return result if isinstance(result, bool) else result.allowed


def gcra_interval_us(*, limit: int, period: float, cost: int) -> int:
    """Microseconds of bucket one request uses (``period / limit``, rounded up so the sustained
    rate never exceeds the limit); ValueError unless ``1 <= cost <= limit`` and ``period > 0``."""
    if limit < 1 or period <= 0:
        raise ValueError("throttle needs limit >= 1 and period > 0")
    if not 1 <= cost <= limit:
        raise ValueError("throttle cost must be between 1 and limit")
    return max(1, math.ceil(period * 1_000_000 / limit))


def hash_tag(key: str) -> str:
    """The part of ``key`` Redis Cluster hashes: the text between the first ``{`` and the next
    ``}`` when it is not empty, else the whole key."""
    start = key.find("{")
    if start >= 0:
        end = key.find("}", start + 1)
        if end > start + 1:
            return key[start + 1 : end]
    return key


def tagged(tag: str, *parts: str) -> str:
    """``parts`` joined by ``:`` after the hash tag ``{tag}``: ``tagged("u:7", "a")`` is
    ``"{u:7}:a"``. ValueError when ``tag`` is empty or holds a brace."""
    if not tag or "{" in tag or "}" in tag:
        raise ValueError(f"hash tag {tag!r} must be non-empty and without braces")
    return ":".join((f"{{{tag}}}", *parts))


def require_one_slot(keys: Sequence[str]) -> None:
    """ValueError unless every key has the same :func:`hash_tag` (one Redis Cluster slot)."""
    tags = {hash_tag(key) for key in keys}
    if len(tags) > 1:
        raise ValueError(
            f"keys {list(keys)!r} of one multi-key operation must share a hash tag ({{...}})"
        )


class Subscription(Protocol):
    """A live pub/sub subscription; ``close()`` stops delivery."""

    async def close(self) -> None: ...


class KV(Protocol):
    """Key-value store with TTLs, atomic counters and throttles, compare-and-set and pub/sub.

    Keys and channels are plain strings; the backend applies its configured prefix.
    """

    name: str
    shared_across_processes: bool

    async def get(self, key: str) -> bytes | None:
        """The value, or None when absent or expired."""
        ...

    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        """Store ``value``; ``ttl`` in seconds, None keeps it until deleted."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove ``key``; True when it existed."""
        ...

    async def incr_window(self, key: str, *, window: float, amount: int = 1) -> WindowCount:
        """Atomically add ``amount``; the first increment starts a window of ``window`` seconds."""
        ...

    async def throttle(self, key: str, *, limit: int, period: float, cost: int = 1) -> Throttle:
        """Atomically take ``cost`` from a GCRA bucket of ``limit`` per ``period`` seconds (burst =
        ``limit``); refused requests take nothing. ValueError unless ``1 <= cost <= limit``."""
        ...

    async def compare_and_set(
        self, key: str, *, expected: bytes | None, value: bytes, ttl: float | None = None
    ) -> bool:
        """Atomically set ``value`` if the current value equals ``expected`` (None = absent)."""
        ...

    async def reserve(self, items: Sequence[Reservation]) -> Reserved:
        """Atomically add every item's amount to its counter, or none of them when one would
        exceed its limit (budget reservations and settlements across replicas). ValueError
        unless the keys share a hash tag (:func:`require_one_slot`)."""
        ...

    async def admit(self, steps: Sequence[AdmitStep]) -> Admitted:
        """Run ``steps`` in order, stopping at the first that refuses (a blocked client takes
        no token, a throttled one reserves nothing), in one round trip. Each step is atomic; on
        a single Redis or in memory the whole call is. ValueError as the single-step methods."""
        ...

    async def reserve_many(self, batches: Sequence[Sequence[Reservation]]) -> list[Reserved]:
        """:meth:`reserve` for each batch, independently (a refusal stops nothing), in one
        round trip: batched settlements."""
        ...

    async def publish(self, channel: str, message: bytes) -> None:
        """Deliver ``message`` to every subscriber of ``channel`` (all replicas for Redis)."""
        ...

    async def subscribe(self, channel: str, handler: MessageHandler) -> Subscription:
        """Call ``handler`` for each message on ``channel`` until the subscription is closed."""
        ...

    async def ping(self) -> None:
        """Raise StoreUnavailableError unless the store answers."""
        ...

    async def close(self) -> None:
        """Release connections and stop subscriptions."""
        ...


_REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})
_CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


def _redis_target(url: str, cluster: bool) -> tuple[str, bool]:
    """The URL redis-py parses and whether it names a cluster; ConfigError for other schemes."""
    scheme = urlsplit(url).scheme.lower()
    if scheme in _CLUSTER_SCHEMES:
        return _CLUSTER_SCHEMES[scheme] + url[len(scheme) :], True
    if scheme not in _REDIS_SCHEMES:
        raise ConfigError(
            "setting redis.url (ENCLAVA_REDIS_URL): "
            + (f"scheme {scheme!r} is not supported" if scheme else "not a URL")
            + "; use redis://, rediss://, unix://, redis+cluster:// or rediss+cluster://, "
            "or leave it empty for the in-process store"
        )
    if cluster and scheme == "unix":
        raise ConfigError(
            "setting redis.cluster (ENCLAVA_REDIS_CLUSTER): a cluster is reached over TCP "
            "(redis:// or rediss://), not a unix socket"
        )
    return url, cluster


def open_kv(url: str, *, prefix: str, cluster: bool = False) -> KV:
    """The backend for ``url``: empty means in-process memory, ``redis://``/``rediss://``/``unix://``
    mean Redis with every key under ``prefix``; ``redis+cluster://``/``rediss+cluster://`` (or
    ``cluster``) mean Redis Cluster, the URL naming one node to discover the others from;
    anything else raises ConfigError."""
    if not url:
        from kernel.storage.kv_memory import MemoryKV

        return MemoryKV()
    target, cluster = _redis_target(url, cluster)
    if "{" in prefix or "}" in prefix:
        # A tag in the prefix would put every key in one slot and override the callers' tags.
        raise ConfigError("setting redis.prefix (ENCLAVA_REDIS_PREFIX): braces are not allowed")
    from kernel.storage.kv_redis import RedisKV

    try:
        return RedisKV(target, prefix=prefix, cluster=cluster)
    except ValueError:
        # The parser's message can quote the URL, password included.
        raise ConfigError("setting redis.url (ENCLAVA_REDIS_URL): not a valid Redis URL") from None
