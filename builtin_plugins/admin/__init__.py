"""Admin internal API: plugins (list, toggle, configure) and runtime settings."""

from __future__ import annotations

from builtin_plugins.admin.plugins_api import PLUGIN_ROUTES
from builtin_plugins.admin.settings_api import SETTINGS_ROUTES
from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel
from kernel.types import RouteSet

__all__ = ["PLUGIN_NAME", "VERSION"]

PLUGIN_NAME = "admin"
VERSION = "1.0.0"


@hookimpl
def enclava_routes(kernel: Kernel) -> RouteSet:
    return RouteSet(internal=[*PLUGIN_ROUTES, *SETTINGS_ROUTES])
