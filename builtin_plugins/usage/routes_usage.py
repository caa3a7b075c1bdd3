"""``/api-internal/v1/usage``: aggregates over a time range, top spenders, CSV export.

Users see their own records (every key of theirs); admins see everyone's and may filter by user.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import Request, get
from litestar.params import FromQuery, QueryParameter
from litestar.response import Stream

from builtin_plugins.usage.access import caller, checked_range, visible_user
from builtin_plugins.usage.models import usage_records
from builtin_plugins.usage.payloads import UsageList
from builtin_plugins.usage.queries import GROUPS, RecordFilter, aggregate, record_batches, top
from builtin_plugins.usage.runtime import UsageRuntime
from kernel.csv_export import csv_cell, csv_lines
from kernel.dependencies import NamedDependency
from kernel.errors import InvalidRequestError
from kernel.openapi import OPERATION_DOC, Body, OperationDoc
from kernel.streaming import BodyStream

__all__ = ["USAGE_ROUTES"]

Limit = Annotated[int, QueryParameter(ge=1, le=1000)]
Offset = Annotated[int, QueryParameter(ge=0, le=2**31 - 1)]
MaxRows = Annotated[int, QueryParameter(ge=1, le=1_000_000)]
EXPORT_COLUMNS = tuple(column.name for column in usage_records.columns)
_EXPORT_DOC = OperationDoc(
    responses={
        200: Body(
            description=f"CSV with a header row: {', '.join(EXPORT_COLUMNS)}.",
            content={"text/csv": {"type": "string"}},
        )
    }
)


def _groups(group_by: str) -> list[str]:
    groups = [name.strip() for name in group_by.split(",") if name.strip()]
    unknown = [name for name in groups if name not in GROUPS]
    if unknown or len(set(groups)) != len(groups):
        raise InvalidRequestError(
            f"group_by takes distinct names among {', '.join(GROUPS)}.", param="group_by"
        )
    return groups


def _filter(
    request: Request[Any, Any, Any],
    start: datetime | None,
    end: datetime | None,
    **fields: str | None,
) -> RecordFilter:
    start, end = checked_range(start, end)
    user_id = visible_user(caller(request), fields.pop("user_id", None))
    return RecordFilter(start=start, end=end, user_id=user_id, **fields)


@get("/usage/aggregate")
async def usage_aggregate(
    request: Request[Any, Any, Any],
    usage: NamedDependency[UsageRuntime],
    group_by: FromQuery[str] = "day,model",
    start: FromQuery[datetime | None] = None,
    end: FromQuery[datetime | None] = None,
    user_id: FromQuery[str | None] = None,
    key_id: FromQuery[str | None] = None,
    provider: FromQuery[str | None] = None,
    model: FromQuery[str | None] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> UsageList:
    """Sums per group (``group_by``: user, key, provider, model, day, kind; comma-separated)."""
    groups = _groups(group_by)
    record_filter = _filter(
        request, start, end, user_id=user_id, key_id=key_id, provider=provider, model=model
    )
    rows, total = await aggregate(
        usage.kernel.stores.db, record_filter, groups, limit=limit, offset=offset
    )
    return UsageList(
        currency=usage.settings.currency,
        start=record_filter.start,
        end=record_filter.end,
        data=rows,
        total=total,
        limit=limit,
        offset=offset,
    )


@get("/usage/top", opt={"enclava_role": "admin"})
async def usage_top(
    request: Request[Any, Any, Any],
    usage: NamedDependency[UsageRuntime],
    by: FromQuery[Literal["user", "key"]] = "user",
    start: FromQuery[datetime | None] = None,
    end: FromQuery[datetime | None] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=100)] = 10,
) -> UsageList:
    """The users or keys that cost most in the range (admins)."""
    start, end = checked_range(start, end)
    rows = await top(usage.kernel.stores.db, RecordFilter(start=start, end=end), by, limit=limit)
    return UsageList(
        currency=usage.settings.currency,
        start=start,
        end=end,
        data=rows,
        total=len(rows),
        limit=limit,
        offset=0,
    )


async def _lines(
    first: list[dict[str, Any]], rest: AsyncIterator[list[dict[str, Any]]]
) -> AsyncIterator[bytes]:
    yield csv_lines([list(EXPORT_COLUMNS)])
    batch: list[dict[str, Any]] | None = first
    while batch:
        yield csv_lines([[csv_cell(row[c]) for c in EXPORT_COLUMNS] for row in batch])
        batch = await anext(rest, None)


@get("/usage/export", opt={OPERATION_DOC: _EXPORT_DOC})
async def usage_export(
    request: Request[Any, Any, Any],
    usage: NamedDependency[UsageRuntime],
    start: FromQuery[datetime | None] = None,
    end: FromQuery[datetime | None] = None,
    user_id: FromQuery[str | None] = None,
    key_id: FromQuery[str | None] = None,
    max_rows: MaxRows = 100_000,
) -> Stream:
    """Records as CSV (one header row, oldest first), never with prompt or output text."""
    record_filter = _filter(request, start, end, user_id=user_id, key_id=key_id)
    batches = record_batches(usage.kernel.stores.db, record_filter, max_rows=max_rows)
    first: list[dict[str, Any]] = await anext(
        batches, []
    )  # errors surface before the response starts
    return BodyStream(
        _lines(first, batches),
        media_type="text/csv",
        headers={"content-disposition": 'attachment; filename="usage.csv"'},
    )


USAGE_ROUTES = [usage_aggregate, usage_top, usage_export]
