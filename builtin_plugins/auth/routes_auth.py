"""``/api-internal/v1/auth/*``: login, refresh, logout, me, change-password."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Router, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from builtin_plugins.auth.checks import EXEMPT_OPT
from builtin_plugins.auth.login import change_password, login
from builtin_plugins.auth.refresh import logout, refresh
from builtin_plugins.auth.routes_users import UserView, user_handlers, user_view
from builtin_plugins.auth.service import AuthService, TokenPair, caller
from builtin_plugins.auth.users import get_user
from kernel.errors import InvalidRequestError, NotFoundError
from kernel.gate import request_context
from kernel.openapi import OPERATION_DOC, Body, OperationDoc

__all__ = ["ChangePassword", "Credentials", "RefreshRequest", "auth_router"]

_SELF_SERVICE = {EXEMPT_OPT: True, "enclava_role": "read_only"}


class Credentials(msgspec.Struct, frozen=True):
    email: str
    password: str


class RefreshRequest(msgspec.Struct, frozen=True):
    refresh_token: str


class LogoutRequest(msgspec.Struct, frozen=True):
    refresh_token: str | None = None


class ChangePassword(msgspec.Struct, frozen=True):
    current_password: str
    new_password: str


class LogoutResult(msgspec.Struct, frozen=True):
    logged_out: bool
    refresh_family_revoked: bool


@post(
    "/auth/login",
    status_code=200,
    opt={"enclava_anonymous": True, "enclava_rate_limit": "login"},
)
async def login_route(
    request: Request[Any, Any, Any], data: JSONBody[Credentials], auth: NamedDependency[AuthService]
) -> TokenPair:
    """Exchange email and password for an access and a refresh token."""
    return await login(auth, request_context(request.scope), data.email, data.password)


@post(
    "/auth/refresh",
    status_code=200,
    opt={"enclava_anonymous": True, "enclava_rate_limit": "refresh"},
)
async def refresh_route(
    request: Request[Any, Any, Any],
    data: JSONBody[RefreshRequest],
    auth: NamedDependency[AuthService],
) -> TokenPair:
    """Rotate a refresh token: a new pair; a reused refresh token ends its whole family."""
    return await refresh(auth, request_context(request.scope), data.refresh_token)


_LOGOUT_DOC = OperationDoc(
    request=Body(
        content={"application/json": LogoutRequest},
        description="Empty, `{}`, or the refresh token to end with its family.",
        required=False,
    )
)


@post("/auth/logout", status_code=200, opt={**_SELF_SERVICE, OPERATION_DOC: _LOGOUT_DOC})
async def logout_route(
    request: Request[Any, Any, Any], auth: NamedDependency[AuthService]
) -> LogoutResult:
    """End this access token, and its refresh family when ``{"refresh_token"}`` is sent."""
    body = await request.body()
    try:
        payload = msgspec.json.decode(body, type=LogoutRequest) if body.strip() else None
    except msgspec.DecodeError:
        raise InvalidRequestError('The body must be {} or {"refresh_token": "..."}.') from None
    token = payload.refresh_token if payload else None
    ctx, principal = caller(request)
    revoked = await logout(auth, ctx, principal, token)
    return LogoutResult(logged_out=True, refresh_family_revoked=revoked)


@get("/auth/me", opt=_SELF_SERVICE)
async def me_route(request: Request[Any, Any, Any], auth: NamedDependency[AuthService]) -> UserView:
    """The calling user."""
    _, principal = caller(request)
    user = await get_user(auth.kernel.stores.db, principal.id)
    if user is None:
        raise NotFoundError("User not found.")
    return user_view(user)


@post("/auth/change-password", status_code=200, opt=_SELF_SERVICE)
async def change_password_route(
    request: Request[Any, Any, Any],
    data: JSONBody[ChangePassword],
    auth: NamedDependency[AuthService],
) -> TokenPair:
    """Set a new password; every earlier token of this user stops working, new ones are returned."""
    ctx, principal = caller(request)
    return await change_password(auth, ctx, principal.id, data.current_password, data.new_password)


def auth_router(auth: NamedDependency[AuthService]) -> Router:
    """Every route of the plugin, with ``auth`` injected into the handlers."""

    def provide() -> AuthService:
        return auth

    return Router(
        path="/",
        route_handlers=[
            login_route,
            refresh_route,
            logout_route,
            me_route,
            change_password_route,
            *user_handlers(),
        ],
        dependencies={"auth": Provide(provide, sync_to_thread=False, use_cache=True)},
    )
