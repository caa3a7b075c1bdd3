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
with no guards, no response cache and the gate as its ``before_request``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from litestar.exceptions import HTTPException
from litestar.routes import HTTPRoute

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
    cannot be served directly."""
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


def _unfit(app: Litestar, route: HTTPRoute, handler: HTTPRouteHandler) -> str:
    if route.path_parameters:
        return "a path with parameters"
    if set(handler.parsed_fn_signature.parameters) != {"request"}:
        return "the handler takes more than 'request'"
    if handler.has_sync_callable:
        return "a sync handler"
    if handler.resolve_guards() or handler.cache:
        return "guards or a response cache"
    if handler.resolve_before_request() is not app.before_request:
        return "its own before_request"
    return ""


def _exception_handler(
    handler: HTTPRouteHandler, exc: Exception
) -> ExceptionHandler[Exception] | None:
    """The route's handler for ``exc``: by status code (an HTTPException), then by class."""
    handlers = handler.resolve_exception_handlers()
    if isinstance(exc, HTTPException) and exc.status_code in handlers:
        return handlers[exc.status_code]
    return next((handlers[cls] for cls in type(exc).__mro__ if cls in handlers), None)


async def serve_direct(
    app: Litestar, handler: HTTPRouteHandler, scope: Scope, receive: Receive, send: Send
) -> None:
    """Serve one request with ``handler`` as Litestar would, minus its routing layers."""
    scope["app"] = scope["litestar_app"] = app
    scope.setdefault("state", {})
    scope["path_params"] = {}
    scope["route_handler"] = handler
    scope["path_template"] = scope["path"]
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
        error = None if started else _exception_handler(handler, exc)
        if error is None:
            raise  # as under Litestar: the server ends the connection
        for hook in app.after_exception:
            await hook(exc, scope)
        response = error(request, exc).to_asgi_response(app=None, request=request)
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
        data = await handler.fn(request)
    response = await handler.to_response(app=app, data=data, request=request)
    await response(scope, receive, send)


def valid_host(scope: Scope) -> bool:
    """Whether the request's Host header (if any) is one Litestar's router accepts."""
    host = next((value for name, value in scope["headers"] if name == b"host"), None)
    return host is None or _HOST.match(host) is not None
