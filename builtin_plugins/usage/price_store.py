"""The only code that reads or writes ``usage_prices``: rows in, rows out, never updated."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import RowMapping, select

from builtin_plugins.usage.models import usage_prices
from builtin_plugins.usage.prices import PriceRow
from kernel.storage.sql import Database
from kernel.upstream import ModelPrice

__all__ = ["insert_price", "load_prices"]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)  # SQLite drops it


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _row(data: Mapping[str, Any] | RowMapping) -> PriceRow:
    return PriceRow(
        id=int(data["id"]),
        provider=data["provider"],
        model=data["model"],
        input_per_million=_decimal(data["input_per_million"]),
        output_per_million=_decimal(data["output_per_million"]),
        currency=data["currency"],
        source=data["source"],
        effective_from=_aware(data["effective_from"]),
        created_at=_aware(data["created_at"]),
        created_by=data["created_by"],
    )


async def load_prices(db: Database) -> list[PriceRow]:
    """Every price row (the table holds one row per price change: small)."""
    async with db.session() as session:
        rows = (await session.execute(select(usage_prices).order_by(usage_prices.c.id))).all()
    return [_row(row._mapping) for row in rows]


async def insert_price(
    db: Database,
    *,
    provider: str,
    model: str,
    price: ModelPrice | None,
    source: str,
    effective_from: datetime | None = None,
    created_by: str | None = None,
) -> PriceRow:
    """Append a price row (``price`` None: the override ends) and return it."""
    now = datetime.now(UTC)
    values = {
        "provider": provider,
        "model": model,
        "input_per_million": None if price is None else str(price.input_per_million),
        "output_per_million": None if price is None else str(price.output_per_million),
        "currency": None if price is None else price.currency,
        "source": source,
        "effective_from": effective_from or now,
        "created_at": now,
        "created_by": created_by,
    }
    async with db.session() as session:
        result = await session.execute(
            usage_prices.insert().values(**values).returning(usage_prices.c.id)
        )
        new_id = int(result.scalar_one())
    return _row({"id": new_id, **values})
