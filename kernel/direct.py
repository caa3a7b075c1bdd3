"""Direct routes: the hottest handlers served without Litestar's router and handler pipeline.

A handler opts in with ``opt={DIRECT_OPT: True}``. It stays an ordinary Litestar route (the
OpenAPI schema, :mod:`kernel.access`'s declarations and :func:`~kernel.gate.require_gate` see
it as before, and any other method or a path that only normalises to it still goes through
Litestar), but a request whose method and exact path match it is served by
:func:`serve_direct`: the app's ``before_request`` (the gate), the handler, ``to_response``, the
app's ``before_send`` hooks, the route's exception handlers and ``after_response``, in the order
Litestar runs them, without routing, the per-request kwargs model, the exception middleware's
layers or its ``send`` wrappers: 5 to 9 % of a chat completion's CPU, measured side by side.

Only a handler Litestar would run the same way may opt in (:func:`direct_routes` raises
ConfigError otherwise): an async function of ``request`` alone, on a path without parameters,
with no guards, middleware or response cache and the gate as its ``before_request``. While the
app has a layer that wraps every route (middleware, allowed hosts, CORS, CSRF, compression,
exception logging) nothing is served directly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from litestar.exceptions import HTTPException, LitestarException
from litestar.exceptions.responses import create_exception_response
from litestar.routes import HTTPRoute
from litestar.utils.scope.state import ScopeState

from kernel.errors import ConfigError

if TYPE_CHECKING:
    from litestar import Litestar, Request
    from litestar.handlers import HTTPRouteHandler
    from litestar.types import ExceptionHandler, Message, Receive, Scope, Send

__all__ = ["DIRECT_OPT", "DirectRoutes", "direct_routes", "serve_direct", "valid_host"]

DIRECT_OPT = "enclava_direct"
DirectRoutes = Mapping[tuple[str, str], "HTTPRouteHandler"]
"""(method, path) → the handler served directly for it."""

_HOST = re.compile(rb"\A[0-9A-Za-z!$&'()*+,;=\-._~:\[\]@%]*\Z")
"""A valid Host header, as Litestar's router checks it (it answers 400 otherwise)."""


def direct_routes(app: Litestar) -> DirectRoutes:
    """The app's handlers that opted in, by method and path; ConfigError naming every one that
    cannot be served directly. None while the app has a layer that would wrap them (middleware,
    allowed hosts, CORS, CSRF, compression, exception logging): Litestar serves them then."""
    if _app_layers(app):
        return {}
    routes: dict[tuple[str, str], HTTPRouteHandler] = {}
    problems: list[str] = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.opt.get(DIRECT_OPT, False):
                continue
            why = _unfit(app, route, handler)
            if why:
                problems.append(f"{route.path}: {why}")
                continue
            for method in handler.http_methods:
                routes[(method, route.path)] = handler
    if problems:
        raise ConfigError("Routes that cannot be served directly:\n  " + "\n  ".join(problems))
    return routes


def _app_layers(app: Litestar) -> bool:
    """Whether Litestar would wrap every route in something :func:`serve_direct` skips."""
    return bool(
        app.middleware
        or app.allowed_hosts
        or app.cors_config
        or app.csrf_config
        or app.compression_config
        or app.logging_config
        or app.pdb_on_exception
    )


def _unfit(app: Litestar, route: HTTPRoute, handler: HTTPRouteHandler) -> str:
    if route.path_parameters:
        return "a path with parameters"
    if set(handler.parsed_fn_signature.parameters) != {"request"}:
        return "the handler takes more than 'request'"
    if handler.has_sync_callable:
        return "a sync handler"
    if handler.resolve_guards() or handler.cache or handler.resolve_middleware():
        return "guards, middleware or a response cache"
    if handler.resolve_before_request() is not app.before_request:
        return "its own before_request"
    return ""


def _exception_handler(handler: HTTPRouteHandler, exc: Exception) -> ExceptionHandler[Exception]:
    """The route's handler for ``exc`` as Litestar picks it: by status code (500 for anything
    but an HTTPException), then by class; Litestar's default when none matches."""
    handlers = handler.resolve_exception_handlers()
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status in handlers:
        return handlers[status]
    found = next((handlers[cls] for cls in type(exc).__mro__ if cls in handlers), None)
    return found or create_exception_response


async def serve_direct(
    app: Litestar, handler: HTTPRouteHandler, scope: Scope, receive: Receive, send: Send
) -> None:
    """Serve one request with ``handler`` as Litestar would, minus its routing layers."""
    scope["app"] = scope["litestar_app"] = app
    scope.setdefault("state", {})
    scope["path_params"] = {}
    scope["route_handler"] = handler
    scope["path_template"] = scope["path"]
    ScopeState.from_scope(scope).exception_handlers = handler.resolve_exception_handlers()
    hooks = app.before_send
    started = False

    async def sending(message: Message) -> None:
        nonlocal started
        if message["type"] == "http.response.start":
            started = True
        for hook in hooks:
            await hook(message, scope)
        await send(message)

    request: Request[Any, Any, Any] = handler.resolve_request_class()(scope, receive, sending)
    try:
        await _respond(app, handler, request, scope, receive, sending)
    except Exception as exc:
        if started:  # as under Litestar: the server ends the connection
            raise LitestarException("Exception caught after response started") from exc
        for hook in app.after_exception:
            await hook(exc, scope)
        error = _exception_handler(handler, exc)(request, exc)
        encoders = handler.resolve_type_encoders()
        response = error.to_asgi_response(app=None, request=request, type_encoders=encoders)
        await response(scope, receive, sending)
        return
    after = handler.resolve_after_response()
    if after is not None:
        await after(request)


async def _respond(
    app: Litestar,
    handler: HTTPRouteHandler,
    request: Request[Any, Any, Any],
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    before = handler.resolve_before_request()
    data = await before(request) if before is not None else None
    if not data:
        data = await handler.fn(request=request)
    response = await handler.to_response(app=app, data=data, request=request)
    await response(scope, receive, send)


def valid_host(scope: Scope) -> bool:
    """Whether the request's Host header (if any) is one Litestar's router accepts."""
    host = next((value for name, value in scope.get("headers", ()) if name == b"host"), None)
    return host is None or _HOST.match(host) is not None
