"""The one app-level guard: plugin enabled? pre-auth checks? body acceptable? who is calling?
post-auth checks?

Runs before every handler. Handlers carry ``opt`` keys set by :mod:`kernel.app`:
``enclava_plugin`` (owner), ``enclava_surface`` (public/internal/root); plugins may set
``enclava_anonymous=True`` on a handler that needs no principal and ``enclava_json_body=True`` on
one that reads its raw body as JSON (the Content-Type is then checked as for ``data``).
A handler accepting larger bodies than ``server.max_body_bytes`` (an admin upload) says so with
``enclava_max_body_bytes`` (and Litestar's ``request_max_body_size``). Who may call a route
(``enclava_scope``, ``enclava_model``) is declared as :mod:`kernel.access` describes and checked
right after authentication, before the plugins' ``post_auth`` checks.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from litestar.routes import HTTPRoute

from kernel.access import check_access
from kernel.access_log import access_logging, log_access, log_unrouted
from kernel.admission import DEFERRED_OPT, Admission, run_pending
from kernel.dependencies import kernel_of
from kernel.errors import (
    AuthenticationError,
    ConfigError,
    NotFoundError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)
from kernel.logs import REQUEST_ID, TRACE_ID, new_request_id
from kernel.observe import CLIENT_CLOSED
from kernel.tracing import TRACE_STATE, Tracer
from kernel.types import ApiSurface, CheckPhase, RequestCheck, RequestContext

if TYPE_CHECKING:
    from litestar import Litestar, Request
    from litestar.connection import ASGIConnection
    from litestar.handlers.base import BaseRouteHandler
    from litestar.types import Message, Scope

    from kernel.runtime import Kernel

__all__ = [
    "CONTEXT_KEY",
    "after_response",
    "before_send",
    "gate",
    "request_context",
    "require_gate",
]

log = logging.getLogger(__name__)
CONTEXT_KEY = "enclava"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_UNROUTED = "enclava_unrouted"
"""Scope state of a response the gate never saw (no route, or a disabled plugin's), while the
access log is on: its request id and status, from the response's start to its last chunk."""


def request_context(scope: Scope) -> RequestContext | None:
    """The request's context, once the gate has run."""
    ctx = scope.get("state", {}).get(CONTEXT_KEY)
    return ctx if isinstance(ctx, RequestContext) else None


def _request_id(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    incoming = connection.headers.get("x-request-id")
    if incoming and _REQUEST_ID.match(incoming):
        return incoming
    return new_request_id()


def _check_body(
    request: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler, limit: int
) -> None:
    if request.scope.get("method") not in _BODY_METHODS:
        return
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise PayloadTooLargeError(f"Request body exceeds the limit of {limit} bytes.")
    reads_json = handler.opt.get("enclava_json_body", False)
    if not reads_json and "data" not in handler.parsed_fn_signature.parameters:
        return
    media = handler.opt.get("enclava_media_type", "application/json")
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != media:
        raise UnsupportedMediaTypeError(
            f"Content-Type must be {media}, got '{content_type or 'none'}'."
        )


async def _authenticate(
    kernel: Kernel, request: Request[Any, Any, Any], ctx: RequestContext
) -> None:
    for authenticator in kernel.components.authenticators:
        if ctx.surface in authenticator.surfaces:
            principal = await authenticator.authenticate(request)
            if principal is not None:
                ctx.principal = principal
                return


async def gate(connection: Request[Any, Any, Any]) -> None:
    """Refuse with an EnclavaError, or let the request through with its context set.

    The app's ``before_request`` hook (not a Litestar guard, which copies the handler for every
    call): it runs before the handler's parameters and body are read; :func:`require_gate`
    makes sure no route replaces it."""
    handler: BaseRouteHandler = connection.route_handler
    kernel = kernel_of(connection.app)
    components = kernel.components
    plugin = handler.opt.get("enclava_plugin")
    if plugin is not None and plugin not in components.enabled:
        raise NotFoundError(f"Invalid URL ({connection.scope.get('method')} {connection.url.path})")
    surface: ApiSurface = handler.opt.get("enclava_surface", "root")
    client = connection.client
    logs_access = kernel.settings.kernel.server.logs_access
    timed = components.request_observers or access_logging(logs_access)
    ctx = RequestContext(
        request_id=_request_id(connection),
        surface=surface,
        client_ip=client.host if client else "",
        response_headers={},
        state={},
        started=time.perf_counter() if timed else 0.0,
    )
    if handler.opt.get(DEFERRED_OPT, False):
        ctx.admission = Admission(kernel.stores.kv)
    connection.scope.setdefault("state", {})[CONTEXT_KEY] = ctx
    REQUEST_ID.set(ctx.request_id)
    tracer = components.tracer
    if tracer.enabled:
        _begin_trace(tracer, connection, ctx)
    request = connection
    if ctx.admission is None:
        await _guard(kernel, request, handler, ctx)
        return
    try:
        await _guard(kernel, request, handler, ctx)
    except Exception:
        await run_pending(ctx.admission)  # a blocked or throttled client gets that answer
        raise


def require_gate(app: Litestar) -> None:
    """Raise ConfigError naming every route the gate would not run for: a route that is not
    HTTP (``before_request`` is an HTTP hook) or a layer with its own ``before_request``
    (the nearest layer's replaces the app's)."""
    problems: list[str] = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            problems.append(f"{route.path}: not an HTTP route")
            continue
        for handler in route.route_handlers:
            if handler.resolve_before_request() is not gate:
                methods = ",".join(sorted(handler.http_methods))
                problems.append(f"{methods} {route.path}: its own before_request replaces the gate")
    if problems:
        raise ConfigError("Routes the gate would not guard:\n  " + "\n  ".join(problems))


async def _guard(
    kernel: Kernel, request: Request[Any, Any, Any], handler: BaseRouteHandler, ctx: RequestContext
) -> None:
    """Pre-auth checks, body, authentication, access, post-auth checks."""
    components = kernel.components
    tracer = components.tracer
    surface = ctx.surface
    await _run_checks(components.request_checks, "pre_auth", request, ctx)
    limit = handler.opt.get("enclava_max_body_bytes", kernel.settings.kernel.server.max_body_bytes)
    _check_body(request, handler, limit)
    if surface == "root":
        return
    with tracer.span("auth"):
        await _authenticate(kernel, request, ctx)
    if ctx.principal is None and not handler.opt.get("enclava_anonymous", False):
        how = (
            "the access token of POST /api-internal/v1/auth/login as 'Authorization: Bearer TOKEN'"
            if surface == "internal"
            else "an API key as 'Authorization: Bearer KEY'"
        )
        raise AuthenticationError(f"You didn't provide valid credentials. Send {how}.")
    await check_access(kernel, request, handler, ctx)
    await _run_checks(components.request_checks, "post_auth", request, ctx)


def _begin_trace(
    tracer: Tracer, connection: ASGIConnection[Any, Any, Any, Any], ctx: RequestContext
) -> None:
    """Open the request's root span (named by the route template, never the raw path)."""
    method = str(connection.scope.get("method", ""))
    route = str(connection.scope.get("path_template") or "unmatched")
    trace = tracer.begin_request(method, route, connection.headers)
    ctx.state[TRACE_STATE] = trace
    TRACE_ID.set(trace.trace_id or None)


async def _run_checks(
    checks: Sequence[RequestCheck],
    phase: CheckPhase,
    request: Request[Any, Any, Any],
    ctx: RequestContext,
) -> None:
    for check in checks:
        if check.phase == phase and ctx.surface in check.surfaces:
            await check.check(request, ctx)


async def before_send(message: Message, scope: Scope) -> None:
    """Stamp ``x-request-id`` and headers set by checks on every response start; tell request
    observers (if any), write the access log (if on) and end the request's span (if traced) once
    the last body chunk is sent."""
    if message["type"] != "http.response.start":
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            _finished(scope)
        return
    headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
    ctx = request_context(scope)
    request_id = ctx.request_id if ctx else new_request_id()
    headers.append((b"x-request-id", request_id.encode()))
    if ctx is not None:
        headers.extend((k.encode(), v.encode()) for k, v in ctx.response_headers.items())
        ctx.status = message["status"]
    elif access_logging(kernel_of(scope["app"]).settings.kernel.server.logs_access):
        scope.setdefault("state", {})[_UNROUTED] = (request_id, message["status"])
    message["headers"] = headers


def _finished(scope: Scope) -> None:
    ctx = request_context(scope)
    if ctx is None:
        unrouted = scope.get("state", {}).pop(_UNROUTED, None)
        if unrouted is not None:
            route = scope.get("path_template") or "unmatched"
            log_unrouted(str(scope.get("method", "")), route, *unrouted)
        return
    if ctx.state:
        trace = ctx.state.pop(TRACE_STATE, None)
        if trace is not None:
            trace.end(ctx.status, ctx.error_code)
    if ctx.started:
        _observe(scope, ctx)
        ctx.started = 0.0  # observed once


async def after_response(request: Request[Any, Any, Any]) -> None:
    """Litestar's ``after_response``: a response whose last body chunk was never sent (the
    client went away mid-stream) is finished here, with error code ``client_closed``."""
    ctx = request_context(request.scope)
    if ctx is not None and (ctx.started or TRACE_STATE in ctx.state):
        ctx.error_code = ctx.error_code or CLIENT_CLOSED
        _finished(request.scope)


def _observe(scope: Scope, ctx: RequestContext) -> None:
    """Call the request observers (:mod:`kernel.observe`) and write the access log
    (:mod:`kernel.access_log`) for a completed response; only when the gate read the clock,
    which it does only while observers exist or the access log is on."""
    seconds = time.perf_counter() - ctx.started
    route = scope.get("path_template") or "unmatched"
    method = str(scope.get("method", ""))
    kernel = kernel_of(scope["app"])
    for observer in kernel.components.request_observers:
        try:
            observer.observe(ctx.surface, route, method, ctx.status, seconds, ctx.error_code)
        except Exception:
            log.exception("request observer %s failed", observer.name)
    if kernel.settings.kernel.server.logs_access:
        log_access(ctx, method, route, seconds)
