"""``create_app()``: the only bridge between pluggy and Litestar.

Each plugin's routes are mounted on its surface (``/api/v1``, ``/api-internal/v1`` or the root)
in a router tagged with the plugin's name, so the gate can answer 404 while it is disabled.
Boot fails (ConfigError) naming every public route that does not declare who may call it
(:mod:`kernel.access`).
"""

from __future__ import annotations

import os
import sys
from copy import copy
from pathlib import Path
from types import MappingProxyType
from typing import Any, Self

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.plugins import PluginProtocol
from litestar.plugins.core import MsgspecDIPlugin
from litestar.types import ControllerRouterHandler

from kernel.access import require_declarations
from kernel.dependencies import KERNEL_STATE_KEY, app_dependencies
from kernel.direct import DirectRoutes, direct_routes, serve_direct, valid_host
from kernel.gate import after_response, before_send, gate, require_gate
from kernel.openapi import openapi_config
from kernel.plugins import PluginManager
from kernel.responses import exception_handlers
from kernel.runtime import Kernel
from kernel.settings import CONFIG_FILE_ENV, Settings, load_settings
from kernel.types import ApiSurface, RouteSet

__all__ = ["SURFACE_PATHS", "create_app", "create_app_from_env"]

SURFACE_PATHS: dict[ApiSurface, str] = {
    "public": "/api/v1",
    "internal": "/api-internal/v1",
    "root": "/",
}


class _Litestar(Litestar):
    """Litestar without its pydantic plugins unless something already imported pydantic.

    Litestar adds them whenever pydantic is installed, importing it (~7 MiB per worker); every
    boundary here is a msgspec struct. A plugin whose routes take or return pydantic models has
    imported pydantic by the time the app is built, and then gets Litestar's defaults unchanged.
    """

    @staticmethod
    def _get_default_plugins(plugins: list[PluginProtocol]) -> list[PluginProtocol]:
        if "pydantic" in sys.modules:
            return Litestar._get_default_plugins(plugins)
        return [*plugins, MsgspecDIPlugin()]

    direct: DirectRoutes = MappingProxyType({})
    """The handlers :mod:`kernel.direct` serves, set by :func:`create_app` once routes exist."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Litestar's entry, but for a request a direct route serves (exact method and path)."""
        if scope["type"] == "http" and not scope.get("root_path"):
            handler = self.direct.get((scope["method"], scope["path"]))
            if handler is not None and valid_host(scope):
                await serve_direct(self, handler, scope, receive, send)
                return
        await super().__call__(scope, receive, send)


class _PluginRouter(Router):
    """A plugin's routes on one surface, built by :func:`create_app` for the app it builds.

    Litestar deep-copies a router it registers, so that one router object may serve several
    apps: every handler's parsed signature, DTOs and dependency graph, ~50 to 130 ms of a start.
    This one serves one app, so it is registered as it is. Its handlers are Litestar's own
    copies already (``Router.register`` copies each), and its dependency providers are copied
    when it is built (they cache per app)."""

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return self


def _plugin_routers(kernel: Kernel) -> list[ControllerRouterHandler]:
    every_plugin = kernel.plugins.names
    routers: list[ControllerRouterHandler] = []
    for plugin, route_set in kernel.plugins.collect("enclava_routes", every_plugin, kernel=kernel):
        if not isinstance(route_set, RouteSet):
            raise TypeError(f"plugin '{plugin}' returned {type(route_set).__name__}, not RouteSet")
        for surface, handlers in (
            ("public", route_set.public),
            ("internal", route_set.internal),
            ("root", route_set.root),
        ):
            if handlers:
                routers.append(
                    _PluginRouter(
                        path=SURFACE_PATHS[surface],  # type: ignore[index]
                        route_handlers=list(handlers),
                        opt={"enclava_plugin": plugin, "enclava_surface": surface},
                        tags=[plugin],
                        dependencies={k: copy(p) for k, p in route_set.dependencies.items()},
                    )
                )
    return routers


def create_app(
    settings: Settings | None = None,
    *,
    plugins: PluginManager | None = None,
    config_file: Path | None = None,
) -> Litestar:
    """Assemble the app from plugin contributions; stores open in the app's startup."""
    plugins = plugins or PluginManager()
    if settings is None:
        settings = load_settings(config_file, plugin_schemas=plugins.settings_schemas())
    kernel = Kernel(settings, plugins)
    app = _Litestar(
        route_handlers=_plugin_routers(kernel),
        before_request=gate,
        before_send=[before_send],
        after_response=after_response,
        exception_handlers=exception_handlers(),
        on_startup=[kernel.start],
        on_shutdown=[kernel.stop],
        request_max_body_size=settings.kernel.server.max_body_bytes,
        openapi_config=openapi_config(title="Enclava", version="0.1.0"),
        dependencies=app_dependencies(kernel),
        state=State({KERNEL_STATE_KEY: kernel}),
        debug=False,
        logging_config=None,
    )
    require_declarations(app)
    require_gate(app)
    app.direct = direct_routes(app)
    return app


def create_app_from_env() -> Litestar:
    """Uvicorn factory for ``enclava serve``: the config file path comes from the environment."""
    config = os.environ.get(CONFIG_FILE_ENV)
    return create_app(config_file=Path(config) if config else None)
