r"""One model call through the gateway and what plugins contribute around it.

An :class:`Exchange` is admitted by :class:`ExchangeGuard`\ s before routing and finished once
after its last byte; :class:`ChatFilter`\ s rewrite chat requests and answers; usage records
reach :class:`UsageSink`\ s off the hot path.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Protocol, runtime_checkable

import msgspec

from kernel.types import Endpoint, ModelInfo, Principal

__all__ = [
    "ChatFilter",
    "Exchange",
    "ExchangeGuard",
    "ExchangeKind",
    "TokenUsage",
    "UsageRecord",
    "UsageSink",
]


ExchangeKind = Literal["chat", "embeddings", "chatbot", "plugin"]


class TokenUsage(msgspec.Struct):
    """Token counts as the provider reported them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class Exchange(msgspec.Struct, kw_only=True):
    """One model call through the gateway, from admission to its last byte.

    The gateway fills the route, usage, timings and outcome as they happen; guards read it and
    keep their own per-exchange data in ``state`` under their name. Never holds prompt text
    beyond ``body`` (the request bytes as forwarded), which guards must not persist.
    """

    request_id: str
    kind: ExchangeKind
    endpoint: Endpoint
    principal: Principal | None
    model: str
    body: bytes
    stream: bool
    max_tokens: int | None = None
    chatbot_id: str | None = None
    plugin: str | None = None
    started: float = 0.0
    """``time.monotonic()`` at admission."""
    started_at: float = 0.0
    """``time.time()`` at admission."""
    provider: str | None = None
    route: ModelInfo | None = None
    usage: TokenUsage | None = None
    first_token: float | None = None
    """``time.monotonic()`` when the first streamed bytes (or the whole answer) arrived."""
    ended: float | None = None
    status: int = 0
    """HTTP status the client got (200 also for a stream cut short: see ``error_code``)."""
    error_code: str | None = None
    attestation: str = ""
    """The ``x-enclava-attestation`` value sent with the answer."""
    verification: str = ""
    """Per-response verification: ``""`` (none), ``pending``, ``verified`` or ``failed``."""
    state: dict[str, Any] = {}


@runtime_checkable
class ExchangeGuard(Protocol):
    """Admits model calls before routing and learns how each ended (budgets, usage records).

    ``admit`` runs by ascending ``order`` before anything is forwarded and raises an
    :class:`~kernel.errors.EnclavaError` to refuse (guards admitted earlier get ``finish``).
    ``finish`` runs exactly once for every admitted exchange — success, error, client gone,
    stream cut — after the last byte; it must not raise.
    """

    name: str
    order: int

    async def admit(self, exchange: Exchange) -> None: ...

    async def finish(self, exchange: Exchange) -> None: ...


@runtime_checkable
class ChatFilter(Protocol):
    """Rewrites chat requests before routing and/or non-streamed answers after, by ``order``.

    Each method returns the rewritten JSON object, or None to leave it unchanged; a raise fails
    the request closed with an error naming the filter, unless ``fail_open``.
    """

    name: str
    order: int
    fail_open: bool

    async def on_request(
        self, exchange: Exchange, request: dict[str, Any]
    ) -> dict[str, Any] | None: ...

    async def on_response(
        self, exchange: Exchange, response: dict[str, Any]
    ) -> dict[str, Any] | None: ...


class UsageRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The immutable account of one exchange: who, which model, tokens, price and cost, timing.

    Never holds prompt or completion text. ``cost_micros`` is in millionths of ``currency`` (the
    accounting currency); the price snapshot is the provider price used, per million tokens.
    """

    request_id: str
    created_at: datetime
    kind: ExchangeKind
    user_id: str | None
    key_id: str | None
    chatbot_id: str | None = None
    plugin: str | None = None
    provider: str | None = None
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    input_price: Decimal | None = None
    output_price: Decimal | None = None
    price_currency: str | None = None
    cost_micros: int = 0
    currency: str
    cost_estimated: bool = False
    """True when no usage was reported and the reservation was charged (a stream cut short)."""
    latency_ms: int = 0
    ttft_ms: int | None = None
    status: int = 0
    error_code: str | None = None


@runtime_checkable
class UsageSink(Protocol):
    """Receives usage records off the hot path, in batches, after they are stored."""

    name: str

    async def write(self, records: Sequence[UsageRecord]) -> None: ...
