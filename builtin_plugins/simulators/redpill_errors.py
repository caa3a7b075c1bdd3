"""RedPill's error envelopes, as Dstack-TEE/private-ai-gateway builds them.

RedPill runs private-ai-gateway (its reports name that repository as source provenance):

* HTTP errors (``error_payload.rs`` ``envelope``, ``error_responses.rs``): ``{"error":
  {"message", "type", "code": null, "param": null}}``; ``type`` by status (401
  ``authentication_error``, 402 ``insufficient_quota``, 403 ``permission_error``, 404
  ``not_found_error``, 429 ``rate_limit_error``, 503 ``service_unavailable``, 504
  ``timeout_error``, other 5xx ``upstream_error``, other 4xx ``invalid_request_error``) and
  the generic message of ``upstream_message``;
* 429 (``middleware/errors.rs``): ``code: "rate_limit_exceeded"`` and ``X-RateLimit-Limit``,
  ``X-RateLimit-Remaining``, ``X-RateLimit-Reset``, ``Retry-After`` headers;
* a chat stream that breaks (``sse_protocol.rs`` ``stream_error_tail``):
  ``\\n\\ndata: {"error":{"message":...,"type":"upstream_error","code":502,"param":null}}\\n\\n``
  then ``data: [DONE]\\n\\n``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from aiohttp import web

from builtin_plugins.simulators.sse import json_bytes

__all__ = [
    "error_type_for",
    "redpill_error_response",
    "redpill_fault_error",
    "stream_error_tail",
    "upstream_message",
]

_TYPES = {
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    503: "service_unavailable",
    504: "timeout_error",
}
_MESSAGES = {
    400: "The request was rejected as invalid",
    404: "The requested model or resource was not found",
    413: "The request is too large",
    429: "Rate limit exceeded. Please retry after some time.",
    503: "The model is currently unavailable. Please try again later.",
    504: "The upstream provider timed out",
}


def error_type_for(status: int) -> str:
    """``error.type`` for ``status`` on the OpenAI surface."""
    if status in _TYPES:
        return _TYPES[status]
    return "upstream_error" if status >= 500 else "invalid_request_error"


def upstream_message(status: int) -> str:
    """The generic message private-ai-gateway gives for ``status``."""
    if 401 <= status <= 403:
        return "The upstream provider is currently unavailable"
    return _MESSAGES.get(status, "The upstream provider returned an error")


def redpill_error_response(
    status: int,
    error_type: str,
    message: str,
    headers: Mapping[str, str] = {},
    code: str | None = None,
) -> web.Response:
    """An HTTP error in RedPill's envelope."""
    body = {"error": {"message": message, "type": error_type, "code": code, "param": None}}
    return web.Response(
        status=status, body=json_bytes(body), headers=dict(headers), content_type="application/json"
    )


def redpill_fault_error(
    request: web.Request, status: int, message: str | None, headers: Mapping[str, str]
) -> web.Response:
    """The fault renderer: what RedPill answers with ``status``."""
    extra = dict(headers)
    code = None
    if status == 429:
        code = "rate_limit_exceeded"
        retry = int(extra.get("Retry-After", "1"))
        extra.update(
            {
                "X-RateLimit-Limit": "60",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(time.time()) + retry),
            }
        )
    text = message if message is not None else upstream_message(status)
    return redpill_error_response(status, error_type_for(status), text, extra, code)


def stream_error_tail() -> bytes:
    """The bytes RedPill appends to a chat stream that broke."""
    error = {"message": upstream_message(502), "type": "upstream_error", "code": 502, "param": None}
    return b"\n\ndata: " + json_bytes({"error": error}) + b"\n\ndata: [DONE]\n\n"
