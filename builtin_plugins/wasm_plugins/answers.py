"""What crosses from an HTTP request into a guest call and back: who is calling, and the
guest's ``{status, headers, body | text}`` answer turned into a Litestar response."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from litestar import Request, Response

from kernel.errors import EnclavaError, ServiceUnavailableError, UpstreamError
from kernel.gate import request_context
from kernel.sandbox import CallFailed

__all__ = ["CallerView", "answer_of", "caller_of", "failure_of"]

_ANSWER_HEADERS = frozenset(
    {"cache-control", "content-disposition", "content-language", "etag", "last-modified"}
)
_RESERVED_PREFIXES = ("x-enclava", "x-request-id", "x-ratelimit")


class CallerView(msgspec.Struct, frozen=True):
    """The principal a guest sees: never a credential, scope or attribute."""

    kind: str = ""
    id: str = ""
    owner_id: str = ""


def caller_of(request: Request[Any, Any, Any]) -> CallerView:
    """The authenticated principal of ``request`` (empty when anonymous)."""
    ctx = request_context(request.scope)
    principal = ctx.principal if ctx else None
    if principal is None:
        return CallerView()
    return CallerView(principal.kind, principal.id, principal.owner_id)


def _answer_header(name: str, value: str) -> bool:
    """Guests may set a few representation headers and their own ``x-`` ones, nothing that
    steers browsers, caches of other routes or the gateway's own headers."""
    lowered = name.lower()
    allowed = lowered in _ANSWER_HEADERS or (
        lowered.startswith("x-") and not lowered.startswith(_RESERVED_PREFIXES)
    )
    return allowed and value.isprintable() and len(value) <= 1024


def answer_of(plugin: str, raw: str) -> Response[bytes]:
    """The HTTP response for a guest's ok value; UpstreamError when it is malformed."""
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


def failure_of(exc: CallFailed) -> EnclavaError:
    """The client's error for a failed call: 502 with a code saying why, or 503 (Retry-After 1)
    when every one of the plugin's call threads stayed busy and the call never ran."""
    if exc.reason == "busy":
        return ServiceUnavailableError(
            f"Plugin '{exc.plugin}' is busy: {exc.message}. Retry shortly.",
            code="plugin_busy",
            headers={"retry-after": "1"},
        )
    code = {"timeout": "plugin_timeout", "too_large": "plugin_response_too_large"}.get(
        exc.reason, "plugin_error"
    )
    return UpstreamError(f"Plugin '{exc.plugin}' failed: {exc.message}", code=code)
