"""The browser session: the internal API's access token in an ``HttpOnly``, ``SameSite=Strict``
cookie, and the CSRF token that every state-changing form and htmx request must carry.

The CSRF token is an HMAC, under a secret of this deployment, of the session token (signed in)
or of a random pre-session nonce kept in its own cookie (the sign-in form). A page of another
site can neither read the cookie nor compute the token, and ``SameSite=Strict`` keeps the cookie
off its requests anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.datastructures import Cookie

from builtin_plugins.dashboard.api import ApiFailure, InternalApi
from kernel.roles import has_role
from kernel.runtime import Kernel
from kernel.secrets import ensure_secret
from kernel.types import Principal

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "LOGIN_COOKIE",
    "SESSION_COOKIE",
    "CsrfRefused",
    "PasswordChangeRequired",
    "SignInRequired",
    "Viewer",
    "bound_to_loopback",
    "clear_session",
    "csrf_token",
    "load_viewer",
    "new_login_nonce",
    "set_cookie",
    "verify_csrf",
]

SESSION_COOKIE = "enclava_session"
LOGIN_COOKIE = "enclava_login"
CSRF_FIELD = "_csrf"
CSRF_HEADER = "x-csrf-token"
COOKIE_PATH = "/dashboard"
_SECRET_NAME = "dashboard-csrf.key"  # noqa: S105 (a file name)


class SignInRequired(Exception):
    """No session, or one the internal API no longer accepts: back to the sign-in page."""


class PasswordChangeRequired(Exception):
    """The account must set a new password before anything else."""


class CsrfRefused(Exception):
    """A state-changing request without the session's CSRF token."""


class Viewer(msgspec.Struct, frozen=True):
    """The signed-in user, as ``GET /auth/me`` describes them, with their session token."""

    id: str
    email: str
    role: str
    force_password_change: bool
    token: str

    @property
    def is_admin(self) -> bool:
        return has_role(self.principal, "admin")

    @property
    def can_write(self) -> bool:
        """False for ``read_only`` users: the pages show them no write controls."""
        return has_role(self.principal, "user")

    @property
    def principal(self) -> Principal:
        return Principal(kind="user", id=self.id, owner_id=self.id, roles=frozenset({self.role}))


def _secret(kernel: Kernel) -> bytes:
    return ensure_secret(kernel.settings.data_dir, _SECRET_NAME)


def csrf_token(kernel: Kernel, bound_to: str) -> str:
    """The CSRF token for a session token or a sign-in nonce."""
    return hmac.new(_secret(kernel), bound_to.encode(), hashlib.sha256).hexdigest()


def new_login_nonce() -> str:
    return secrets.token_urlsafe(24)


async def verify_csrf(kernel: Kernel, request: Request[Any, Any, Any], bound_to: str) -> None:
    """Raise CsrfRefused unless the request's form field or header holds the expected token."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not bound_to or not sent or not hmac.compare_digest(sent, csrf_token(kernel, bound_to)):
        raise CsrfRefused


def bound_to_loopback(host: str) -> bool:
    """Whether a server bound to ``host`` can be reached from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def set_cookie(
    response: Response[Any],
    request: Request[Any, Any, Any],
    kernel: Kernel,
    name: str,
    value: str,
    max_age: int,
) -> None:
    """An ``HttpOnly``, ``SameSite=Strict`` cookie for the dashboard's paths, ``Secure`` unless
    the server is bound to loopback and the request came over plain http (a browser then keeps
    it for ``http://127.0.0.1`` only; anywhere else the dashboard must be reached over https)."""
    secure = request.url.scheme == "https" or not bound_to_loopback(
        kernel.settings.kernel.server.host
    )
    response.set_cookie(
        Cookie(
            key=name,
            value=value,
            max_age=max_age,
            path=COOKIE_PATH,
            httponly=True,
            samesite="strict",
            secure=secure,
        )
    )


def clear_session(response: Response[Any]) -> None:
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)


async def load_viewer(request: Request[Any, Any, Any], *, allow_forced: bool = False) -> Viewer:
    """The signed-in user; SignInRequired without a valid session, PasswordChangeRequired while
    the account must change its password (unless ``allow_forced``)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInRequired
    answer = await InternalApi(request, token).call("GET", "/auth/me")
    if answer.status == 401:
        raise SignInRequired
    if not answer.ok or not isinstance(answer.body, dict):
        raise ApiFailure(answer)
    body = answer.body
    viewer = Viewer(
        id=str(body["id"]),
        email=str(body["email"]),
        role=str(body["role"]),
        force_password_change=bool(body["force_password_change"]),
        token=token,
    )
    if viewer.force_password_change and not allow_forced:
        raise PasswordChangeRequired
    return viewer
