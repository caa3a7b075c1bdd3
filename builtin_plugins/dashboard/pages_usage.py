"""Usage: totals and charts by day, model, provider and key for a range of days, the top users
and keys (admins, ``/usage/top``), and the internal API's CSV export passed through."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromQuery

from builtin_plugins.dashboard.api import InternalApi
from builtin_plugins.dashboard.render import SECURITY_HEADERS, Pages
from builtin_plugins.dashboard.session import Viewer, load_viewer
from builtin_plugins.dashboard.signed_in import viewer_page
from builtin_plugins.dashboard.usage_view import Range, Share, day_range, shares, usage_view
from kernel.dependencies import NamedDependency
from kernel.runtime import Kernel
from kernel.services import ServiceMissingError, UserDirectory

__all__ = ["USAGE_HANDLERS", "owner_emails"]

_KEYS_LISTED = 200
_TOP = 10


async def owner_emails(kernel: Kernel, ids: set[str]) -> dict[str, str]:
    """The email of each user id the directory knows."""
    try:
        directory = kernel.service(UserDirectory)
    except ServiceMissingError:
        return {}
    emails: dict[str, str] = {}
    for user_id in ids:
        record = await directory.by_id(kernel.stores.db, user_id)
        if record is not None:
            emails[user_id] = record.email
    return emails


async def _key_names(api: InternalApi) -> dict[str, str]:
    answer = await api.call("GET", "/api-keys", params={"limit": _KEYS_LISTED})
    if not answer.ok or not isinstance(answer.body, dict):
        return {}
    return {str(k["id"]): f"{k['name']} ({k['prefix']})" for k in answer.body["data"]}


async def _top(
    api: InternalApi, kernel: Kernel, span: Range, key_names: dict[str, str]
) -> dict[str, list[Share]]:
    """The costliest users and keys in ``span`` (admins only: the API refuses others)."""
    found: dict[str, list[Share]] = {}
    answers = await asyncio.gather(
        *(
            api.call("GET", "/usage/top", params={"by": by, "limit": _TOP, **span.params()})
            for by in ("user", "key")
        )
    )
    for by, answer in zip(("user", "key"), answers, strict=True):
        rows = list(answer.body["data"]) if answer.ok and isinstance(answer.body, dict) else []
        ids = {str(r["group"].get(by)) for r in rows}
        labels = await owner_emails(kernel, ids) if by == "user" else key_names
        found[by] = shares(rows, by, labels)
    return found


@get("/usage")
async def usage_page(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    pages: NamedDependency[Pages],
    first: FromQuery[str] = "",
    last: FromQuery[str] = "",
) -> Response[Any]:
    """Usage in a range of whole days (the last 30 by default)."""
    viewer: Viewer = await load_viewer(request)
    api = InternalApi(request, viewer.token)
    span = day_range(first, last)
    key_names = await _key_names(api)
    view = await usage_view(api, span, key_names)
    top = await _top(api, kernel, span, key_names) if viewer.is_admin else {}
    return viewer_page(pages, kernel, viewer, "usage.html", span=span, view=view, top=top)


@get("/usage/export")
async def usage_export(
    request: Request[Any, Any, Any], first: FromQuery[str] = "", last: FromQuery[str] = ""
) -> Response[bytes]:
    """The records of the range as the internal API's CSV (an attachment)."""
    viewer = await load_viewer(request)
    span = day_range(first, last)
    download = await InternalApi(request, viewer.token).download("/usage/export", span.params())
    headers = {**SECURITY_HEADERS, "content-disposition": download.disposition}
    return Response(download.content, media_type=download.media_type, headers=headers)


USAGE_HANDLERS = [usage_page, usage_export]
