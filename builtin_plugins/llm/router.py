"""Choosing and calling providers: candidates, failover, retries with backoff, circuits.

Candidates serve the model, are healthy, confidential, inside every required region (the
deployment's ``required_region`` and the API key's: both must hold), have a closed circuit and —
where the provider needs it — a valid attestation, and are among the exchange's allowed
providers when it names some (a chatbot's hard filter, kept through failover); then the
exchange's preferred providers in their order, then priority, then the ``enclava_route_model``
hook. A call tries each candidate once per round (failover first), and
between rounds backs off exponentially with jitter (tenacity), honouring ``Retry-After``, all
inside one deadline. Only retryable errors (connect, timeout, 429, 5xx) move on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_base, wait_exponential_jitter

from builtin_plugins.llm.catalog import Catalog, Route
from builtin_plugins.llm.circuit import CircuitBreaker
from builtin_plugins.llm.settings import LlmSettings
from builtin_plugins.llm.wire import rewrite
from kernel.errors import (
    InvalidRequestError,
    ModelNotFoundError,
    ServiceUnavailableError,
    UpstreamError,
)
from kernel.runtime import Kernel
from kernel.upstream import AttestationStatus, Endpoint, UpstreamCall

__all__ = ["NoRouteError", "ProvidersUnreachableError", "Router", "WrongEndpointError"]

T = TypeVar("T")
CIRCUIT_OPEN = "circuit open after repeated failures"
UNATTESTED = AttestationStatus(valid=False, label="none", reason="no valid attestation yet")


class NoRouteError(ServiceUnavailableError):
    """No candidate could take the request; the message names each provider's reason."""

    default_code = "no_available_provider"


class ProvidersUnreachableError(ServiceUnavailableError):
    """No reachable provider lists the model while some providers cannot be reached."""

    default_code = "provider_unreachable"


class WrongEndpointError(InvalidRequestError):
    """The model exists but does not do what this endpoint asks (a client mistake)."""

    default_code = "model_not_supported_for_endpoint"


_ENDPOINT_OF_TASK = {"generate": "/chat/completions", "embed": "/embeddings"}


class _RoundFailed(Exception):
    def __init__(self, errors: list[UpstreamError], skipped: list[str]) -> None:
        super().__init__("every candidate failed")
        self.errors = errors
        self.skipped = skipped


class _BackoffHonouringRetryAfter(wait_base):
    def __init__(self, initial: float, maximum: float) -> None:
        self._jitter = wait_exponential_jitter(multiplier=initial, max=maximum, jitter=initial)
        self._maximum = maximum

    def __call__(self, retry_state: RetryCallState) -> float:
        wait = float(self._jitter(retry_state))
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, _RoundFailed):
            hints = [e.retry_after for e in error.errors if e.retry_after]
            wait = max([wait, *(min(h, self._maximum) for h in hints)])
        return wait


