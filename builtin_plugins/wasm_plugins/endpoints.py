"""Plugin endpoints as Litestar routes: ``/plugins/<name><path>`` on the public surface (API key
scope ``plugins.invoke``) and the internal one (JWT), one concrete handler per declared
endpoint (and ``execute``), so each is in the OpenAPI schema and passes the same gate and rate
limits."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from litestar import Litestar, Request, Response, Router, route
from litestar.handlers import HTTPRouteHandler

from builtin_plugins.wasm_plugins.answers import answer_of, caller_of, failure_of
from builtin_plugins.wasm_plugins.execute import SCOPE, execute_handler
from builtin_plugins.wasm_plugins.host import PLUGIN_NAME, host_of
from builtin_plugins.wasm_plugins.openapi import endpoint_doc
from builtin_plugins.wasm_plugins.registry import Installed
from kernel.app import SURFACE_PATHS
from kernel.dependencies import NamedDependency
from kernel.errors import PayloadTooLargeError
from kernel.openapi import OPERATION_DOC
from kernel.runtime import Kernel
from kernel.sandbox import CallFailed
from kernel.sandbox.manifest import EndpointSpec

__all__ = ["SCOPE", "endpoint_handlers", "mount"]

_SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})


def _payload(request: Request[Any, Any, Any], body: bytes) -> str:
    return json.dumps(
        {
            "method": request.method,
            "path": request.route_handler.opt["wasm_path"],
            "query": dict(request.query_params),
            "headers": {
                k: v for k, v in request.headers.items() if k.lower() not in _SECRET_HEADERS
            },
            "body": body.decode("utf-8", "replace"),
            "caller": msgspec.to_builtins(caller_of(request)),
        }
    )


async def invoke(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel]
) -> Response[bytes]:
    """Forward the request to the plugin's ``handle`` and return its answer."""
    name: str = request.route_handler.opt["wasm"]
    host = host_of(kernel)
    plugin = host.runnable(name)
    body = await request.body()
    if len(body) > plugin.manifest.limits.max_request_bytes:
        raise PayloadTooLargeError(
            f"Plugin '{name}' accepts at most {plugin.manifest.limits.max_request_bytes} bytes."
        )
    try:
        raw = await host.call(name, "endpoint", _payload(request, body))
    except CallFailed as exc:
        raise failure_of(exc) from None
    return answer_of(name, raw)


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


def mount(app: Litestar, installed: Installed) -> None:
    """Serve a plugin installed while the app runs, as ``create_app`` would have mounted it."""
    for surface in ("public", "internal"):
        handlers = endpoint_handlers(installed, surface)
        if handlers:
            app.register(
                Router(
                    path=SURFACE_PATHS[surface],
                    route_handlers=handlers,
                    opt={"enclava_plugin": PLUGIN_NAME, "enclava_surface": surface},
                    tags=[PLUGIN_NAME],
                )
            )
