"""The dashboard's router at ``/dashboard``: pages, the live feed and the vendored assets."""

from __future__ import annotations

from pathlib import Path

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide
from litestar.static_files import create_static_files_router

from builtin_plugins.dashboard.pages_auth import AUTH_HANDLERS
from builtin_plugins.dashboard.pages_keys import KEYS_HANDLERS
from builtin_plugins.dashboard.pages_overview import OVERVIEW_HANDLERS
from builtin_plugins.dashboard.render import Pages, exception_handlers

__all__ = ["PREFIX", "STATIC", "dashboard_router"]

PREFIX = "/dashboard"
STATIC = Path(__file__).parent / "static"
_ASSET_MAX_AGE = 3600


def dashboard_router() -> Router:
    """Every dashboard route, with one template renderer shared by its handlers."""
    pages = Pages()

    def provide_pages() -> Pages:
        return pages

    assets = create_static_files_router(
        path="/static",
        directories=[STATIC],
        cache_control=CacheControlHeader(max_age=_ASSET_MAX_AGE),
        include_in_schema=False,
    )
    return Router(
        path=PREFIX,
        route_handlers=[*AUTH_HANDLERS, *OVERVIEW_HANDLERS, *KEYS_HANDLERS, assets],
        dependencies={"pages": Provide(provide_pages, sync_to_thread=False)},
        exception_handlers=exception_handlers(),
        include_in_schema=False,
    )
