"""The exchange guard: reserve against budgets before forwarding, settle and record after.

``admit`` looks up the budgets of the caller's user and key (SQL, briefly cached), estimates the
call's cost (prompt: :func:`~builtin_plugins.usage.money.estimate_prompt_tokens` of the body;
completion: ``max_tokens``, else ``default_max_tokens``; embeddings: none) at the highest price
of any provider serving the model, and reserves it on every budget with one atomic KV operation.
A hard budget without room refuses with 402 ``insufficient_quota``; so does a model nobody has
priced, when a hard budget applies. KV or SQL down: 503, never "allow". ``finish`` settles the
reservation with the real cost (see :mod:`.records`), writes one audit event the first time a
budget passes its warning threshold in a period, and queues the usage record.

Settlement always charges the real cost, so a hard limit can only be passed when a call costs
more than its reservation: a prompt denser than 4 bytes per token (some scripts tokenise so), by
that difference at most.
"""

from __future__ import annotations

import logging

from builtin_plugins.usage.budget_store import Budget
from builtin_plugins.usage.ledger import Hold
from builtin_plugins.usage.money import estimate_prompt_tokens
from builtin_plugins.usage.records import build_record, price_moment
from builtin_plugins.usage.runtime import UsageRuntime
from kernel.errors import InsufficientQuotaError
from kernel.exchange import Exchange
from kernel.types import AuditEvent

__all__ = ["STATE_KEY", "UsageGuard"]

log = logging.getLogger(__name__)
STATE_KEY = "usage"


class UsageGuard:
    """Budgets and usage records for every model call (order 50)."""

    name = "usage"
    order = 50

    def __init__(self, runtime: UsageRuntime) -> None:
        self._runtime = runtime

    async def estimate(self, exchange: Exchange) -> int | None:
        """The most this exchange may cost, in accounting micro-units; None when unpriced."""
        runtime = self._runtime
        if exchange.model not in runtime.prices.catalog:
            await runtime.refresh_catalog()  # discovered since the last price sync
        completion = 0
        if exchange.endpoint != "/embeddings":
            completion = exchange.max_tokens or runtime.settings.default_max_tokens
        return runtime.prices.estimate(
            exchange.model,
            price_moment(exchange, runtime.clock()),
            prompt=estimate_prompt_tokens(exchange.body),
            completion=completion,
        )

    async def admit(self, exchange: Exchange) -> None:
        """Reserve the estimate on the caller's budgets; raise to refuse."""
        principal = exchange.principal
        if principal is None:
            return
        runtime = self._runtime
        budgets = await runtime.budgets_for(principal)
        if not budgets:
            return
        try:
            exchange.state[STATE_KEY] = await self._reserve(exchange, budgets)
        except InsufficientQuotaError as refusal:
            exchange.status, exchange.error_code = refusal.status_code, refusal.code
            await self.finish(exchange)  # refusals are recorded too (nothing was forwarded)
            raise

    async def _reserve(self, exchange: Exchange, budgets: list[Budget]) -> Hold:
        estimate = await self.estimate(exchange)
        if estimate is None:
            if any(budget.hard for budget in budgets):
                raise InsufficientQuotaError(
                    f"The model `{exchange.model}` has no price, so requests under a budget "
                    "cannot use it; an administrator must set its price first."
                )
            estimate = 0
        runtime = self._runtime
        return await runtime.ledger.reserve(budgets, estimate, runtime.clock())

    async def finish(self, exchange: Exchange) -> None:
        """Settle, warn and queue the record; never raises."""
        try:
            await self._finish(exchange)
        except Exception:
            log.exception("usage: finishing exchange %s failed", exchange.request_id)

    async def _finish(self, exchange: Exchange) -> None:
        runtime = self._runtime
        hold: Hold | None = exchange.state.get(STATE_KEY)

        fallback = 0
        if hold is not None:
            fallback = hold.amount
        elif exchange.usage is None and exchange.first_token is not None:
            fallback = await self.estimate(exchange) or 0  # a cut stream: charged its estimate
        record = build_record(exchange, runtime.prices, runtime.clock(), fallback)
        if hold is not None:
            try:
                totals = await runtime.ledger.settle(hold, record.cost_micros)
                await self._warn(hold, totals, exchange)
            except Exception:
                # The reservation stays charged: over-counting is the safe side.
                log.exception("usage: settling exchange %s failed", exchange.request_id)
        await runtime.recorder.put(record)

    async def _warn(self, hold: Hold, totals: tuple[int, ...], exchange: Exchange) -> None:
        runtime = self._runtime
        for counter, total in zip(hold.counters, totals, strict=True):
            budget = counter.budget
            percent = budget.warning_percent
            if percent is None or total * 100 < budget.limit_micros * percent:
                continue
            if not await runtime.ledger.first_warning(counter):
                continue
            await runtime.kernel.audit(
                AuditEvent(
                    action="budget.warning",
                    outcome="success",
                    actor_type="system",
                    resource_type="budget",
                    resource_id=budget.id,
                    request_id=exchange.request_id,
                    details={
                        "owner_type": budget.owner_type,
                        "owner_id": budget.owner_id,
                        "period": budget.period,
                        "period_start": counter.window.label,
                        "spent_micros": total,
                        "limit_micros": budget.limit_micros,
                        "warning_percent": percent,
                    },
                )
            )
