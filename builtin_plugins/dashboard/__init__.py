"""The web dashboard at ``/dashboard``: server-rendered pages (Jinja2 + htmx, every asset vendored
in ``static/``), a cookie session holding the internal API's access token, CSRF tokens on every
form, and a live overview by SSE. Pages act only through the internal API and kernel services,
so whatever they show or change is decided by the same rules as the API."""

from __future__ import annotations

from builtin_plugins.dashboard.routes import dashboard_router
from builtin_plugins.dashboard.settings import SECTION, DashboardSettings
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.types import RouteSet, SettingsSection

__all__ = ["PLUGIN_NAME", "VERSION"]

PLUGIN_NAME = "dashboard"
VERSION = "1.0.0"


@hookimpl
def enclava_settings_schema() -> SettingsSection:
    return SettingsSection(name=SECTION, schema=DashboardSettings)


@hookimpl
def enclava_routes(kernel: Kernel) -> RouteSet:
    return RouteSet(root=[dashboard_router()])
