"""Sign in, the forced password change and sign out, through the internal API's ``/auth/*``
(its lockout, rate limit and audit apply as they do to any client)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post

from builtin_plugins.dashboard.api import InternalApi
from builtin_plugins.dashboard.render import LOGIN_URL, PASSWORD_URL, Pages, redirect
from builtin_plugins.dashboard.session import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    clear_session,
    csrf_token,
    load_viewer,
    new_login_nonce,
    set_cookie,
    verify_csrf,
)
from kernel.dependencies import NamedDependency
from kernel.runtime import Kernel

__all__ = ["AUTH_HANDLERS", "HOME_URL", "session_csrf"]

HOME_URL = "/dashboard"
_LOGIN_NONCE_SECONDS = 3600


def session_csrf(kernel: Kernel, token: str) -> str:
    """The CSRF token of the session holding ``token``."""
    return csrf_token(kernel, f"session:{token}")


async def _field(request: Request[Any, Any, Any], name: str) -> str:
    value = (await request.form()).get(name)
    return value if isinstance(value, str) else ""


def _signed_in(
    request: Request[Any, Any, Any], kernel: Kernel, body: dict[str, Any]
) -> Response[Any]:
    target = PASSWORD_URL if body.get("force_password_change") else HOME_URL
    response = redirect(request, target)
    token, lifetime = str(body["access_token"]), int(body["expires_in"])
    set_cookie(response, request, kernel, SESSION_COOKIE, token, lifetime)
    response.delete_cookie(LOGIN_COOKIE, path="/dashboard")
    return response


def _login_form(
    request: Request[Any, Any, Any],
    kernel: Kernel,
    pages: Pages,
    *,
    error: str = "",
    status: int = 200,
) -> Response[Any]:
    nonce = request.cookies.get(LOGIN_COOKIE) or new_login_nonce()
    response = pages.page(
        "login.html",
        status=status,
        viewer=None,
        csrf=csrf_token(kernel, f"login:{nonce}"),
        error=error,
    )
    set_cookie(response, request, kernel, LOGIN_COOKIE, nonce, _LOGIN_NONCE_SECONDS)
    return response


@get("/login")
async def login_page(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], pages: NamedDependency[Pages]
) -> Response[Any]:
    """The sign-in form."""
    return _login_form(request, kernel, pages)


@post("/login")
async def login_submit(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], pages: NamedDependency[Pages]
) -> Response[Any]:
    """Sign in with email and password; the session cookie holds the API's access token."""
    nonce = request.cookies.get(LOGIN_COOKIE)
    await verify_csrf(kernel, request, f"login:{nonce}" if nonce else "")
    credentials = {
        "email": await _field(request, "email"),
        "password": await _field(request, "password"),
    }
    answer = await InternalApi(request).call("POST", "/auth/login", json=credentials)
    if not answer.ok or not isinstance(answer.body, dict):
        return _login_form(request, kernel, pages, error=answer.message, status=answer.status)
    return _signed_in(request, kernel, answer.body)


@get("/password")
async def password_page(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], pages: NamedDependency[Pages]
) -> Response[Any]:
    """The password change form (the only page an account that must change it may open)."""
    viewer = await load_viewer(request, allow_forced=True)
    return pages.page(
        "password.html", viewer=viewer, csrf=session_csrf(kernel, viewer.token), error=""
    )


@post("/password")
async def password_submit(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel], pages: NamedDependency[Pages]
) -> Response[Any]:
    """Change the password; the new session replaces the old one, which stops working."""
    viewer = await load_viewer(request, allow_forced=True)
    await verify_csrf(kernel, request, f"session:{viewer.token}")
    new = await _field(request, "new_password")
    error = ""
    if new != await _field(request, "confirm_password"):
        error = "The new passwords do not match."
    else:
        body = {"current_password": await _field(request, "current_password"), "new_password": new}
        api = InternalApi(request, viewer.token)
        answer = await api.call("POST", "/auth/change-password", json=body)
        if answer.ok and isinstance(answer.body, dict):
            return _signed_in(request, kernel, answer.body)
        error = answer.message
    csrf = session_csrf(kernel, viewer.token)
    return pages.page("password.html", status=400, viewer=viewer, csrf=csrf, error=error)


@post("/logout")
async def logout_submit(
    request: Request[Any, Any, Any], kernel: NamedDependency[Kernel]
) -> Response[Any]:
    """End the session here and in the API (its access token is revoked)."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        return redirect(request, LOGIN_URL)
    await verify_csrf(kernel, request, f"session:{token}")
    await InternalApi(request, token).call("POST", "/auth/logout", json={})
    response = redirect(request, LOGIN_URL)
    clear_session(response)
    return response


AUTH_HANDLERS = [login_page, login_submit, password_page, password_submit, logout_submit]
