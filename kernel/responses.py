"""Renders every exception as an OpenAI-shaped JSON error; nothing else reaches the client."""

from __future__ import annotations

import logging
import re
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from kernel.errors import (
    EnclavaError,
    InternalError,
    InvalidRequestError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    ServiceUnavailableError,
    UnsupportedMediaTypeError,
)
from kernel.types import RequestContext

__all__ = ["error_response", "exception_handlers"]

log = logging.getLogger(__name__)
_ENCODER = msgspec.json.Encoder()
_FIELD = re.compile(r"field `([^`]+)`")
_AT = re.compile(r" - at `\$\.([A-Za-z0-9_.]+)`")


def _choices(request: Request[Any, Any, Any], path: str) -> list[Any] | None:
    """The values a ``Literal``/``Enum`` field at ``path`` of the handler's body type admits."""
    data = request.route_handler.parsed_data_field
    node: Any = msgspec.inspect.type_info(data.annotation) if data is not None else None
    for name in path.split("."):
        if isinstance(node, msgspec.inspect.StructType):
            node = next((f.type for f in node.fields if f.encode_name == name), None)
        else:
            return None
    while isinstance(node, msgspec.inspect.UnionType):
        node = next((t for t in node.types if not isinstance(t, msgspec.inspect.NoneType)), None)
    if isinstance(node, msgspec.inspect.LiteralType):
        return list(node.values)
    if isinstance(node, msgspec.inspect.EnumType):
        return [member.value for member in node.cls]
    return None


def error_response(error: EnclavaError, *, status: int | None = None) -> Response[bytes]:
    """The JSON response for ``error`` with its status (or ``status``) and headers."""
    return Response(
        content=_ENCODER.encode(error.envelope()),
        status_code=status or error.status_code,
        media_type="application/json",
        headers=error.headers,
    )


def _validation_message(
    request: Request[Any, Any, Any], exc: ValidationException
) -> tuple[str, str | None]:
    extra = exc.extra if isinstance(exc.extra, list) else []
    first: dict[str, Any] = extra[0] if extra and isinstance(extra[0], dict) else {}
    detail = str(first.get("message") or "")
    key = first.get("key")
    if "decod" in detail.lower() or "malformed" in detail.lower() or "json" in detail.lower():
        return "We could not parse the JSON body of your request.", None
    message = "Invalid request body" + (f": {detail}" if detail else ".")
    if detail.startswith("Invalid enum value"):
        at = _AT.search(detail)
        path = at.group(1) if at else str(key or "")
        choices = _choices(request, path) if path else None
        if choices:
            message = f"{message.rstrip('.')}; allowed values: {', '.join(map(str, choices))}."
            key = path
    field = _FIELD.search(detail)
    if field and (not key or key == "data"):
        key = field.group(1)
    return message, str(key) if key else None


def _from_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> EnclavaError:
    status = exc.status_code
    where = f"{request.method} {request.url.path}"
    if isinstance(exc, ValidationException) or status == 400:
        if isinstance(exc, ValidationException):
            message, param = _validation_message(request, exc)
            return InvalidRequestError(message, param=param)
        return InvalidRequestError("We could not parse the JSON body of your request.")
    mapped: dict[int, EnclavaError] = {
        403: PermissionDeniedError("You are not allowed to do this."),
        404: NotFoundError(f"Invalid URL ({where})"),
        405: MethodNotAllowedError(f"Method not allowed ({where})"),
        413: PayloadTooLargeError("Request body is too large."),
        415: UnsupportedMediaTypeError("Unsupported Content-Type."),
        503: ServiceUnavailableError("Service unavailable."),
    }
    return mapped.get(status) or InvalidRequestError(str(exc.detail) if status < 500 else "Error.")


def _noted(request: Request[Any, Any, Any], error: EnclavaError) -> EnclavaError:
    """Keep the error's code on the request context (request observers count refusals)."""
    ctx = request.scope.get("state", {}).get("enclava")
    if isinstance(ctx, RequestContext):
        ctx.error_code = error.code
    return error


def _handle_enclava(request: Request[Any, Any, Any], exc: EnclavaError) -> Response[bytes]:
    return error_response(_noted(request, exc))


def _handle_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    return error_response(_noted(request, _from_http_exception(request, exc)))


def _handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.error(
        "unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path, exc_info=exc
    )
    error = InternalError("The server had an error while processing your request.")
    return error_response(_noted(request, error))


def exception_handlers() -> ExceptionHandlersMap:
    """Handlers for the Litestar app: ours, Litestar's HTTP errors, and everything else."""
    return {
        EnclavaError: _handle_enclava,
        HTTPException: _handle_http,
        Exception: _handle_unexpected,
    }
