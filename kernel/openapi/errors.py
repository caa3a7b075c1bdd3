"""Error responses as clients get them: every 4xx/5xx body is ``Error``, ``{"error": {...}}``.

Litestar documents validation failures as its own ``{status_code, detail, extra}``; the kernel's
exception handlers never send that shape (:mod:`kernel.responses`), so the document must not
either.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

import msgspec

from kernel.errors import ErrorEnvelope
from kernel.openapi.operation import schema_ref

__all__ = ["ERROR_SCHEMA", "error_components", "is_error_status", "with_error_responses"]

ERROR_SCHEMA = "Error"
_REF_TEMPLATE = "#/components/schemas/{name}"
_DESCRIPTIONS = {
    "400": "The body or a parameter is invalid (`invalid_request_error`; `param` names the field).",
    "401": "No valid credential was sent (`authentication_error`).",
    "403": (
        "The credential lacks the scope or role this operation needs, or the client is blocked "
        "(`permission_error`)."
    ),
    "413": "The body is larger than the server accepts (`request_too_large`).",
    "415": "The Content-Type is not the one this operation reads (`unsupported_media_type`).",
    "4XX": (
        "Any other client error: not found (also while the plugin serving this route is "
        "disabled), conflict, insufficient quota, rate limit (with `Retry-After`)."
    ),
    "5XX": "A server, upstream provider or storage failure (`server_error`, `upstream_error`).",
}


def error_components() -> dict[str, Any]:
    """``Error`` and ``ErrorBody``, generated from the Structs that encode every error."""
    (_,), components = msgspec.json.schema_components([ErrorEnvelope], ref_template=_REF_TEMPLATE)
    body = dict(components["ErrorBody"])
    body["required"] = sorted(body["properties"])  # omit_defaults=False: every field is sent
    envelope = {**components["ErrorEnvelope"], "title": ERROR_SCHEMA}
    return {ERROR_SCHEMA: envelope, "ErrorBody": body}


def is_error_status(status: str) -> bool:
    """True for ``4xx``/``5xx`` keys of a responses object, ranges (``4XX``) included."""
    return status[:1] in ("4", "5")


def _error_response(status: str, fallback: str) -> dict[str, Any]:
    description = _DESCRIPTIONS.get(status) or fallback
    if not description:
        try:
            description = HTTPStatus(int(status)).phrase
        except ValueError:
            description = "Error."
    return {
        "description": description,
        "content": {"application/json": {"schema": schema_ref(ERROR_SCHEMA)}},
    }


def with_error_responses(
    responses: Mapping[str, Any], statuses: Iterable[str], *, keep: Iterable[str] = ()
) -> dict[str, Any]:
    """``responses`` with every error status, listed or in ``statuses``, answering ``Error``.

    ``keep`` names error statuses the handler documents itself (a probe's 503 body): untouched.
    ``4XX`` and ``5XX`` are always added: plugins' checks may refuse any request.
    """
    kept = set(keep)
    result = {status: body for status, body in responses.items() if not is_error_status(status)}
    errors = {s for s in responses if is_error_status(s)} | set(statuses) | {"4XX", "5XX"}
    for status in sorted(errors):
        if status in kept and status in responses:
            result[status] = responses[status]
        else:
            fallback = str(responses.get(status, {}).get("description", ""))
            result[status] = _error_response(status, fallback)
    return result
