"""API keys: the caller's (an admin's: everyone's), create (the key shown once), revoke and
restore, each through the internal API's ``/api-keys`` (ownership and roles enforced there)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.params import FromPath

from builtin_plugins.dashboard.api import ApiAnswer, ApiFailure, InternalApi
from builtin_plugins.dashboard.forms import writer
from builtin_plugins.dashboard.pages_auth import session_csrf
from builtin_plugins.dashboard.render import Pages, is_htmx
from builtin_plugins.dashboard.session import Viewer, load_viewer
from builtin_plugins.dashboard.signed_in import chosen
from kernel.dependencies import NamedDependency
from kernel.runtime import Kernel
from kernel.services import UserDirectory

__all__ = ["KEYS_HANDLERS", "key_request"]

_PAGE_SIZE = 200
_ACTIONS = frozenset({"revoke", "restore"})


async def _form(request: Request[Any, Any, Any]) -> dict[str, str]:
    form = await request.form()
    return {name: value.strip() for name, value in form.items() if isinstance(value, str)}


def key_request(fields: dict[str, str]) -> dict[str, Any]:
    """The ``POST /api-keys`` body for the create form's fields (the API validates it)."""
    body: dict[str, Any] = {"name": fields.get("name", "")}
    models = [m.strip() for m in fields.get("allowed_models", "").split(",") if m.strip()]
    if models:
        body["allowed_models"] = models
    if fields.get("expires_on"):
        body["expires_at"] = f"{fields['expires_on']}T23:59:59Z"
    return body


async def _owner_emails(kernel: Kernel, keys: list[dict[str, Any]]) -> dict[str, str]:
    """The email of each key's owner (what an admin's list shows), when the directory has it."""
    directory = kernel.service(UserDirectory)
    emails: dict[str, str] = {}
    for owner_id in {str(key["owner_id"]) for key in keys}:
        record = await directory.by_id(kernel.stores.db, owner_id)
        if record is not None:
            emails[owner_id] = record.email
    return emails


async def _panel(
    request: Request[Any, Any, Any],
    kernel: Kernel,
    pages: Pages,
    viewer: Viewer,
    *,
    created: dict[str, Any] | None = None,
    failed: ApiAnswer | None = None,
) -> Response[Any]:
    """The keys page, or only its panel for htmx (always 200 so htmx swaps an error in)."""
    listing = await InternalApi(request, viewer.token).call(
        "GET", "/api-keys", params={"limit": _PAGE_SIZE}
    )
    if not listing.ok or not isinstance(listing.body, dict):
        raise ApiFailure(listing)
    keys = listing.body["data"]
    owners = await _owner_emails(kernel, keys) if viewer.is_admin else {}
    template = "keys_panel.html" if is_htmx(request) else "keys.html"
    status = 200 if failed is None or is_htmx(request) else failed.status
    return pages.page(
        template,
        status=status,
        viewer=viewer,
        csrf=session_csrf(kernel, viewer.token),
        keys=keys,
        owners=owners,
        total=listing.body["total"],
        created=created,
        error=failed.message if failed else "",
    )


@get("/keys")
async def keys_page(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], pages: NamedDependency[Pages]
) -> Response[Any]:
    """The caller's API keys (an admin's: everyone's)."""
    return await _panel(request, kernel, pages, await load_viewer(request))


@post("/keys")
async def create_key(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], pages: NamedDependency[Pages]
) -> Response[Any]:
    """Create a key for the caller; the answer shows it this once."""
    viewer = await writer(request, kernel)
    body = key_request(await _form(request))
    answer = await InternalApi(request, viewer.token).call("POST", "/api-keys", json=body)
    if answer.ok and isinstance(answer.body, dict):
        return await _panel(request, kernel, pages, viewer, created=answer.body)
    return await _panel(request, kernel, pages, viewer, failed=answer)


@post("/keys/{key_id:str}/{action:str}")
async def revoke_or_restore_key(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    pages: NamedDependency[Pages],
    key_id: FromPath[str],
    action: FromPath[str],
) -> Response[Any]:
    """``revoke`` a key (it stops working on every replica at once) or ``restore`` it."""
    viewer = await writer(request, kernel)
    path = f"/api-keys/{quote(key_id, safe='')}/{chosen(action, _ACTIONS)}"
    answer = await InternalApi(request, viewer.token).call("POST", path)
    return await _panel(request, kernel, pages, viewer, failed=None if answer.ok else answer)


KEYS_HANDLERS = [keys_page, create_key, revoke_or_restore_key]
