"""The exchange guard: reserve against budgets before forwarding, settle and record after.

``admit`` looks up the budgets of the caller's user and key, and of the chatbot it talks
through (SQL, briefly cached) and reserves the most the call can cost (:mod:`.cost_bound`: every
choice, the forwarded completion cap, the prompt counted by bytes, at the dearest provider's
price) on every budget with one atomic KV operation per hash tag. That is one: a chatbot's
counters carry its owner's tag and only its owner's keys and sessions invoke it, except when an
admin talks to another user's chatbot (then the admin's budgets, then the chatbot's, the first
given back when the second refuses). Under a hard budget a request without ``max_tokens`` gets
one injected into the forwarded body (and ``x-enclava-max-tokens``), so the reservation bounds
what the provider can bill. A hard budget without room refuses with 402 ``insufficient_quota``;
so does a model nobody has priced, when a hard budget applies. KV or SQL down: 503, never
"allow". ``finish`` settles the reservation with the real cost (see :mod:`.records`), writes one
audit event the first time a budget passes its warning threshold in a period, and queues the
usage record.

Settlement always charges the real cost. Should it exceed the reservation (a provider ignoring
``max_tokens``, a tokenizer outside the bound's reasoning), the counters show the overspend, the
excess is logged and audited (``budget.overrun``), and a hard budget now at or over its limit
refuses every further priced request.
"""

from __future__ import annotations

import logging
from typing import Any

from builtin_plugins.usage.budget_store import Budget
from builtin_plugins.usage.cost_bound import CostBound
from builtin_plugins.usage.ledger import Hold
from builtin_plugins.usage.records import build_record
from builtin_plugins.usage.runtime import UsageRuntime
from kernel.admission import Admission
from kernel.errors import InsufficientQuotaError, InvalidRequestError
from kernel.exchange import CompletionLimits, Exchange
from kernel.types import AuditEvent, AuditOutcome

__all__ = ["STATE_KEY", "UsageGuard"]

log = logging.getLogger(__name__)
STATE_KEY = "usage"


