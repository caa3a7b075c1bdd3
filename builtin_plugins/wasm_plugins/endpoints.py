"""Plugin endpoints as Litestar routes: ``/plugins/<name><path>`` on the public surface (API key
scope ``plugins.invoke``) and the internal one (JWT), one concrete handler per declared
endpoint, so each is in the OpenAPI schema and passes the same gate and rate limits."""

from __future__ import annotations

import json
from typing import Any

from litestar import Litestar, Request, Response, Router, route
from litestar.handlers import HTTPRouteHandler

from builtin_plugins.wasm_plugins.host import PLUGIN_NAME, host_of
from builtin_plugins.wasm_plugins.registry import Installed
from kernel.app import SURFACE_PATHS
from kernel.errors import PayloadTooLargeError, UpstreamError
from kernel.gate import request_context
from kernel.sandbox import CallFailed
from kernel.sandbox.manifest import EndpointSpec

__all__ = ["SCOPE", "endpoint_handlers", "mount"]

SCOPE = "plugins.invoke"
_SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})
_ANSWER_HEADERS = frozenset(
    {"cache-control", "content-disposition", "content-language", "etag", "last-modified"}
)
_RESERVED_PREFIXES = ("x-enclava", "x-request-id", "x-ratelimit")


def _answer_header(name: str, value: str) -> bool:
    """Guests may set a few representation headers and their own ``x-`` ones, nothing that
    steers browsers, caches of other routes or the gateway's own headers."""
    lowered = name.lower()
    allowed = lowered in _ANSWER_HEADERS or (
        lowered.startswith("x-") and not lowered.startswith(_RESERVED_PREFIXES)
    )
    return allowed and value.isprintable() and len(value) <= 1024


def _payload(request: Request[Any, Any, Any], body: bytes) -> str:
    ctx = request_context(request.scope)
    principal = ctx.principal if ctx else None
    caller = (
        {"kind": principal.kind, "id": principal.id, "owner_id": principal.owner_id}
        if principal
        else {}
    )
    return json.dumps(
        {
            "method": request.method,
            "path": request.route_handler.opt["wasm_path"],
            "query": dict(request.query_params),
            "headers": {
                k: v for k, v in request.headers.items() if k.lower() not in _SECRET_HEADERS
            },
            "body": body.decode("utf-8", "replace"),
            "caller": caller,
        }
    )


def _answer(plugin: str, raw: str) -> Response[bytes]:
    try:
        data = json.loads(raw)
        status = int(data.get("status", 200))
        headers = {
            str(k): str(v)
            for k, v in dict(data.get("headers") or {}).items()
            if _answer_header(str(k), str(v))
        }
    except (ValueError, TypeError, AttributeError):
        raise UpstreamError(
            f"Plugin '{plugin}' returned a malformed answer.", code="plugin_error"
        ) from None
    if not 200 <= status <= 599:
        raise UpstreamError(f"Plugin '{plugin}' returned status {status}.", code="plugin_error")
    if "text" in data:
        return Response(
            str(data["text"]).encode(), status_code=status, headers=headers, media_type="text/plain"
        )
    body = json.dumps(data.get("body")).encode()
    return Response(body, status_code=status, headers=headers, media_type="application/json")


def _failure(exc: CallFailed) -> UpstreamError:
    code = {"timeout": "plugin_timeout", "too_large": "plugin_response_too_large"}.get(
        exc.reason, "plugin_error"
    )
    return UpstreamError(f"Plugin '{exc.plugin}' failed: {exc.message}", code=code)


async def invoke(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Forward the request to the plugin's ``handle`` and return its answer."""
    name: str = request.route_handler.opt["wasm"]
    host = host_of(request.app.state.kernel)
    plugin = host.runnable(name)
    body = await request.body()
    if len(body) > plugin.manifest.limits.max_request_bytes:
        raise PayloadTooLargeError(
            f"Plugin '{name}' accepts at most {plugin.manifest.limits.max_request_bytes} bytes."
        )
    try:
        raw = await host.call(name, "endpoint", _payload(request, body))
    except CallFailed as exc:
        raise _failure(exc) from None
    return _answer(name, raw)


def _handler(installed: Installed, spec: EndpointSpec, surface: str) -> HTTPRouteHandler:
    name = installed.name
    slug = spec.path.strip("/").replace("/", "_").replace(".", "_").replace("-", "_") or "root"
    opt: dict[str, Any] = {"wasm": name, "wasm_path": spec.path}
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
    """One handler per endpoint ``installed`` declares, for ``surface``."""
    return [_handler(installed, spec, surface) for spec in installed.manifest.endpoints]


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
