"""The audit log (admins) through ``/audit``: filters by action, outcome, actor, resource,
address and time, newest first one page at a time (the API's cursor), and the API's CSV export
of the same filter passed through."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get

from builtin_plugins.dashboard.api import ApiFailure, InternalApi
from builtin_plugins.dashboard.pages_auth import session_csrf
from builtin_plugins.dashboard.render import SECURITY_HEADERS, Pages
from builtin_plugins.dashboard.session import load_viewer
from kernel.dependencies import NamedDependency
from kernel.runtime import Kernel

__all__ = ["AUDIT_HANDLERS"]

FILTERS = ("action", "outcome", "actor_id", "resource_type", "resource_id", "ip", "since", "until")
OUTCOMES = ("success", "failure", "denied")
_PAGE = 50


def _filters(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The filter fields the form sent (blank ones dropped)."""
    params = request.query_params
    return {name: params.get(name, "").strip() for name in FILTERS if params.get(name, "").strip()}


@get("/audit")
async def audit_page(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], pages: NamedDependency[Pages]
) -> Response[Any]:
    """Audit events matching the filters, newest first (admins; the API refuses others)."""
    viewer = await load_viewer(request)
    filters = _filters(request)
    params: dict[str, Any] = {**filters, "limit": _PAGE}
    cursor = request.query_params.get("cursor", "")
    if cursor:
        params["cursor"] = cursor
    answer = await InternalApi(request, viewer.token).call("GET", "/audit", params=params)
    errors: dict[str, str] = {}
    events: list[dict[str, Any]] = []
    body = answer.body if answer.ok and isinstance(answer.body, dict) else {}
    if answer.status in (401, 403, 429) or answer.status >= 500:
        raise ApiFailure(answer)
    if not answer.ok:
        errors[answer.param if answer.param in FILTERS else "form"] = answer.message
    else:
        events = list(body["data"])
    next_cursor = body.get("next_cursor")
    return pages.page(
        "audit.html",
        status=200 if answer.ok else answer.status,
        viewer=viewer,
        csrf=session_csrf(kernel, viewer.token),
        events=events,
        total=body.get("total", 0),
        filters=filters,
        outcomes=OUTCOMES,
        errors=errors,
        query=urlencode(filters),
        older=urlencode({**filters, "cursor": next_cursor}) if next_cursor else "",
    )


@get("/audit/export")
async def audit_export(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The matching events as the internal API's CSV (an attachment; the export is audited)."""
    viewer = await load_viewer(request)
    params = {**_filters(request), "format": "csv"}
    download = await InternalApi(request, viewer.token).download("/audit/export", params)
    headers = {**SECURITY_HEADERS, "content-disposition": download.disposition}
    return Response(download.content, media_type=download.media_type, headers=headers)


AUDIT_HANDLERS = [audit_page, audit_export]
