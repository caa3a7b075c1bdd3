"""The rate-limit request check: one atomic ``KV.throttle`` per request, headers on every answer.
On a route that admits a model call the throttle is a step of the request's single admission
round trip (:mod:`kernel.admission`), taken before anything is forwarded.

Which bucket a request draws from, first match wins:

* the route names one (handler opt ``enclava_rate_limit="login"``): ``rl:ip:<bucket>:<ip>`` at
  ``buckets[<bucket>]`` per minute (``anonymous_per_minute`` for a name not configured), whoever
  calls, so credential-guessing routes are limited by source;
* an API key: ``rl:key:<id>`` at the key's ``rate_limit_per_minute`` attribute when it is a
  positive integer, else the surface's default;
* a user (or plugin): ``rl:user:<id>`` (``rl:plugin:<id>``) at the surface's default;
* nobody, on an anonymous route: ``rl:ip:anonymous:<ip>`` at ``anonymous_per_minute``.

The surface's default is ``public_per_minute`` on ``/api/v1`` and ``internal_per_minute`` on
``/api-internal/v1``. Responses carry ``x-ratelimit-limit`` (requests per minute),
``x-ratelimit-remaining`` (requests that would pass now) and ``x-ratelimit-reset`` (whole seconds,
rounded up, until the bucket is full again). An unreachable KV store raises
StoreUnavailableError: the request is refused (503), never let through.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from builtin_plugins.rate_limit.settings import ANONYMOUS_BUCKET, RateLimitSettings
from kernel.errors import RateLimitError
from kernel.storage.kv import StepResult, Throttle, ThrottleStep
from kernel.types import ApiSurface, CheckPhase, Principal, RequestContext

if TYPE_CHECKING:
    from litestar import Request

    from kernel.runtime import Kernel

__all__ = ["BUCKET_OPT", "PERIOD", "RateLimitCheck", "rate_limit_headers"]

BUCKET_OPT = "enclava_rate_limit"
"""Handler opt naming the per-IP bucket a route draws from."""

PERIOD = 60.0
"""Every limit is per minute."""

_KEY_LIMIT_ATTRIBUTE = "rate_limit_per_minute"


def rate_limit_headers(result: Throttle) -> dict[str, str]:
    """The ``x-ratelimit-*`` headers for ``result``; the reset is in seconds, rounded up."""
    return {
        "x-ratelimit-limit": str(result.limit),
        "x-ratelimit-remaining": str(result.remaining),
        "x-ratelimit-reset": str(math.ceil(result.reset_after)),
    }


def _key_limit(principal: Principal) -> int | None:
    value = principal.attributes.get(_KEY_LIMIT_ATTRIBUTE)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


class RateLimitCheck:
    """Post-auth check (order 20) on the public and internal surfaces; 429 over the limit."""

    name = "rate_limit"
    order = 20
    phase: CheckPhase = "post_auth"
    surfaces: frozenset[ApiSurface] = frozenset({"public", "internal"})

    def __init__(self, kernel: Kernel, settings: RateLimitSettings) -> None:
        self._kernel = kernel
        self._settings = settings

    def bucket(self, request: Request[Any, Any, Any], context: RequestContext) -> tuple[str, int]:
        """The KV key and per-minute limit this request draws from."""
        settings = self._settings
        ip = context.client_ip or "unknown"
        named = request.route_handler.opt.get(BUCKET_OPT)
        if isinstance(named, str) and named:
            limit = settings.buckets.get(named, settings.anonymous_per_minute)
            return f"rl:ip:{named}:{ip}", limit
        principal = context.principal
        if principal is None:
            return f"rl:ip:{ANONYMOUS_BUCKET}:{ip}", settings.anonymous_per_minute
        default = (
            settings.public_per_minute
            if context.surface == "public"
            else settings.internal_per_minute
        )
        if principal.kind == "api_key":
            return f"rl:key:{principal.id}", _key_limit(principal) or default
        return f"rl:{principal.kind}:{principal.id}", default

    async def check(self, request: Request[Any, Any, Any], context: RequestContext) -> None:
        """Take one request from the bucket; RateLimitError (429) when it is empty."""
        key, limit = self.bucket(request, context)
        admission = context.admission
        if admission is not None:
            step = ThrottleStep(key=key, limit=limit, period=PERIOD)
            admission.defer(step, lambda result: _decide(result, context))
            return
        result = await self._kernel.stores.kv.throttle(key, limit=limit, period=PERIOD)
        _decide(result, context)


def _decide(result: StepResult, context: RequestContext) -> None:
    """Headers on every answer; RateLimitError (429) when the bucket refused."""
    if not isinstance(result, Throttle):
        raise TypeError(f"a throttle step answered {result!r}")
    context.response_headers.update(rate_limit_headers(result))
    if not result.allowed:
        wait = max(1, math.ceil(result.retry_after))
        raise RateLimitError(
            f"Rate limit reached for requests: limit {result.limit} per minute. "
            f"Try again in {wait}s.",
            retry_after=result.retry_after,
        )
