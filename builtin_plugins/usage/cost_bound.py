"""The most one exchange can cost: what admission reserves, and the ``max_tokens`` it forwards.

A provider bills the prompt once and every completion token of every choice. The bound counts:

* prompt: :func:`~builtin_plugins.usage.money.estimate_prompt_tokens` of the body (a byte is at
  least a token), no more than the model's context length when every provider states one;
* completion: every choice (``n``, or ``best_of`` when larger) times the per-choice cap the body
  forwards (the larger of ``max_tokens`` and ``max_completion_tokens``); embeddings none;
* price: the dearest provider serving the model (the route is not chosen yet).

A request without a cap under a hard budget gets one (:meth:`CostBound.max_tokens`): the
smaller of what the model can generate (its context less the prompt bound, else
``usage.default_max_tokens``) and what the tightest hard budget's remaining room can pay. Without
a hard budget nothing is injected and the reservation assumes ``default_max_tokens`` a choice
(soft budgets never refuse, so it only decides what a cut stream is charged).
"""

from __future__ import annotations

from datetime import datetime

from builtin_plugins.usage.budget_store import Budget
from builtin_plugins.usage.money import estimate_prompt_tokens
from builtin_plugins.usage.records import price_moment
from builtin_plugins.usage.runtime import UsageRuntime
from kernel.exchange import CompletionLimits, Exchange

__all__ = ["CostBound"]


class CostBound:
    """Upper bounds of an exchange's cost under the runtime's prices and settings."""

    def __init__(self, runtime: UsageRuntime) -> None:
        self._runtime = runtime

    async def _known(self, model: str) -> None:
        runtime = self._runtime
        if model not in runtime.prices.catalog:
            await runtime.refresh_catalog()  # discovered since the last price sync

    def prompt(self, exchange: Exchange) -> int:
        """Prompt tokens the provider can bill at most."""
        tokens = estimate_prompt_tokens(exchange.body)
        context = self._runtime.context_length(exchange.model)
        return tokens if context is None else min(tokens, context)

    async def estimate(self, exchange: Exchange, limits: CompletionLimits) -> int | None:
        """The most ``exchange`` may cost under ``limits``, in accounting micro-units; None when
        no provider serving the model is priced."""
        runtime = self._runtime
        await self._known(exchange.model)
        per_choice = limits.max_tokens or runtime.settings.default_max_tokens
        return runtime.prices.estimate(
            exchange.model,
            price_moment(exchange, runtime.clock()),
            prompt=self.prompt(exchange),
            completion=limits.choices * per_choice,
        )

    async def max_tokens(
        self, exchange: Exchange, hard: list[tuple[Budget, str | None]], choices: int
    ) -> int:
        """The per-choice cap to forward for a request that sets none (at least 1: a budget
        that cannot pay one token a choice refuses the reservation); ``hard``: each hard budget
        with the user whose hash tag its counter carries (:func:`.ledger.slot_of`)."""
        runtime = self._runtime
        await self._known(exchange.model)
        prompt = self.prompt(exchange)
        context = runtime.context_length(exchange.model)
        cap = runtime.settings.default_max_tokens
        if context is not None and context > prompt:
            cap = context - prompt  # also what a strict provider accepts with this prompt
        now = runtime.clock()
        room = min([await self._room(budget, now, user) for budget, user in hard])
        affordable = runtime.prices.affordable(
            exchange.model, price_moment(exchange, now), prompt=prompt, micros=max(room, 0)
        )
        if affordable is not None:
            cap = min(cap, affordable // choices)
        return max(cap, 1)

    async def _room(self, budget: Budget, now: datetime, user: str | None) -> int:
        _window, spent = await self._runtime.ledger.spent(budget, now, user=user)
        return budget.limit_micros - spent
