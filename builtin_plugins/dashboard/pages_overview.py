"""The overview page and its live feed: an SSE stream of the rendered overview, refreshed every
``[dashboard] live_refresh_seconds`` while the session lasts (then one ``expired`` event and the
stream ends)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, Response, get
from litestar.response import ServerSentEvent, ServerSentEventMessage

from builtin_plugins.dashboard.api import ApiFailure, InternalApi
from builtin_plugins.dashboard.overview import providers, today
from builtin_plugins.dashboard.pages_auth import session_csrf
from builtin_plugins.dashboard.render import SECURITY_HEADERS, Pages
from builtin_plugins.dashboard.session import (
    PasswordChangeRequired,
    SignInRequired,
    Viewer,
    load_viewer,
)
from builtin_plugins.dashboard.settings import SECTION, DashboardSettings
from kernel.dependencies import NamedDependency
from kernel.runtime import Kernel

__all__ = ["OVERVIEW_HANDLERS"]


async def _figures(
    request: Request[Any, Any, Any], kernel: Kernel, viewer: Viewer
) -> dict[str, Any]:
    """What the live part of the overview shows."""
    return {
        "viewer": viewer,
        "today": await today(InternalApi(request, viewer.token)),
        "providers": await providers(kernel, show_problems=viewer.is_admin),
    }


@get("/")
async def overview_page(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], pages: NamedDependency[Pages]
) -> Response[Any]:
    """Today's requests and spend, and the providers with health, circuit and attestation."""
    viewer = await load_viewer(request)
    figures = await _figures(request, kernel, viewer)
    return pages.page("overview.html", csrf=session_csrf(kernel, viewer.token), **figures)


async def _events(
    request: Request[Any, Any, Any], kernel: Kernel, pages: Pages
) -> AsyncIterator[ServerSentEventMessage]:
    settings = kernel.settings.section(SECTION, DashboardSettings)
    deadline = asyncio.get_running_loop().time() + settings.live_stream_seconds
    while True:
        try:
            viewer = await load_viewer(request)
        except (SignInRequired, PasswordChangeRequired):
            yield ServerSentEventMessage(event="expired", data="expired")
            return
        except ApiFailure:
            viewer = None  # a busy API (429, 503): skip this refresh, keep the stream
        if viewer is not None:
            html = pages.html("overview_live.html", **await _figures(request, kernel, viewer))
            yield ServerSentEventMessage(event="overview", data=" ".join(html.splitlines()))
        if asyncio.get_running_loop().time() >= deadline:
            return
        await asyncio.sleep(settings.live_refresh_seconds)


@get("/overview/events")
async def overview_events(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], pages: NamedDependency[Pages]
) -> Response[Any]:
    """``text/event-stream`` of ``overview`` events; 204 without a session (the browser's
    EventSource then stops reconnecting)."""
    try:
        await load_viewer(request)
    except (SignInRequired, PasswordChangeRequired):
        return Response(b"", status_code=204, headers=SECURITY_HEADERS)
    return ServerSentEvent(_events(request, kernel, pages), headers=SECURITY_HEADERS)


OVERVIEW_HANDLERS = [overview_page, overview_events]
