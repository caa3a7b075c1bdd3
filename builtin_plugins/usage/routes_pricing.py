"""``/api-internal/v1/pricing``: prices in effect, their history, admin overrides.

Rows are only ever added: an override (or its end) takes effect from ``effective_from`` and the
records already written keep the price they were charged at.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, get, post
from litestar.params import FromQuery, JSONBody

from builtin_plugins.usage.access import as_utc, caller
from builtin_plugins.usage.payloads import (
    ClearPrice,
    CurrentPrice,
    PriceHistory,
    PriceInput,
    PriceRowView,
    row_view,
)
from builtin_plugins.usage.price_store import insert_price
from builtin_plugins.usage.prices import PriceRow, Target
from builtin_plugins.usage.runtime import UsageRuntime
from kernel.audit import event_from_context
from kernel.dependencies import NamedDependency
from kernel.errors import InvalidRequestError
from kernel.gate import request_context
from kernel.upstream import ModelPrice

__all__ = ["PRICING_ROUTES"]

ADMIN = {"enclava_role": "admin"}


@get("/pricing")
async def current_prices(usage: NamedDependency[UsageRuntime]) -> list[CurrentPrice]:
    """Every provider model with a price, and the price in effect now."""
    book, now = usage.prices, usage.clock()
    listed: dict[Target, ModelPrice | None] = {
        target: price for entries in book.catalog.values() for target, price in entries
    }
    targets = set(listed) | {(r.provider, r.model) for r in book.rows}
    targets |= {(p, m) for p, models in usage.settings.prices.items() for m in models}
    prices = []
    for target in sorted(targets):
        quote = book.quote(target, now, listed=listed.get(target))
        if quote is not None:
            prices.append(
                CurrentPrice(
                    provider=target[0],
                    model=target[1],
                    input_per_million=str(quote.price.input_per_million),
                    output_per_million=str(quote.price.output_per_million),
                    currency=quote.price.currency,
                    source=quote.source,
                )
            )
    return prices


@get("/pricing/history")
async def price_history(
    usage: NamedDependency[UsageRuntime],
    provider: FromQuery[str],
    model: FromQuery[str],
) -> PriceHistory:
    """Every stored price of one provider model, oldest first."""
    rows = usage.prices.history((provider, model))
    return PriceHistory(data=[row_view(row) for row in rows])


async def _store(
    request: Request[Any, Any, Any],
    usage: UsageRuntime,
    action: str,
    target: Target,
    price: ModelPrice | None,
    effective_from: Any,
) -> PriceRow:
    row = await insert_price(
        usage.kernel.stores.db,
        provider=target[0],
        model=target[1],
        price=price,
        source="admin",
        effective_from=as_utc(effective_from),
        created_by=caller(request).owner_id,
    )
    await usage.announce()
    event = event_from_context(
        request_context(request.scope),
        action=action,
        outcome="success",
        resource_type="price",
        resource_id=f"{target[0]}/{target[1]}",
        details={"row_id": row.id, "effective_from": row.effective_from.isoformat()},
    )
    await usage.kernel.audit(event)
    return row


@post("/pricing", opt=ADMIN)
async def set_price(
    request: Request[Any, Any, Any],
    usage: NamedDependency[UsageRuntime],
    data: JSONBody[PriceInput],
) -> PriceRowView:
    """Override a provider model's price from ``effective_from`` on (admins)."""
    for value in (data.input_per_million, data.output_per_million):
        if not value.is_finite() or value < 0:
            raise InvalidRequestError(
                "Prices must be non-negative decimals.", param="input_per_million"
            )
    if usage.settings.rate(data.currency) is None:
        raise InvalidRequestError(
            f"No conversion rate for {data.currency}; add it to [usage] conversion_rates.",
            param="currency",
        )
    price = ModelPrice(
        input_per_million=data.input_per_million,
        output_per_million=data.output_per_million,
        currency=data.currency,
    )
    row = await _store(
        request, usage, "price.set", (data.provider, data.model), price, data.effective_from
    )
    return row_view(row)


@post("/pricing/clear", opt=ADMIN)
async def clear_price(
    request: Request[Any, Any, Any],
    usage: NamedDependency[UsageRuntime],
    data: JSONBody[ClearPrice],
) -> PriceRowView:
    """End the override: discovered or configured prices apply again (admins)."""
    row = await _store(
        request, usage, "price.clear", (data.provider, data.model), None, data.effective_from
    )
    return row_view(row)


PRICING_ROUTES = [current_prices, price_history, set_price, clear_price]
