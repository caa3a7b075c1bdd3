"""Liveness and readiness probes: process up, and every configured store answering."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get

from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.types import RouteSet

__all__ = ["PLUGIN_NAME", "VERSION", "Readiness", "enclava_routes"]

PLUGIN_NAME = "health"
VERSION = "1.0.0"


class Readiness(msgspec.Struct):
    """``/health/ready`` body: overall status and one entry per store (None = healthy)."""

    status: str
    stores: dict[str, str | None]


@get("/health/live", sync_to_thread=False, include_in_schema=True)
def live() -> dict[str, str]:
    """The process is up and serving."""
    return {"status": "ok"}


@get("/health/ready")
async def ready(request: Request[Any, Any, Any]) -> Response[Readiness]:
    """200 when every configured store answers, else 503 naming the failing ones."""
    kernel: Kernel = request.app.state.kernel
    stores = await kernel.stores.check()
    failing = sorted(name for name, reason in stores.items() if reason is not None)
    status = "ok" if not failing else f"unavailable: {', '.join(failing)}"
    return Response(Readiness(status=status, stores=stores), status_code=503 if failing else 200)


@hookimpl(trylast=True)
def enclava_routes(kernel: Kernel) -> RouteSet:
    return RouteSet(root=[live, ready])
