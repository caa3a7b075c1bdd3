"""Who may call a route, as the route declares it, and the gate step that enforces it.

A handler declares in its ``opt``:

| key | value | meaning |
|---|---|---|
| ``enclava_scope`` | a scope (``"chat.completions"``) | public: the principal must carry it |
| | ``Unscoped("why")`` | public: every authenticated caller may call it (reviewed) |
| ``enclava_model`` | ``"body"`` | the JSON body's ``model`` names the model the call uses |
| | ``"path:<param>"`` | the path parameter ``<param>`` names it |

Every public route declares ``enclava_scope``: :func:`require_declarations` makes boot fail
naming the routes that do not, and one registered later without it answers 500. Scopes are the
public surface's access model (internal routes are governed by roles); a declared model is
checked against ``Principal.allowed_models`` on every surface. The body is decoded only for a
principal restricted to some models, and only its ``model`` field; the handler reads the same
cached bytes (``Request.body()``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from litestar.routes import HTTPRoute

from kernel.audit import event_from_context
from kernel.errors import ConfigError, InternalError, InvalidRequestError, PermissionDeniedError
from kernel.types import Principal, RequestContext, Unscoped

if TYPE_CHECKING:
    from litestar import Litestar, Request
    from litestar.handlers.base import BaseRouteHandler

    from kernel.runtime import Kernel

__all__ = ["MODEL_OPT", "SCOPE_OPT", "check_access", "require_declarations"]

SCOPE_OPT = "enclava_scope"
MODEL_OPT = "enclava_model"
_PATH = "path:"
_AUTO_OPTIONS = "HTTPRoute.create_options_handler."
_AUDITED_MODEL_CHARS = 128


class _ModelField(msgspec.Struct):
    model: str


_MODEL_FIELD = msgspec.json.Decoder(_ModelField)


def _auto_options(handler: BaseRouteHandler) -> bool:
    """Litestar's own ``OPTIONS`` handler of a route: it answers only the ``Allow`` header."""
    return getattr(handler.fn, "__qualname__", "").startswith(_AUTO_OPTIONS)


def _body_model(body: bytes) -> str:
    try:
        return _MODEL_FIELD.decode(body).model
    except msgspec.ValidationError as exc:
        raise InvalidRequestError(f"Invalid request body: {exc}", param="model") from None
    except msgspec.DecodeError:
        raise InvalidRequestError("We could not parse the JSON body of your request.") from None


async def _declared_model(request: Request[Any, Any, Any], source: str) -> str:
    if source == "body":
        return _body_model(await request.body())
    return str(request.path_params[source.removeprefix(_PATH)]).lstrip("/")


async def _deny(kernel: Kernel, ctx: RequestContext, principal: Principal, **details: str) -> None:
    event = event_from_context(
        ctx,
        action=f"{principal.kind}.denied",
        outcome="denied",
        resource_type=principal.kind,
        resource_id=principal.id,
        details=details,
    )
    await kernel.audit(event)


async def check_access(
    kernel: Kernel, request: Request[Any, Any, Any], handler: BaseRouteHandler, ctx: RequestContext
) -> None:
    """Refuse (403, audited) a principal without the route's scope or model; after auth."""
    principal = ctx.principal
    if ctx.surface == "public":
        scope = handler.opt.get(SCOPE_OPT)
        if scope is None and not _auto_options(handler):
            raise InternalError(f"The route {request.url.path} declares no scope.")
        if principal is not None and isinstance(scope, str) and scope not in principal.scopes:
            await _deny(kernel, ctx, principal, reason="insufficient_scope", scope=scope)
            raise PermissionDeniedError(
                f"This API key does not have the '{scope}' scope.", code="insufficient_scope"
            )
    source = handler.opt.get(MODEL_OPT)
    if source is None or principal is None or principal.allowed_models is None:
        return
    model = await _declared_model(request, source)
    if not principal.may_use_model(model):
        await _deny(
            kernel, ctx, principal, reason="model_not_allowed", model=model[:_AUDITED_MODEL_CHARS]
        )
        raise PermissionDeniedError(
            f"This API key is not allowed to use the model '{model}'.",
            param="model",
            code="model_not_allowed",
        )


def _problem(handler: BaseRouteHandler, path_params: set[str]) -> str | None:
    opt = handler.opt
    scope = opt.get(SCOPE_OPT)
    if opt.get("enclava_surface") == "public" and scope is None and not _auto_options(handler):
        return "declares no enclava_scope (a scope, or Unscoped(reason) when open to every key)"
    if scope == "" or (scope is not None and not isinstance(scope, Unscoped | str)):
        return f"has enclava_scope {scope!r}: neither a scope name nor Unscoped(reason)"
    source = opt.get(MODEL_OPT)
    if source is None or source == "body":
        return None
    if isinstance(source, str) and source.startswith(_PATH) and source[len(_PATH) :] in path_params:
        return None
    return f"has enclava_model {source!r}: neither 'body' nor 'path:<a path parameter>'"


def require_declarations(app: Litestar) -> None:
    """Raise ConfigError naming every route whose access declarations are missing or wrong."""
    problems: list[str] = []
    for route in app.routes:
        handlers = route.route_handlers if isinstance(route, HTTPRoute) else [route.route_handler]
        params = set(route.path_parameters)
        for handler in handlers:
            problem = _problem(handler, params)
            if problem is not None:
                methods = ",".join(sorted(getattr(handler, "http_methods", ()))) or "WS"
                owner = handler.opt.get("enclava_plugin", "?")
                problems.append(f"{methods} {route.path} (plugin '{owner}') {problem}")
    if problems:
        raise ConfigError("Routes without valid access declarations:\n  " + "\n  ".join(problems))
