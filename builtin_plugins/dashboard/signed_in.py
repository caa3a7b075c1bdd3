"""What every page for a signed-in viewer does: render with the CSRF token its forms carry (and
a refused submission's errors), read a listing from the internal API, act on it and go back,
and accept only the actions a route offers."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import NotFoundException

from builtin_plugins.dashboard.api import ApiFailure, InternalApi
from builtin_plugins.dashboard.forms import writer
from builtin_plugins.dashboard.render import Pages, redirect
from builtin_plugins.dashboard.session import Viewer, csrf_token
from kernel.runtime import Kernel

__all__ = [
    "LISTED",
    "Refusal",
    "act",
    "chosen",
    "listing",
    "listing_page",
    "viewer_page",
]

LISTED = 200
"""How many items a list page shows (it says how many there are in all)."""


class Refusal(msgspec.Struct, frozen=True, kw_only=True):
    """A submission refused (by the form or the API), shown again on its page: the message per
    field (``form`` for the whole form), the status to answer with, the values sent."""

    errors: dict[str, str]
    status: int
    form: dict[str, str] = {}


def viewer_page(
    pages: Pages,
    kernel: Kernel,
    viewer: Viewer,
    template: str,
    refusal: Refusal | None = None,
    **context: Any,
) -> Response[str]:
    """``template`` for ``viewer`` with its session's CSRF token, and ``errors`` and ``form``
    from ``refusal`` (both empty when nothing was refused)."""
    shown = refusal or Refusal(errors={}, status=200)
    return pages.page(
        template,
        status=shown.status,
        viewer=viewer,
        csrf=csrf_token(kernel, f"session:{viewer.token}"),
        errors=shown.errors,
        form=shown.form,
        **context,
    )


async def listing(api: InternalApi, path: str, limit: int) -> dict[str, Any]:
    """``GET path?limit=…`` as its ``{"data", "total"}`` body; ApiFailure otherwise."""
    answer = await api.call("GET", path, params={"limit": limit})
    if not answer.ok or not isinstance(answer.body, dict):
        raise ApiFailure(answer)
    return answer.body


async def listing_page(
    request: Request[Any, Any, Any],
    kernel: Kernel,
    pages: Pages,
    viewer: Viewer,
    template: str,
    path: str,
    refusal: Refusal | None = None,
    **context: Any,
) -> Response[str]:
    """``template`` showing the first ``LISTED`` items of ``GET path`` as ``rows`` (and their
    ``total``) to ``viewer``."""
    body = await listing(InternalApi(request, viewer.token), path, LISTED)
    return viewer_page(
        pages, kernel, viewer, template, refusal, rows=body["data"], total=body["total"], **context
    )


async def act(
    request: Request[Any, Any, Any], kernel: Kernel, method: str, path: str, back: str
) -> Response[Any]:
    """The signed-in writer's (CSRF checked) ``method path`` on the internal API, then the
    browser back to ``back``; ApiFailure (an error page) if the API refused."""
    viewer = await writer(request, kernel)
    answer = await InternalApi(request, viewer.token).call(method, path)
    if not answer.ok:
        raise ApiFailure(answer)
    return redirect(request, back)


def chosen(action: str, offered: Collection[str]) -> str:
    """``action`` (a path segment) if the route offers it; 404 otherwise."""
    if action not in offered:
        raise NotFoundException(f"No action {action!r} here.")
    return action
