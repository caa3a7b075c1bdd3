"""Liveness and readiness probes: process up, and every configured store answering.

Providers are reported beside the stores but do not decide the status code: a replica whose
stores answer is ready to serve whatever providers are reachable (and to say which are not).
"""

from __future__ import annotations

import msgspec
from litestar import Response, get
from litestar.openapi import ResponseSpec

from kernel.dependencies import NamedDependency
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.types import RouteSet

__all__ = ["PLUGIN_NAME", "VERSION", "Readiness", "enclava_routes"]

PLUGIN_NAME = "health"
VERSION = "1.0.0"


class Readiness(msgspec.Struct):
    """``/health/ready`` body: overall status, then one entry per store and per provider
    (None = healthy, else what is wrong)."""

    status: str
    stores: dict[str, str | None]
    providers: dict[str, str | None]


@get("/health/live", sync_to_thread=False, include_in_schema=True)
def live() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


@get(
    "/health/ready",
    responses={
        503: ResponseSpec(
            data_container=Readiness, description="A store does not answer (`stores` names it)."
        )
    },
)
async def ready(kernel: NamedDependency[Kernel]) -> Response[Readiness]:
    """200 when every configured store answers, else 503 naming the failing ones; the body
    also names unreachable providers."""
    stores = await kernel.stores.check()
    providers = {p.name: p.problem for p in kernel.components.providers}
    failing = sorted(name for name, reason in stores.items() if reason is not None)
    status = "ok" if not failing else f"unavailable: {', '.join(failing)}"
    body = Readiness(status=status, stores=stores, providers=providers)
    return Response(body, status_code=503 if failing else 200)


@hookimpl(trylast=True)
def enclava_routes(kernel: Kernel) -> RouteSet:
    return RouteSet(root=[live, ready])
