"""Plugin endpoints as Litestar routes: ``/plugins/<name><path>`` on the public surface (API key
scope ``plugins.invoke``) and the internal one (JWT), one concrete handler per declared
endpoint (and ``execute``), so each is in the OpenAPI schema and passes the same gate and rate
limits.

A plugin installed while the app runs (uploaded here or on another replica) is served by
:func:`dynamic_handlers`, which route ``/plugins/<name>/<path>`` to the endpoint the plugin's
manifest declares; the concrete routes of boot-time plugins take precedence.
"""

from __future__ import annotations

import json
from typing import Any, get_args

import msgspec
from litestar import Litestar, Request, Response, Router, route
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath

from builtin_plugins.wasm_plugins.answers import answer_of, caller_of, failure_of
from builtin_plugins.wasm_plugins.execute import SCOPE, execute_call, execute_handler
from builtin_plugins.wasm_plugins.host import PLUGIN_NAME, host_of
from builtin_plugins.wasm_plugins.openapi import endpoint_doc
from builtin_plugins.wasm_plugins.registry import Installed
from kernel.app import SURFACE_PATHS
from kernel.dependencies import NamedDependency
from kernel.errors import NotFoundError, PayloadTooLargeError
from kernel.openapi import OPERATION_DOC
from kernel.runtime import Kernel
from kernel.sandbox import CallFailed
from kernel.sandbox.manifest import EndpointSpec, Method

__all__ = ["SCOPE", "dynamic_handlers", "endpoint_handlers", "mount"]

_METHODS = get_args(Method)
_SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})


def _payload(request: Request[Any, Any, Any], path: str, body: bytes) -> str:
    return json.dumps(
        {
            "method": request.method,
            "path": path,
            "query": dict(request.query_params),
            "headers": {
                k: v for k, v in request.headers.items() if k.lower() not in _SECRET_HEADERS
            },
            "body": body.decode("utf-8", "replace"),
            "caller": msgspec.to_builtins(caller_of(request)),
        }
    )


async def _forward(
    request: Request[Any, Any, Any], kernel: Kernel, name: str, path: str
) -> Response[bytes]:
    host = host_of(kernel)
    plugin = host.runnable(name)
    if not any(e.method == request.method and e.path == path for e in plugin.manifest.endpoints):
        raise NotFoundError(f"Plugin '{name}' has no endpoint {request.method} {path}.")
    body = await request.body()
    if len(body) > plugin.manifest.limits.max_request_bytes:
        raise PayloadTooLargeError(
            f"Plugin '{name}' accepts at most {plugin.manifest.limits.max_request_bytes} bytes."
        )
    try:
        raw = await host.call(name, "endpoint", _payload(request, path, body))
    except CallFailed as exc:
        raise failure_of(exc) from None
    return answer_of(name, raw)


async def invoke(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel]
) -> Response[bytes]:
    """Forward the request to the plugin's ``handle`` and return its answer."""
    opt = request.route_handler.opt
    return await _forward(request, kernel, opt["wasm"], opt["wasm_path"])


async def invoke_installed(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    plugin: FromPath[str],
    rest: FromPath[str],
) -> Response[bytes]:
    """``/plugins/<plugin><rest>`` of a plugin installed while the app runs."""
    return await _forward(request, kernel, plugin, rest)


async def invoke_installed_root(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], plugin: FromPath[str]
) -> Response[bytes]:
    """``/plugins/<plugin>``: the default action (``POST``, when declared) or the ``/``
    endpoint of a plugin installed while the app runs."""
    if request.method == "POST" and host_of(kernel).runnable(plugin).manifest.execute:
        return await execute_call(request, kernel, plugin)
    return await _forward(request, kernel, plugin, "/")


def dynamic_handlers(surface: str) -> list[HTTPRouteHandler]:
    """Catch-all routes (not in the OpenAPI schema) serving plugins installed at run time."""
    # internal: the default roles (reads read_only, else user), as for concrete routes
    opt = {"enclava_scope": SCOPE} if surface == "public" else {}
    common: dict[str, Any] = {"include_in_schema": False, "status_code": 200}
    return [
        route(
            "/plugins/{plugin:str}/{rest:path}",
            http_method=list(_METHODS),
            name=f"wasm_{surface}_installed",
            opt=dict(opt),
            **common,
        )(invoke_installed),
        route(
            "/plugins/{plugin:str}",
            http_method=list(_METHODS),
            name=f"wasm_{surface}_installed_root",
            opt=dict(opt),
            **common,
        )(invoke_installed_root),
    ]


def _handler(installed: Installed, spec: EndpointSpec, surface: str) -> HTTPRouteHandler:
    name = installed.name
    slug = spec.path.strip("/").replace("/", "_").replace(".", "_").replace("-", "_") or "root"
    opt: dict[str, Any] = {
        "wasm": name,
        "wasm_path": spec.path,
        OPERATION_DOC: endpoint_doc(spec.method),
    }
    if surface == "public":
        opt["enclava_scope"] = SCOPE  # internal: the default roles (reads read_only, else user)
    return route(
        f"/plugins/{name}{spec.path}",
        http_method=[spec.method],
        opt=opt,
        name=f"wasm_{surface}_{name}_{spec.method.lower()}_{slug}",
        operation_id=f"{surface}_plugin_{name}_{spec.method.lower()}_{slug}",
        summary=spec.summary or f"{spec.method} {spec.path} of plugin {name}",
        tags=[f"plugin:{name}"],
        status_code=200,
    )(invoke)


def endpoint_handlers(installed: Installed, surface: str) -> list[HTTPRouteHandler]:
    """One handler per endpoint ``installed`` declares, for ``surface``, and ``POST
    /plugins/<name>`` when it declares ``execute``."""
    handlers = [_handler(installed, spec, surface) for spec in installed.manifest.endpoints]
    if installed.manifest.execute:
        handlers.append(execute_handler(installed, surface))
    return handlers


def _mounted(app: Litestar, surface: str, handler: HTTPRouteHandler) -> bool:
    routes = app.route_handler_method_map
    return any(
        method in routes.get(SURFACE_PATHS[surface].rstrip("/") + path, {})  # type: ignore[index]
        for path in handler.paths
        for method in handler.http_methods
    )


def mount(app: Litestar, installed: Installed) -> None:
    """Add the concrete routes (and OpenAPI entries) of a plugin installed while the app runs,
    as ``create_app`` would have mounted them; routes mounted before (an earlier upload of the
    same name) are kept and serve the plugin's current version."""
    for surface in ("public", "internal"):
        handlers = [
            h for h in endpoint_handlers(installed, surface) if not _mounted(app, surface, h)
        ]
        if handlers:
            app.register(
                Router(
                    path=SURFACE_PATHS[surface],
                    route_handlers=handlers,
                    opt={"enclava_plugin": PLUGIN_NAME, "enclava_surface": surface},
                    tags=[PLUGIN_NAME],
                )
            )
