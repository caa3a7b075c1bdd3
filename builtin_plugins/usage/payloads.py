"""Request and response bodies of the usage, budget and pricing APIs."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import msgspec

from builtin_plugins.usage.budget_store import Budget, OwnerType
from builtin_plugins.usage.periods import Period
from builtin_plugins.usage.prices import PriceRow
from builtin_plugins.usage.queries import Aggregate
from kernel.errors import InvalidRequestError
from kernel.services import BudgetStatus

__all__ = [
    "BudgetInput",
    "BudgetPage",
    "BudgetStatus",
    "BudgetUpdate",
    "BudgetView",
    "ClearPrice",
    "CurrentPrice",
    "PriceHistory",
    "PriceInput",
    "PriceRowView",
    "StatusList",
    "UsageList",
    "checked_budget_fields",
    "row_view",
]

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
Ident = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
Limit = Annotated[int, msgspec.Meta(ge=0, le=2**53)]
Percent = Annotated[int, msgspec.Meta(ge=1, le=100)]
ModelId = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
ProviderName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Currency = Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$")]


class BudgetInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /budgets``: a limit in accounting micro-units on a user, an API key, a chatbot or
    a plugin."""

    owner_type: OwnerType
    owner_id: Ident
    name: Name
    limit_micros: Limit
    period: Period = "monthly"
    warning_percent: Percent | None = 80
    hard: bool = True


class BudgetUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``PATCH /budgets/{id}``: only the fields given change."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    limit_micros: Limit | msgspec.UnsetType = msgspec.UNSET
    period: Period | msgspec.UnsetType = msgspec.UNSET
    warning_percent: Percent | msgspec.UnsetType | None = msgspec.UNSET
    hard: bool | msgspec.UnsetType = msgspec.UNSET


def checked_budget_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` without UNSET values; InvalidRequestError when nothing is left to change."""
    changes = {k: v for k, v in fields.items() if v is not msgspec.UNSET}
    if not changes:
        raise InvalidRequestError("Nothing to change: give at least one field.")
    return changes


class BudgetView(msgspec.Struct, frozen=True, kw_only=True):
    """A budget and its current status."""

    budget: Budget
    status: BudgetStatus


class BudgetPage(msgspec.Struct, frozen=True, kw_only=True):
    data: list[BudgetView]
    total: int
    limit: int
    offset: int


class StatusList(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /api/v1/budget/status``: every budget the calling key spends against."""

    object: str = "list"
    data: list[BudgetStatus]


class UsageList(msgspec.Struct, frozen=True, kw_only=True):
    """Aggregated usage; costs in micro-units of ``currency``."""

    object: str = "list"
    currency: str
    start: datetime | None
    end: datetime | None
    data: list[Aggregate]
    total: int
    limit: int
    offset: int


class PriceInput(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /pricing``: an admin price for a provider's upstream model id, per million
    tokens; ``effective_from`` defaults to now (a past moment never re-prices records)."""

    provider: ProviderName
    model: ModelId
    input_per_million: Decimal
    output_per_million: Decimal
    currency: Currency
    effective_from: datetime | None = None


class ClearPrice(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``POST /pricing/clear``: end the admin price; discovered or configured prices apply."""

    provider: ProviderName
    model: ModelId
    effective_from: datetime | None = None


class PriceRowView(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    provider: str
    model: str
    input_per_million: str | None
    output_per_million: str | None
    currency: str | None
    source: str
    effective_from: datetime
    created_at: datetime
    created_by: str | None


def row_view(row: PriceRow) -> PriceRowView:
    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return PriceRowView(
        id=row.id,
        provider=row.provider,
        model=row.model,
        input_per_million=text(row.input_per_million),
        output_per_million=text(row.output_per_million),
        currency=row.currency,
        source=row.source,
        effective_from=row.effective_from,
        created_at=row.created_at,
        created_by=row.created_by,
    )


class CurrentPrice(msgspec.Struct, frozen=True, kw_only=True):
    """The price in effect now for one provider model, and where it comes from."""

    provider: str
    model: str
    input_per_million: str
    output_per_million: str
    currency: str
    source: str


class PriceHistory(msgspec.Struct, frozen=True, kw_only=True):
    data: list[PriceRowView]
