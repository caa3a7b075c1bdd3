"""Usage accounting, pricing and budgets that cannot be overspent.

Every model call is an exchange the :class:`~builtin_plugins.usage.guard.UsageGuard` admits
(reserving its estimated cost on the caller's budgets, atomically in KV) and finishes (settling
the real cost and queueing one immutable usage record). Records are written in batches off the
hot path and forwarded to every usage sink; prices come from admin overrides, the providers'
model lists (RedPill) and ``[usage] prices`` (Privatemode).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.exc import DBAPIError

from builtin_plugins.usage.access import USAGE_DEPENDENCIES
from builtin_plugins.usage.budget_queries import UsageBudgetQueries
from builtin_plugins.usage.budget_store import hard_budget_names
from builtin_plugins.usage.guard import UsageGuard
from builtin_plugins.usage.routes_budgets import BUDGET_ROUTES
from builtin_plugins.usage.routes_pricing import PRICING_ROUTES
from builtin_plugins.usage.routes_public import PUBLIC_ROUTES
from builtin_plugins.usage.routes_usage import USAGE_ROUTES
from builtin_plugins.usage.runtime import UsageRuntime
from kernel.exchange import ExchangeGuard
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.services import BudgetQueries, Service
from kernel.storage.sql import Database
from kernel.types import BackgroundTask, RouteSet, SettingsSection, ToggleVeto

__all__ = ["PLUGIN_NAME", "VERSION"]

PLUGIN_NAME = "usage"
VERSION = "1.0.0"


@hookimpl
def enclava_settings_schema() -> SettingsSection:
    """The ``[usage]`` section (``ENCLAVA_USAGE_*``)."""
    return UsageRuntime.settings_section()


@hookimpl
def enclava_migrations() -> str:
    return str(Path(__file__).parent / "migrations" / "versions")


@hookimpl
async def enclava_startup(kernel: Kernel) -> None:
    await UsageRuntime.of(kernel).start()


@hookimpl
async def enclava_shutdown(kernel: Kernel) -> None:
    await UsageRuntime.of(kernel).stop()


@hookimpl
def enclava_routes(kernel: Kernel) -> RouteSet:
    return RouteSet(
        public=PUBLIC_ROUTES,
        internal=[*BUDGET_ROUTES, *USAGE_ROUTES, *PRICING_ROUTES],
        dependencies=USAGE_DEPENDENCIES,
    )


@hookimpl
def enclava_exchange_guards(kernel: Kernel) -> list[ExchangeGuard]:
    """The budget and usage guard (rebuilt when settings change, so prices follow them)."""
    runtime = UsageRuntime.of(kernel)
    runtime.prices = runtime.prices.with_settings(runtime.settings)
    return [UsageGuard(runtime)]


class HardBudgetsVeto:
    """Disabling ``usage`` would switch every hard budget off: refused while any exists."""

    async def refusal(self, db: Database, plugin: str, *, enabled: bool) -> str | None:
        if plugin != PLUGIN_NAME or enabled:
            return None
        try:
            names, total = await hard_budget_names(db, limit=5)
        except DBAPIError:
            return None  # not migrated yet: no budget can exist
        if not total:
            return None
        more = f" and {total - len(names)} more" if total > len(names) else ""
        return (
            f"Plugin '{PLUGIN_NAME}' enforces {total} hard budget(s) ({', '.join(names)}{more}); "
            "disabling it would let them be overspent. Delete them or make them soft "
            "(PATCH /api-internal/v1/budgets/{id} with hard: false) first."
        )


@hookimpl
def enclava_toggle_vetoes(kernel: Kernel) -> list[ToggleVeto]:
    return [HardBudgetsVeto()]


@hookimpl
def enclava_background_tasks(kernel: Kernel) -> list[BackgroundTask]:
    runtime = UsageRuntime.of(kernel)
    return [
        BackgroundTask(
            name="price-sync", interval=runtime.settings.price_sync_seconds, run=runtime.sync_prices
        )
    ]


@hookimpl
def enclava_services(kernel: Kernel) -> list[Service]:
    """``BudgetQueries``: budgets and recorded spend for other plugins (the dashboard)."""
    return [Service(contract=BudgetQueries, implementation=UsageBudgetQueries(kernel))]