class UsageGuard:
    """Budgets and usage records for every model call (order 50)."""

    name = "usage"
    order = 50

    def __init__(self, runtime: UsageRuntime) -> None:
        self._runtime = runtime
        self._bound = CostBound(runtime)

    async def estimate(self, exchange: Exchange) -> int | None:
        """The most this exchange may cost, in accounting micro-units; None when unpriced."""
        try:
            limits = exchange.completion_limits()
        except InvalidRequestError:
            limits = CompletionLimits()  # the provider accepted what we would not: one choice
        return await self._bound.estimate(exchange, limits)

    async def admit(self, exchange: Exchange) -> None:
        """Reserve the estimate on the caller's budgets; raise to refuse."""
        principal = exchange.principal
        if principal is None:
            return
        runtime = self._runtime
        budgets = await runtime.budgets_for(principal, exchange.chatbot_id)
        if not budgets:
            return
        try:
            exchange.state[STATE_KEY] = await self._reserve(exchange, budgets)
        except InsufficientQuotaError as refusal:
            exchange.status, exchange.error_code = refusal.status_code, refusal.code
            await self.finish(exchange)  # refusals are recorded too (nothing was forwarded)
            raise

    async def _groups(
        self, exchange: Exchange, budgets: list[Budget]
    ) -> list[tuple[str | None, list[Budget]]]:
        """``budgets`` by the user whose hash tag their counters carry: the caller's user for
        theirs and their key's, the chatbot's owner for the chatbot's."""
        user = None if exchange.principal is None else exchange.principal.owner_id
        chatbot = [budget for budget in budgets if budget.owner_type == "chatbot"]
        owner = user
        if chatbot:
            owner = await self._runtime.chatbot_owner(chatbot[0].owner_id) or user
        if owner == user:
            return [(user, budgets)]
        own = [budget for budget in budgets if budget.owner_type != "chatbot"]
        return [(user, own), (owner, chatbot)] if own else [(owner, chatbot)]

    async def _hold(
        self,
        groups: list[tuple[str | None, list[Budget]]],
        amount: int,
        admission: Admission | None,
    ) -> tuple[Hold, ...]:
        """One reservation per hash tag, all or none: a refusal gives back those made before.
        The first goes out with the request's pending ``admission`` (one KV round trip)."""
        ledger, now = self._runtime.ledger, self._runtime.clock()
        holds: list[Hold] = []
        try:
            for user, group in groups:
                hold = await ledger.reserve(group, amount, now, user=user, admission=admission)
                holds.append(hold)
        except Exception:
            for hold in holds:
                try:
                    await ledger.settle(hold, 0)
                except Exception:  # stays charged: over-counting is the safe side
                    log.exception("usage: giving back a reservation failed")
            raise
        return tuple(holds)

    async def _reserve(self, exchange: Exchange, budgets: list[Budget]) -> tuple[Hold, ...]:
        limits = exchange.completion_limits()
        groups = await self._groups(exchange, budgets)
        hard = [(budget, user) for user, group in groups for budget in group if budget.hard]
        inject = None
        if hard and limits.choices and limits.max_tokens is None:
            inject = await self._bound.max_tokens(exchange, hard, limits.choices)
            limits = CompletionLimits(choices=limits.choices, max_tokens=inject)
        estimate = await self._bound.estimate(exchange, limits)
        if estimate is None:
            if hard:
                raise InsufficientQuotaError(
                    f"The model `{exchange.model}` has no price, so requests under a budget "
                    "cannot use it; an administrator must set its price first."
                )
            estimate = 0
        holds = await self._hold(groups, estimate, exchange.admission)
        if inject is not None:
            exchange.inject_max_tokens(inject)
        return holds

    async def finish(self, exchange: Exchange) -> None:
        """Settle, warn and queue the record; never raises."""
        try:
            await self._finish(exchange)
        except Exception:
            log.exception("usage: finishing exchange %s failed", exchange.request_id)

    async def _finish(self, exchange: Exchange) -> None:
        runtime = self._runtime
        holds: tuple[Hold, ...] = exchange.state.get(STATE_KEY, ())

        fallback = 0
        if holds:
            fallback = holds[0].amount
        elif exchange.usage is None and exchange.first_token is not None:
            fallback = await self.estimate(exchange) or 0  # a cut stream: charged its estimate
        record = build_record(exchange, runtime.prices, runtime.clock(), fallback)
        for hold in holds:
            try:
                totals = await runtime.ledger.settle(hold, record.cost_micros)
                if record.cost_micros > hold.amount:
                    await self._overrun(hold, totals, record.cost_micros, exchange)
                await self._warn(hold, totals, exchange)
            except Exception:
                # The reservation stays charged: over-counting is the safe side.
                log.exception("usage: settling exchange %s failed", exchange.request_id)
        await runtime.recorder.put(record)

    async def _overrun(
        self, hold: Hold, totals: tuple[int, ...], cost: int, exchange: Exchange
    ) -> None:
        """The real cost passed the reservation: already charged in full; say so."""
        log.warning(
            "usage: exchange %s cost %d, %d more than its reservation of %d (model %s, "
            "provider %s)",
            exchange.request_id,
            cost,
            cost - hold.amount,
            hold.amount,
            exchange.model,
            exchange.provider,
        )
        for counter, total in zip(hold.counters, totals, strict=True):
            budget = counter.budget
            details = {
                "reserved_micros": hold.amount,
                "cost_micros": cost,
                "excess_micros": cost - hold.amount,
                "spent_micros": total,
                "limit_micros": budget.limit_micros,
                "hard": budget.hard,
                "model": exchange.model,
                "provider": exchange.provider,
            }
            await self._audit("budget.overrun", "failure", budget, exchange, details)

    async def _warn(self, hold: Hold, totals: tuple[int, ...], exchange: Exchange) -> None:
        runtime = self._runtime
        for counter, total in zip(hold.counters, totals, strict=True):
            budget = counter.budget
            percent = budget.warning_percent
            if percent is None or total * 100 < budget.limit_micros * percent:
                continue
            if not await runtime.ledger.first_warning(counter):
                continue
            details = {
                "owner_type": budget.owner_type,
                "owner_id": budget.owner_id,
                "period": budget.period,
                "period_start": counter.window.label,
                "spent_micros": total,
                "limit_micros": budget.limit_micros,
                "warning_percent": percent,
            }
            await self._audit("budget.warning", "success", budget, exchange, details)

    async def _audit(
        self,
        action: str,
        outcome: AuditOutcome,
        budget: Budget,
        exchange: Exchange,
        details: dict[str, Any],
    ) -> None:
        """One system audit event about ``budget`` for ``exchange``."""
        await self._runtime.kernel.audit(
            AuditEvent(
                action=action,
                outcome=outcome,
                actor_type="system",
                resource_type="budget",
                resource_id=budget.id,
                request_id=exchange.request_id,
                details=details,
            )
        )
