"""Users and roles (admins) through ``/users``: the list, create (with a first password the user
may be made to change), and per user role, active and forced password change. The API decides
who may do what (only a super admin touches super admins; nobody demotes or deactivates
themselves)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.params import FromPath

from builtin_plugins.dashboard.api import ApiFailure, InternalApi
from builtin_plugins.dashboard.forms import read_form, writer
from builtin_plugins.dashboard.pages_auth import session_csrf
from builtin_plugins.dashboard.render import Pages, redirect
from builtin_plugins.dashboard.session import Viewer, load_viewer
from kernel.dependencies import NamedDependency
from kernel.roles import ROLES
from kernel.runtime import Kernel

__all__ = ["USERS_HANDLERS"]

URL = "/dashboard/users"
_LISTED = 200


async def _page(
    request: Request[Any, Any, Any],
    kernel: Kernel,
    pages: Pages,
    viewer: Viewer,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
    form: dict[str, str] | None = None,
) -> Response[Any]:
    answer = await InternalApi(request, viewer.token).call(
        "GET", "/users", params={"limit": _LISTED}
    )
    if not answer.ok or not isinstance(answer.body, dict):
        raise ApiFailure(answer)
    return pages.page(
        "users.html",
        status=status,
        viewer=viewer,
        csrf=session_csrf(kernel, viewer.token),
        users=answer.body["data"],
        total=answer.body["total"],
        roles=ROLES,
        errors=errors or {},
        form=form or {},
    )


@get("/users")
async def users_page(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], pages: NamedDependency[Pages]
) -> Response[Any]:
    """Every user with their role and state (admins)."""
    return await _page(request, kernel, pages, await load_viewer(request))


@post("/users")
async def create_user(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], pages: NamedDependency[Pages]
) -> Response[Any]:
    """Create a user (admins; a super admin only by a super admin)."""
    viewer = await writer(request, kernel)
    form = await read_form(request)
    body = {
        "email": form.text("email"),
        "password": form.text("password"),
        "role": form.text("role") or "user",
        "force_password_change": form.text("force_password_change") == "on",
    }
    answer = await InternalApi(request, viewer.token).call("POST", "/users", json=body)
    if answer.ok:
        return redirect(request, URL)
    shown = {k: v for k, v in form.fields().items() if k != "password"}
    errors = {answer.param if answer.param in body else "form": answer.message}
    return await _page(
        request, kernel, pages, viewer, errors=errors, status=answer.status, form=shown
    )


@post("/users/{user_id:str}")
async def update_user(
    request: Request[Any, Any, Any],
    kernel: NamedDependency[Kernel],
    pages: NamedDependency[Pages],
    user_id: FromPath[str],
) -> Response[Any]:
    """Change a user's role, active flag or forced password change (admins)."""
    viewer = await writer(request, kernel)
    form = await read_form(request)
    body = {
        "role": form.text("role") or None,
        "is_active": form.text("is_active") == "on",
        "force_password_change": form.text("force_password_change") == "on",
    }
    path = f"/users/{quote(user_id, safe='')}"
    answer = await InternalApi(request, viewer.token).call("PATCH", path, json=body)
    if answer.ok:
        return redirect(request, URL)
    errors = {"form": answer.message}
    return await _page(request, kernel, pages, viewer, errors=errors, status=answer.status)


USERS_HANDLERS = [users_page, create_user, update_user]
