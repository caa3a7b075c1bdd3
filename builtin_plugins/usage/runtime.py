"""Per-kernel state of the plugin: clock, price book, budget cache, ledger and recorder.

Each kernel (one per app, so two replicas in one process stay apart) gets one
:class:`UsageRuntime`, kept in its stash. Price and budget changes are announced on the KV
channel ``usage.changed``; every replica reloads prices and drops its budget cache at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from builtin_plugins.usage.budget_store import Budget, OwnerType, budgets_for
from builtin_plugins.usage.ledger import BudgetLedger
from builtin_plugins.usage.periods import PeriodWindow
from builtin_plugins.usage.price_store import insert_price, load_prices
from builtin_plugins.usage.prices import PriceBook, Target
from builtin_plugins.usage.queries import RecordFilter, recorded_cost
from builtin_plugins.usage.recorder import UsageRecorder
from builtin_plugins.usage.settings import UsageSettings
from kernel.exchange import UsageSink
from kernel.plugin_runtime import PluginRuntime
from kernel.runtime import Kernel
from kernel.services import ChatbotDirectory, ServiceMissingError
from kernel.types import Principal
from kernel.upstream import ModelPrice

__all__ = ["CHANGED_CHANNEL", "SECTION", "UsageRuntime", "owners_of", "runtime_for"]

log = logging.getLogger(__name__)
CHANGED_CHANNEL = "usage.changed"
SECTION = "usage"
_CATALOG_EVERY = 1.0
Catalog = dict[str, list[tuple[Target, ModelPrice | None]]]


def owners_of(principal: Principal, chatbot_id: str | None = None) -> list[tuple[OwnerType, str]]:
    """The budget owners a principal spends for: its user, its key when it is one, and the
    chatbot it talks through; a sandboxed plugin calling the gateway itself spends its own
    budget only."""
    if principal.kind == "plugin":
        return [("plugin", principal.id)]
    owners: list[tuple[OwnerType, str]] = [("user", principal.owner_id)]
    if principal.kind == "api_key":
        owners.append(("api_key", principal.id))
    if chatbot_id is not None:
        owners.append(("chatbot", chatbot_id))
    return owners


def _utc_now() -> datetime:
    return datetime.now(UTC)


class UsageRuntime(PluginRuntime[UsageSettings]):
    """Everything the guard, the routes and the tasks of one kernel share."""

    section = SECTION
    schema = UsageSettings
    channel = CHANGED_CHANNEL

    def __init__(self, kernel: Kernel) -> None:
        super().__init__(kernel)
        self.clock: Callable[[], datetime] = _utc_now
        """The wall clock budgets and records use (tests swap it)."""
        self.prices = PriceBook((), self.settings)
        self._catalog: Catalog = {}
        self._contexts: dict[str, int | None] = {}
        self._catalog_read = 0.0
        self._budgets: dict[tuple[tuple[OwnerType, str], ...], tuple[float, list[Budget]]] = {}
        self._loading: dict[tuple[tuple[OwnerType, str], ...], asyncio.Future[list[Budget]]] = {}
        self._budget_generation = 0
        self._chatbot_owners: dict[str, str] = {}
        self._ledger: tuple[UsageSettings, BudgetLedger] | None = None
        self._recorder: UsageRecorder | None = None

    @property
    def ledger(self) -> BudgetLedger:
        settings = self.settings
        if self._ledger is None or self._ledger[0] is not settings:
            ledger = BudgetLedger(
                self.kernel.stores.kv,
                ZoneInfo(settings.timezone),
                settings.currency,
                recorded=self._recorded,
            )
            self._ledger = (settings, ledger)
        return self._ledger[1]

    @property
    def recorder(self) -> UsageRecorder:
        if self._recorder is None:
            raise RuntimeError("the usage plugin has not started")
        return self._recorder

    async def _recorded(self, budget: Budget, period: PeriodWindow) -> int:
        column = {"api_key": "key_id", "chatbot": "chatbot_id"}.get(budget.owner_type, "user_id")
        owner = {column: budget.owner_id}
        # Spend before the budget existed never counted in KV, so the seed skips it too.
        start = budget.created_at if period.start is None else max(period.start, budget.created_at)
        scope = RecordFilter(start=start, end=period.end, **owner)
        return await recorded_cost(self.kernel.stores.db, scope)

    def _sinks(self) -> Sequence[UsageSink]:
        return self.kernel.components.usage_sinks

    async def start(self) -> None:
        """Start the writer, load prices and listen for changes from any replica."""
        settings = self.settings
        if self._recorder is None:
            self._recorder = UsageRecorder(
                self.kernel.stores.db,
                zone=ZoneInfo(settings.timezone),
                interval=settings.flush_interval_seconds,
                batch_size=settings.batch_size,
                queue_size=settings.queue_size,
                sinks=self._sinks,
                meter=lambda: self.kernel.components.meter,
            )
            self._recorder.start()
        await self.reload_prices()
        await super().start()

    async def stop(self) -> None:
        """Stop listening and write every queued record."""
        await super().stop()
        if self._recorder is not None:
            await self._recorder.stop()
            self._recorder = None

    async def reload_prices(self) -> None:
        """Rebuild the price book from SQL, the settings and the last catalog."""
        rows = await load_prices(self.kernel.stores.db)
        self.prices = PriceBook(rows, self.settings, self._catalog)

    async def refresh_catalog(self) -> None:
        """Re-read which providers serve which model, and their list prices (memory only; at
        most once a second, as the guard calls it for models it has not seen)."""
        now = time.monotonic()
        if now - self._catalog_read < _CATALOG_EVERY:
            return
        self._catalog_read = now
        catalog: Catalog = {}
        contexts: dict[str, list[int | None]] = {}
        for provider in self.kernel.components.providers:
            for model in await provider.list_models():
                catalog.setdefault(model.id, []).append(
                    ((provider.name, model.upstream_id), model.pricing)
                )
                contexts.setdefault(model.id, []).append(model.context_length)
        self._catalog = catalog
        self._contexts = {
            model: None if None in lengths else max(n for n in lengths if n is not None)
            for model, lengths in contexts.items()
        }
        self.prices = PriceBook(self.prices.rows, self.settings, catalog)

    def context_length(self, model: str) -> int | None:
        """The largest context (prompt + completion tokens) of any provider serving ``model``,
        when every one of them states it (as of the last catalog read)."""
        return self._contexts.get(model)

    async def sync_prices(self) -> None:
        """Background task: refresh the catalog and store list prices that changed."""
        self._catalog_read = 0.0
        await self.refresh_catalog()
        await self.reload_prices()
        catalog = self._catalog
        stored = False
        for target, listed in {t: p for entries in catalog.values() for t, p in entries}.items():
            known = [r for r in self.prices.history(target) if r.source == "discovery"]
            if listed is not None and (not known or known[-1].price != listed):
                await insert_price(
                    self.kernel.stores.db,
                    provider=target[0],
                    model=target[1],
                    price=listed,
                    source="discovery",
                )
                stored = True
        if stored:
            await self.announce()

    async def budgets_for(
        self, principal: Principal, chatbot_id: str | None = None
    ) -> list[Budget]:
        """Budgets ``principal`` spends against, through ``chatbot_id`` when given (cached
        briefly; SQL down → 503)."""
        owners = tuple(owners_of(principal, chatbot_id))
        ttl = self.settings.budget_cache_seconds
        now = time.monotonic()
        cached = self._budgets.get(owners)
        if cached is not None and cached[0] > now:
            return cached[1]
        loading = self._loading.get(owners)
        if loading is None:  # concurrent misses share one query (a cache expiry under load)
            loading = asyncio.ensure_future(self._load_budgets(owners, now + ttl))
            self._loading[owners] = loading
        return await asyncio.shield(loading)

    async def _load_budgets(
        self, owners: tuple[tuple[OwnerType, str], ...], expires: float
    ) -> list[Budget]:
        generation = self._budget_generation
        try:
            budgets = await budgets_for(self.kernel.stores.db, owners)
        finally:
            if self._loading.get(owners) is asyncio.current_task():
                del self._loading[owners]
        if self.settings.budget_cache_seconds > 0 and generation == self._budget_generation:
            if len(self._budgets) >= 10_000:
                self._budgets.clear()
            self._budgets[owners] = (expires, budgets)  # not when a change came meanwhile
        return budgets

    async def chatbot_owner(self, chatbot_id: str) -> str | None:
        """The user owning ``chatbot_id`` (cached: an owner never changes); None when it is
        gone or the chatbots plugin is disabled."""
        owner = self._chatbot_owners.get(chatbot_id)
        if owner is None:
            try:
                directory = self.kernel.service(ChatbotDirectory)
            except ServiceMissingError:
                return None
            owner = await directory.owner_of(chatbot_id)
            if owner is not None:
                if len(self._chatbot_owners) >= 10_000:
                    self._chatbot_owners.clear()
                self._chatbot_owners[chatbot_id] = owner
        return owner

    async def announce(self) -> None:
        """Apply a price or budget change here, then on every replica."""
        await self.on_changed(b"")
        await self.publish(b"changed")

    async def on_changed(self, message: bytes) -> None:
        """Drop cached budgets and reload prices (any message: it only says "changed")."""
        self._budgets.clear()
        self._loading.clear()  # a lookup begun before the change serves only its own callers
        self._budget_generation += 1
        await self.reload_prices()


def runtime_for(kernel: Kernel) -> UsageRuntime:
    """The runtime of ``kernel`` (``UsageRuntime.of``; the name other usage modules import)."""
    return UsageRuntime.of(kernel)
