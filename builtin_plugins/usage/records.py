"""From a finished exchange to its usage record: tokens, the price in effect, the exact cost.

The cost, first case that applies:

* the provider reported usage and the route has a price: ``money.cost_micros`` of it;
* usage but no price (or no conversion rate): the reservation, flagged ``cost_estimated``;
* no usage and nothing reached the client (refused, failed before output): nothing;
* no usage after output went out (a stream cut short): the reservation, flagged
  ``cost_estimated``; its tokens stay 0 (unknown).

Without a budget there is no reservation, so "the reservation" is the estimate admission would
have made.
"""

from __future__ import annotations

from datetime import UTC, datetime

from builtin_plugins.usage.prices import PriceBook, Quote
from kernel.exchange import Exchange, TokenUsage, UsageRecord
from kernel.types import Principal

__all__ = ["build_record", "price_moment"]


def price_moment(exchange: Exchange, now: datetime) -> datetime:
    """Prices are those in effect when the exchange was admitted."""
    return datetime.fromtimestamp(exchange.started_at, UTC) if exchange.started_at else now


def _ms(start: float, end: float | None) -> int | None:
    return None if end is None or not start else max(0, round((end - start) * 1000))


def _owners(principal: Principal | None) -> tuple[str | None, str | None]:
    if principal is None:
        return None, None
    if principal.kind == "plugin":
        return None, None
    key_id = principal.id if principal.kind == "api_key" else None
    return principal.owner_id, key_id


def _quote(exchange: Exchange, book: PriceBook, at: datetime) -> Quote | None:
    route = exchange.route
    if route is None:
        return None
    return book.quote((route.provider, route.upstream_id), at, listed=route.pricing)


def _cost(
    exchange: Exchange, book: PriceBook, quote: Quote | None, estimate: int
) -> tuple[int, bool]:
    usage = exchange.usage
    if usage is not None and quote is not None:
        cost = book.cost(
            quote.price, prompt=usage.prompt_tokens, completion=usage.completion_tokens
        )
        if cost is not None:
            return cost, False
    if usage is None and exchange.first_token is None:
        return 0, False
    return estimate, True


def build_record(exchange: Exchange, book: PriceBook, now: datetime, estimate: int) -> UsageRecord:
    """The record of ``exchange``; ``estimate`` is what to charge when the cost is unknown."""
    quote = _quote(exchange, book, price_moment(exchange, now))
    cost, estimated = _cost(exchange, book, quote, estimate)
    usage = exchange.usage or TokenUsage()
    user_id, key_id = _owners(exchange.principal)
    price = None if quote is None else quote.price
    return UsageRecord(
        request_id=exchange.request_id,
        created_at=now,
        kind=exchange.kind,
        user_id=user_id,
        key_id=key_id,
        chatbot_id=exchange.chatbot_id,
        plugin=exchange.plugin,
        provider=exchange.provider,
        model=exchange.model,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens or usage.prompt_tokens + usage.completion_tokens,
        input_price=None if price is None else price.input_per_million,
        output_price=None if price is None else price.output_per_million,
        price_currency=None if price is None else price.currency,
        cost_micros=cost,
        currency=book.settings.currency,
        cost_estimated=estimated,
        latency_ms=_ms(exchange.started, exchange.ended) or 0,
        ttft_ms=_ms(exchange.started, exchange.first_token),
        status=exchange.status,
        error_code=exchange.error_code,
    )