class Router:
    """Routes one request over the kernel's current providers."""

    def __init__(self, kernel: Kernel, breaker: CircuitBreaker) -> None:
        self._kernel = kernel
        self._breaker = breaker
        self._catalog = Catalog()

    @property
    def settings(self) -> LlmSettings:
        return self._kernel.settings.section("llm", LlmSettings)

    async def index(self) -> dict[str, tuple[Route, ...]]:
        """Every routable model id (healthy providers only)."""
        providers = [p for p in self._kernel.components.providers if p.healthy]
        return await self._catalog.index(providers)

    def attestation(self, route: Route) -> AttestationStatus:
        """The verdict gating ``route``: a verifier of the provider's kind decides; without one,
        proxy-attested providers pass and the others are unattested."""
        for verifier in self._kernel.components.verifiers:
            if verifier.provider_kind == route.provider.kind:
                return verifier.status(route.provider.name, route.model)
        if not route.provider.requires_attestation:
            return AttestationStatus(valid=True, label=f"{route.provider.kind}-proxy")
        return UNATTESTED

    async def candidates(
        self,
        model: str,
        task: str,
        *,
        key_region: str | None = None,
        preferred: tuple[str, ...] = (),
        allowed: tuple[str, ...] = (),
    ) -> list[Route]:
        """Ordered routes for ``model`` inside the deployment's region and ``key_region`` (if
        set) and, when ``allowed`` is not empty, among those providers only; ``preferred``
        providers first in their order, then priority. ModelNotFoundError or NoRouteError when
        there are none."""
        routes = (await self.index()).get(model)
        if not routes:
            raise self._not_listed(model)
        supported = {task for route in routes for task in route.model.tasks}
        if task not in supported:
            raise self._wrong_endpoint(model, supported)
        region = self.settings.required_region
        usable: list[Route] = []
        reasons: list[str] = []
        for route in routes:
            reason = self._exclusion(route, task, region, key_region)
            if not reason and allowed and route.provider.name not in allowed:
                reason = "not among the allowed providers"
            if reason:
                reasons.append(f"{route.provider.name}: {reason}")
            else:
                usable.append(route)
        if not usable:
            raise NoRouteError(f"No provider can serve `{model}` now ({'; '.join(reasons)}).")
        rank = {name: index for index, name in enumerate(preferred)}
        usable.sort(key=lambda r: (rank.get(r.provider.name, len(rank)), r.provider.priority))
        ordered = self._kernel.route_model(model, usable)
        # A routing plugin may reorder, never reach a provider the exchange may not use.
        chosen = [r for r in ordered if not allowed or r.provider.name in allowed]
        if not chosen:
            raise NoRouteError(f"No allowed provider can serve `{model}` now.")
        return chosen

    def _not_listed(self, model: str) -> ModelNotFoundError | ProvidersUnreachableError:
        """404 when every provider answers and none lists ``model``; 503 naming the providers
        that cannot be reached otherwise (the model may be theirs)."""
        down = [p for p in self._kernel.components.providers if not p.healthy]
        if not down:
            return ModelNotFoundError(model)
        reasons = "; ".join(f"{p.name}: {p.problem or 'unreachable'}" for p in down)
        return ProvidersUnreachableError(
            f"No reachable provider lists `{model}`, and some providers cannot be reached "
            f"({reasons}).",
            param="model",
        )

    @staticmethod
    def _wrong_endpoint(model: str, supported: set[str]) -> WrongEndpointError:
        endpoints = ", ".join(sorted(_ENDPOINT_OF_TASK.get(t, t) for t in supported))
        return WrongEndpointError(
            f"The model `{model}` is not served on this endpoint; it supports {endpoints}.",
            param="model",
        )

    def _exclusion(self, route: Route, task: str, region: str, key_region: str | None) -> str:
        if task not in route.model.tasks:
            return f"model does not support {task}"
        if region and route.provider.region != region:
            return f"outside the required region {region}"
        if key_region and route.provider.region != key_region:
            return f"outside the API key's required region {key_region}"
        if self._breaker.state(route.provider.name) == "open":
            return CIRCUIT_OPEN
        status = self.attestation(route)
        return "" if status.valid else f"attestation not valid ({status.reason or status.label})"

    async def dispatch(
        self, routes: list[Route], attempt: Callable[[Route], Awaitable[T]]
    ) -> tuple[Route, T]:
        """Run ``attempt`` over ``routes`` with failover and backoff rounds until one succeeds."""
        cfg = self.settings
        deadline = time.monotonic() + cfg.request_deadline_seconds
        tries: dict[str, int] = {}
        try:  # the common case: the first round succeeds; tenacity only after a failure
            return await self._round(routes, attempt, tries, deadline)
        except _RoundFailed as failed:
            first = failed
        first_errors = first.errors
        rounds = max(r.provider.max_retries for r in routes)
        hints = [min(e.retry_after, cfg.backoff_max_seconds) for e in first_errors if e.retry_after]
        pause = max([cfg.backoff_initial_seconds, *hints])
        if rounds == 0 or time.monotonic() + pause >= deadline:
            raise self._exhausted(routes[0].model.id, first)
        await asyncio.sleep(pause)
        retrying = AsyncRetrying(
            stop=stop_after_attempt(rounds),
            wait=_BackoffHonouringRetryAfter(cfg.backoff_initial_seconds, cfg.backoff_max_seconds),
            retry=retry_if_exception_type(_RoundFailed),
            before_sleep=lambda state: _check_deadline(state, deadline),
            reraise=True,
        )
        try:
            async for try_round in retrying:
                with try_round:
                    return await self._round(routes, attempt, tries, deadline)
        except _RoundFailed as failed:
            raise self._exhausted(routes[0].model.id, failed) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _round(
        self,
        routes: list[Route],
        attempt: Callable[[Route], Awaitable[T]],
        tries: dict[str, int],
        deadline: float,
    ) -> tuple[Route, T]:
        errors: list[UpstreamError] = []
        skipped: list[str] = []
        for route in routes:
            provider = route.provider
            if tries.get(provider.name, 0) > provider.max_retries:
                continue
            reason = await self._skip_reason(route)
            if reason:
                skipped.append(f"{provider.name}: {reason}")
                continue
            tries[provider.name] = tries.get(provider.name, 0) + 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            started = time.time()
            with self._kernel.components.tracer.span(
                "provider.attempt",
                provider=provider.name,
                model=route.model.id,
                attempt=tries[provider.name],
            ) as span:
                try:
                    async with asyncio.timeout(remaining):
                        result = await attempt(route)
                except TimeoutError:
                    span.set_attribute("outcome", "timeout")
                    error = UpstreamError(
                        "deadline exceeded", provider=provider.name, retryable=True
                    )
                except UpstreamError as exc:
                    span.set_attribute("outcome", "retryable_error" if exc.retryable else "error")
                    if not exc.retryable:
                        raise
                    error = exc
                else:
                    span.set_attribute("outcome", "ok")
                    await self._breaker.record_success(provider.name)
                    return route, result
            errors.append(error)
            await self._breaker.record_failure(provider.name, started=started)
        raise _RoundFailed(errors, skipped)

    async def _skip_reason(self, route: Route) -> str:
        """Why ``route`` is not tried this round ("" when it is)."""
        if not self._breaker.allows(route.provider.name):
            return CIRCUIT_OPEN
        if not await self._within_budget(route):
            return "requests_per_minute budget used up"
        return ""

    async def _within_budget(self, route: Route) -> bool:
        limit = route.provider.requests_per_minute
        if limit is None:
            return True
        key = f"llm:provider-rpm:{route.provider.name}"
        decision = await self._kernel.stores.kv.throttle(key, limit=limit, period=60.0)
        return decision.allowed

    @staticmethod
    def _exhausted(model: str, failed: _RoundFailed) -> NoRouteError:
        """The 503 naming each provider's reason: its last error, or why it was skipped."""
        reasons = "; ".join(
            [*(f"{e.provider}: {e.message}" for e in failed.errors), *failed.skipped]
        )
        if not failed.errors:
            return NoRouteError(f"No provider can serve `{model}` now ({reasons or 'all busy'}).")
        return NoRouteError(f"Every provider for `{model}` failed ({reasons}).")

    @staticmethod
    def call(
        route: Route, endpoint: Endpoint, body: bytes, *, stream: bool, rid: str, usage: bool
    ) -> UpstreamCall:
        """The provider call for ``route``: the provider's model id, usage asked for if needed."""
        upstream = route.model.upstream_id
        body = rewrite(
            body, model=None if upstream == route.model.id else upstream, include_usage=usage
        )
        return UpstreamCall(
            endpoint=endpoint, body=body, stream=stream, model=route.model, request_id=rid
        )


def _check_deadline(state: RetryCallState, deadline: float) -> None:
    sleep = state.next_action.sleep if state.next_action else 0.0
    if time.monotonic() + sleep >= deadline:
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, _RoundFailed):
            raise error
