r"""One model call through the gateway and what plugins contribute around it.

An :class:`Exchange` is admitted by :class:`ExchangeGuard`\ s before routing and finished once
after its last byte; :class:`ChatFilter`\ s rewrite chat requests and answers; usage records
reach :class:`UsageSink`\ s off the hot path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Protocol, runtime_checkable

import msgspec

from kernel.admission import Admission
from kernel.errors import InvalidRequestError
from kernel.types import Principal
from kernel.upstream import Endpoint, ModelInfo

__all__ = [
    "ChatFilter",
    "CompletionLimits",
    "Exchange",
    "ExchangeGuard",
    "ExchangeKind",
    "TokenUsage",
    "UsageRecord",
    "UsageSink",
    "completion_limits",
]


ExchangeKind = Literal["chat", "embeddings", "chatbot", "plugin"]


class TokenUsage(msgspec.Struct):
    """Token counts as the provider reported them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


_Positive = Annotated[int, msgspec.Meta(ge=1)]
_PARAM = re.compile(r"at `\$\.(\w+)`")


class _LimitFields(msgspec.Struct):
    n: _Positive | None = None
    best_of: _Positive | None = None
    max_tokens: _Positive | None = None
    max_completion_tokens: _Positive | None = None


_LIMITS = msgspec.json.Decoder(_LimitFields, strict=False)


class CompletionLimits(msgspec.Struct, frozen=True):
    """What a request lets a provider generate: ``choices`` completions of at most
    ``max_tokens`` tokens each (None: the request sets no limit). Embeddings: no choices."""

    choices: int = 1
    max_tokens: int | None = None

    def covers(self, other: CompletionLimits) -> bool:
        """True when ``other`` lets a provider generate no more than these limits do."""
        if other.choices > self.choices:
            return False
        return self.max_tokens is None or (
            other.max_tokens is not None and other.max_tokens <= self.max_tokens
        )


def completion_limits(body: bytes) -> CompletionLimits:
    """The limits of a chat request ``body``: ``n`` or ``best_of`` choices, whichever is larger,
    each capped by ``max_tokens`` or ``max_completion_tokens``, whichever is larger (providers
    differ in which one wins). Numbers may be lax (``8.0``, ``"8"``) as providers accept them;
    one below 1 or not a number is an InvalidRequestError (400)."""
    try:
        fields = _LIMITS.decode(body)
    except msgspec.ValidationError as exc:
        match = _PARAM.search(str(exc))
        message = f"Invalid request body: {exc}"
        raise InvalidRequestError(message, param=match.group(1) if match else None) from None
    except msgspec.DecodeError:
        raise InvalidRequestError("We could not parse the JSON body of your request.") from None
    caps = [c for c in (fields.max_tokens, fields.max_completion_tokens) if c is not None]
    return CompletionLimits(
        choices=max(fields.n or 1, fields.best_of or 1), max_tokens=max(caps) if caps else None
    )


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
    """The client's ``max_completion_tokens or max_tokens``, or the one a guard injected; what
    a provider may generate is :meth:`completion_limits` of ``body`` (``n`` included)."""
    injected_max_tokens: int | None = None
    """``max_tokens`` a guard set in ``body`` because the request had none (a hard budget); the
    gateway tells the client in ``x-enclava-max-tokens``."""
    chatbot_id: str | None = None
    plugin: str | None = None
    preferred_providers: tuple[str, ...] = ()
    """Providers to try first, in this order (a chatbot's preference); the others follow."""
    allowed_providers: tuple[str, ...] = ()
    """When not empty, the only providers this exchange may reach, failover included."""
    started: float = 0.0
    """``time.monotonic()`` at admission."""
    started_at: float = 0.0
    """``time.time()`` at admission."""
    provider: str | None = None
    """The provider that answered; when none did, the last one attempted (None: no attempt)."""
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
    admission: Admission | None = None
    """The request's pending KV admission (:mod:`kernel.admission`): guards add their steps to
    it so the request makes one KV round trip; None for a call made without one."""

    def completion_limits(self) -> CompletionLimits:
        """:func:`completion_limits` of the body as forwarded (decoded on each call, so only
        guards that need it pay for it); embeddings generate nothing."""
        if self.endpoint == "/embeddings":
            return CompletionLimits(choices=0)
        return completion_limits(self.body)

    def inject_max_tokens(self, tokens: int) -> None:
        """Forward ``max_tokens: tokens`` (for a request that sets no limit): ``body`` is
        re-encoded once, here, and the gateway reports it (``injected_max_tokens``)."""
        data: dict[str, Any] = msgspec.json.decode(self.body)
        data["max_tokens"] = tokens
        self.body = msgspec.json.encode(data)
        self.max_tokens = self.injected_max_tokens = tokens


@runtime_checkable
class ExchangeGuard(Protocol):
    """Admits model calls before routing and learns how each ended (budgets, usage records).

    ``admit`` runs by ascending ``order`` before anything is forwarded and raises an
    :class:`~kernel.errors.EnclavaError` to refuse (guards admitted earlier get ``finish``).
    ``finish`` runs exactly once for every admitted exchange — success, error, client gone,
    stream cut — after the last byte; it must not raise. A guard that bounds what the provider
    may generate calls :meth:`Exchange.inject_max_tokens` in ``admit``.
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
