"""Users and roles (admins) through ``/users``: the list, create (with a first password the user
may be made to change), and per user role, active and forced password change. The API decides
who may do what (only a super admin touches super admins; nobody demotes or deactivates
themselves)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.params import FromPath

from builtin_plugins.dashboard.api import InternalApi
from builtin_plugins.dashboard.forms import read_form, writer
from builtin_plugins.dashboard.render import Pages, redirect
from builtin_plugins.dashboard.session import load_viewer
from builtin_plugins.dashboard.signed_in import Refusal, listing_page
from kernel.dependencies import NamedDependency
from kernel.roles import ROLES
from kernel.runtime import Kernel

__all__ = ["USERS_HANDLERS"]

URL = "/dashboard/users"


@get("/users")
async def users_page(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], pages: NamedDependency[Pages]
) -> Response[Any]:
    """Every user with their role and state (admins)."""
    viewer = await load_viewer(request)
    return await listing_page(request, kernel, pages, viewer, "users.html", "/users", roles=ROLES)


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
    refusal = Refusal(errors=errors, status=answer.status, form=shown)
    return await listing_page(
        request, kernel, pages, viewer, "users.html", "/users", refusal, roles=ROLES
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
    refusal = Refusal(errors={"form": answer.message}, status=answer.status)
    return await listing_page(
        request, kernel, pages, viewer, "users.html", "/users", refusal, roles=ROLES
    )


USERS_HANDLERS = [users_page, create_user, update_user]
