"""How a provider's failures become :class:`~kernel.errors.UpstreamError` or an OpenAI error body.

| upstream answer                                  | adapter result                           |
|--------------------------------------------------|------------------------------------------|
| connect error, reset, cut-off body               | UpstreamError, retryable                 |
| connect/read/first-byte/idle-chunk timeout       | UpstreamError, retryable                 |
| 429, 408, 5xx                                    | UpstreamError, retryable, ``retry_after`` |
| 401, 402, 403 (the gateway's own key or account) | UpstreamError, retryable (not the client) |
| Privatemode 500 "creating request cipher" naming | UpstreamError, retryable (gateway's key) |
| the API key ("don't have an API key yet")        |                                          |
| 1xx, 3xx (misconfigured upstream)                | UpstreamError, retryable                 |
| other 4xx, non-streaming                         | UpstreamResult, body in OpenAI's shape   |
| other 4xx, streaming                             | UpstreamError, not retryable, with the   |
|                                                  | upstream status, message, param, code    |
| 2xx whose JSON is malformed                      | UpstreamError, retryable                 |
| SSE error frame, broken or idle stream           | UpstreamError (the router stops failing  |
|                                                  | over once bytes were yielded)            |

Error bodies are parsed only on these failure paths; success bodies are never re-serialised.
"""

from __future__ import annotations

import math
import re
import time
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import msgspec
from multidict import CIMultiDictProxy

from kernel.errors import ErrorBody, ErrorEnvelope, UpstreamError

__all__ = [
    "CREDENTIALS_MESSAGE",
    "error_fields",
    "openai_error_body",
    "retry_after_seconds",
    "status_error",
    "transport_error",
]

CREDENTIALS_MESSAGE = "provider rejected the gateway's credentials"
OPENAI_TYPES = frozenset(
    {
        "invalid_request_error",
        "authentication_error",
        "permission_error",
        "not_found_error",
        "conflict_error",
        "rate_limit_error",
        "insufficient_quota",
        "server_error",
        "api_error",
    }
)
_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
_FIELDS = ("message", "type", "param", "code")


def retry_after_seconds(headers: CIMultiDictProxy[str]) -> float | None:
    """``Retry-After`` in seconds (delta or HTTP date), or None when absent or unusable."""
    raw = headers.get("Retry-After")
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(raw).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def transport_error(provider: str, exc: BaseException, *, timeout: str) -> UpstreamError:
    """A retryable error for a failed connection; ``timeout`` describes a timeout's phase."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        message = "timed out connecting"
    elif isinstance(exc, TimeoutError):
        message = timeout
    elif isinstance(exc, aiohttp.ClientConnectorError):
        message = "could not connect"
    elif isinstance(exc, aiohttp.ClientPayloadError):
        message = "the answer was cut off"
    else:
        message = "the connection failed"
    return UpstreamError(message, provider=provider, retryable=True)


def status_error(
    provider: str, status: int, headers: CIMultiDictProxy[str], *, credentials: bool
) -> UpstreamError | None:
    """The retryable error for ``status``, or None when the client's request was refused."""
    if credentials or status == 401:
        message = CREDENTIALS_MESSAGE
    elif status in (402, 403):
        message = f"provider refused the gateway's account (HTTP {status})"
    elif status == 429:
        message = "rate limited by the provider (HTTP 429)"
    elif status >= 500 or status == 408 or status < 200 or 300 <= status < 400:
        message = f"provider answered HTTP {status}"
    else:
        return None
    return UpstreamError(
        message,
        provider=provider,
        retryable=True,
        upstream_status=status,
        retry_after=retry_after_seconds(headers),
    )


def _json_payload(body: bytes) -> Any:
    text = body.strip()
    if text.startswith((b"event:", b"data:")):
        data = next((ln for ln in text.splitlines() if ln.startswith(b"data:")), b"")
        text = data[5:].strip()
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return None


def _error_object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        return {}
    inner = payload.get("error")
    if isinstance(inner, dict):
        return inner
    if isinstance(inner, str):
        return {"message": inner}
    if "message" in payload:
        return payload
    detail = payload.get("detail")
    return {"message": detail} if isinstance(detail, str) else {}


def _fields(status: int, found: dict[str, Any]) -> ErrorBody:
    message, kind = found.get("message"), found.get("type")
    param, code = found.get("param"), found.get("code")
    if not isinstance(code, str):
        code = None
    if not isinstance(kind, str) or kind not in OPENAI_TYPES:
        if code is None and isinstance(kind, str) and _CODE.match(kind):
            code = kind
        kind = "invalid_request_error"
    if not isinstance(message, str) or not message:
        message = f"The provider rejected the request (HTTP {status})."
    return ErrorBody(
        message=message, type=kind, param=param if isinstance(param, str) else None, code=code
    )


def error_fields(status: int, body: bytes) -> ErrorBody:
    """The provider's error (JSON or SSE-framed, any of the usual shapes) as OpenAI's fields."""
    return _fields(status, _error_object(_json_payload(body)))


def openai_error_body(status: int, body: bytes) -> bytes:
    """``body`` itself when already in OpenAI's error shape, else its fields re-encoded so."""
    found = _error_object(_json_payload(body))
    error = _fields(status, found)
    if set(found) == set(_FIELDS) and all(found[f] == getattr(error, f) for f in _FIELDS):
        return body
    return msgspec.json.encode(ErrorEnvelope(error=error))
