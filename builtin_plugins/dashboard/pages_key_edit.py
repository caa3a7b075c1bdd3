"""One API key: every restriction shown and editable (``PATCH /api-keys/{id}``), and regenerate
(``POST /api-keys/{id}/regenerate``: the new key shown this once). The internal API decides who
may see or change the key and which values are valid; its errors show next to their field."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.params import FromPath

from builtin_plugins.dashboard.api import ApiAnswer, ApiFailure, InternalApi
from builtin_plugins.dashboard.forms import read_form, writer
from builtin_plugins.dashboard.key_form import VERIFICATIONS, key_changes, key_choices
from builtin_plugins.dashboard.pages_auth import session_csrf
from builtin_plugins.dashboard.render import Pages
from builtin_plugins.dashboard.session import Viewer, load_viewer
from kernel.dependencies import NamedDependency
from kernel.runtime import Kernel

__all__ = ["KEY_EDIT_HANDLERS"]


def _path(key_id: str) -> str:
    return f"/api-keys/{quote(key_id, safe='')}"


async def _key(api: InternalApi, key_id: str) -> dict[str, Any]:
    answer = await api.call("GET", _path(key_id))
    if not answer.ok or not isinstance(answer.body, dict):
        raise ApiFailure(answer)
    return answer.body


async def _page(
    request: Request[Any, Any, Any],
    kernel: Kernel,
    pages: Pages,
    viewer: Viewer,
    key: dict[str, Any],
    *,
    failed: ApiAnswer | None = None,
    saved: bool = False,
    created: dict[str, Any] | None = None,
    shown: dict[str, Any] | None = None,
) -> Response[Any]:
    """The edit page for ``key``; ``shown`` overrides the stored values (a refused form)."""
    api = InternalApi(request, viewer.token)
    choices = await key_choices(api, request.app, kernel.provider_regions(), key)
    errors: dict[str, str] = {}
    if failed is not None:
        errors[failed.param or "form"] = failed.message
    return pages.page(
        "key_edit.html",
        status=failed.status if failed else 200,
        viewer=viewer,
        csrf=session_csrf(kernel, viewer.token),
        key=key,
        form={**key, **(shown or {})},
        choices=choices,
        verifications=VERIFICATIONS,
        errors=errors,
        saved=saved,
        created=created,
    )


@get("/keys/{key_id:str}")
async def key_page(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    pages: NamedDependency[Pages],
    key_id: FromPath[str],
) -> Response[Any]:
    """One key with every restriction (a form for those who may change it)."""
    viewer = await load_viewer(request)
    key = await _key(InternalApi(request, viewer.token), key_id)
    return await _page(request, kernel, pages, viewer, key)


def _shown(body: dict[str, Any], form_expires: str) -> dict[str, Any]:
    """The refused values as the form showed them."""
    shown = {k: v for k, v in body.items() if k not in ("expires_at",)}
    shown["expires_at"] = f"{form_expires}T23:59:59Z" if form_expires else None
    return shown


@post("/keys/{key_id:str}")
async def update_key(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    pages: NamedDependency[Pages],
    key_id: FromPath[str],
) -> Response[Any]:
    """Save the form: the API validates it and refuses what the caller may not change."""
    viewer = await writer(request, kernel)
    form = await read_form(request)
    body = key_changes(form)
    api = InternalApi(request, viewer.token)
    answer = await api.call("PATCH", _path(key_id), json=body)
    if answer.ok and isinstance(answer.body, dict):
        return await _page(request, kernel, pages, viewer, answer.body, saved=True)
    key = await _key(api, key_id)
    shown = _shown(body, form.text("expires_on"))
    return await _page(request, kernel, pages, viewer, key, failed=answer, shown=shown)


@post("/keys/{key_id:str}/regenerate")
async def regenerate_key(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    pages: NamedDependency[Pages],
    key_id: FromPath[str],
) -> Response[Any]:
    """A new secret with the same settings, shown once; the old one stops working."""
    viewer = await writer(request, kernel)
    api = InternalApi(request, viewer.token)
    answer = await api.call("POST", f"{_path(key_id)}/regenerate")
    if answer.ok and isinstance(answer.body, dict):
        return await _page(request, kernel, pages, viewer, answer.body, created=answer.body)
    return await _page(request, kernel, pages, viewer, await _key(api, key_id), failed=answer)


KEY_EDIT_HANDLERS = [key_page, update_key, regenerate_key]
