"""``GET /metrics``: the Prometheus text exposition, for a scraper holding ``metrics.token``."""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request, Response, get

from builtin_plugins.metrics.runtime import MetricsRuntime
from kernel.dependencies import NamedDependency
from kernel.errors import AuthenticationError, NotFoundError
from kernel.runtime import Kernel

__all__ = ["ROOT_ROUTES", "require_token"]

_BEARER = "bearer "
MEDIA_TYPE = "text/plain; version=0.0.4"
"""What ``generate_latest`` writes (Litestar adds ``charset=utf-8``)."""


def require_token(authorization: str | None, token: str) -> None:
    """AuthenticationError (401) unless ``authorization`` is ``Bearer <token>``; the comparison
    takes the same time however much of the token matches."""
    sent = authorization or ""
    sent = sent[len(_BEARER) :].strip() if sent[: len(_BEARER)].lower() == _BEARER else ""
    if not token or not hmac.compare_digest(sent.encode(), token.encode()):
        raise AuthenticationError(
            "Send the metrics token as 'Authorization: Bearer TOKEN' (metrics.token).",
            headers={"www-authenticate": 'Bearer realm="metrics"'},
        )


@get(
    "/metrics",
    media_type=MEDIA_TYPE,
    summary="Prometheus metrics",
    description=(
        "Prometheus text exposition format 0.0.4. Served while `metrics.enabled`; the scraper "
        "sends `Authorization: Bearer <metrics.token>` (401 otherwise, 404 while disabled)."
    ),
)
async def prometheus_metrics(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel]
) -> Response[str]:
    """Every metric family, for a scraper with the metrics token."""
    runtime = MetricsRuntime.of(kernel)
    settings = runtime.settings
    if not settings.enabled:
        raise NotFoundError(f"Invalid URL (GET {request.url.path})")
    require_token(request.headers.get("authorization"), settings.token)
    body = await runtime.exposition()
    return Response(body.decode(), media_type=MEDIA_TYPE)


ROOT_ROUTES = [prometheus_metrics]
