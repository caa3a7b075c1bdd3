"""``/api/v1``: the calling key's usage by day and model, and its budgets' status."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from litestar import Request, get
from litestar.params import FromQuery, QueryParameter

from builtin_plugins.usage.access import caller, checked_range
from builtin_plugins.usage.payloads import StatusList, UsageList
from builtin_plugins.usage.queries import RecordFilter, aggregate
from builtin_plugins.usage.runtime import UsageRuntime
from builtin_plugins.usage.status import budget_status
from kernel.dependencies import NamedDependency
from kernel.types import Unscoped

__all__ = ["PUBLIC_ROUTES"]

DEFAULT_DAYS = 30
Limit = Annotated[int, QueryParameter(ge=1, le=1000)]
Offset = Annotated[int, QueryParameter(ge=0, le=2**31 - 1)]


@get("/usage", opt={"enclava_scope": Unscoped("a key reads only its own usage")})
async def key_usage(
    request: Request[Any, Any, Any],
    usage: NamedDependency[UsageRuntime],
    start: FromQuery[datetime | None] = None,
    end: FromQuery[datetime | None] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> UsageList:
    """The calling key's usage by day and model (default: the last 30 days)."""
    principal = caller(request)
    start, end = checked_range(start, end)
    if start is None:
        start = (end or usage.clock()) - timedelta(days=DEFAULT_DAYS)
    if principal.kind == "api_key":
        scope = RecordFilter(start=start, end=end, key_id=principal.id)
    else:
        scope = RecordFilter(start=start, end=end, user_id=principal.owner_id)
    rows, total = await aggregate(
        usage.kernel.stores.db, scope, ["day", "model"], limit=limit, offset=offset
    )
    return UsageList(
        currency=usage.settings.currency,
        start=start,
        end=end,
        data=rows,
        total=total,
        limit=limit,
        offset=offset,
    )


@get(
    "/budget/status",
    opt={"enclava_scope": Unscoped("a key reads only the budgets it spends against")},
)
async def budget_status_route(
    request: Request[Any, Any, Any], usage: NamedDependency[UsageRuntime]
) -> StatusList:
    """Every budget the caller spends against (its key's and its user's), in this period."""
    principal = caller(request)
    budgets = await usage.budgets_for(principal)
    user = principal.owner_id
    return StatusList(data=[await budget_status(usage, budget, user=user) for budget in budgets])


PUBLIC_ROUTES = [key_usage, budget_status_route]
