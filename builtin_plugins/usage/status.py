"""A budget's standing in its current period, read from its KV counter."""

from __future__ import annotations

from builtin_plugins.usage.budget_store import Budget
from builtin_plugins.usage.payloads import BudgetStatus
from builtin_plugins.usage.runtime import UsageRuntime

__all__ = ["budget_status"]


async def budget_status(
    runtime: UsageRuntime, budget: Budget, *, user: str | None = None
) -> BudgetStatus:
    """Spent (reservations in flight included), remaining and warning state right now; ``user``
    owns the key of a key budget, when the caller knows it."""
    window, spent = await runtime.ledger.spent(budget, runtime.clock(), user=user)
    percent = budget.warning_percent
    return BudgetStatus(
        id=budget.id,
        name=budget.name,
        owner_type=budget.owner_type,
        owner_id=budget.owner_id,
        period=budget.period,
        period_start=window.start,
        period_end=window.end,
        limit_micros=budget.limit_micros,
        spent_micros=spent,
        remaining_micros=max(0, budget.limit_micros - spent),
        currency=runtime.settings.currency,
        hard=budget.hard,
        warning_percent=percent,
        warning_reached=percent is not None and spent * 100 >= budget.limit_micros * percent,
    )
