"""``/api-internal/v1/users``: no self-registration; admins create and manage users.

Admins may create and promote up to ``admin``; only a super admin creates, promotes to or changes
a ``super_admin``. A user can read only itself (others answer 404) and can't change its own role.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from builtin_plugins.auth.passwords import check_password_policy
from builtin_plugins.auth.service import AuthService, caller
from builtin_plugins.auth.users import User, create_user, get_user, list_users, update_user
from kernel.errors import NotFoundError, PermissionDeniedError
from kernel.roles import Role, is_admin, require_role
from kernel.types import Principal

__all__ = ["CreateUser", "UpdateUser", "UserPage", "UserView", "user_handlers", "user_view"]


class UserView(msgspec.Struct, frozen=True):
    """A user as the API shows it: never the password hash."""

    id: str
    email: str
    role: Role
    is_active: bool
    force_password_change: bool
    locked_until: datetime | None
    created_at: datetime
    updated_at: datetime


class UserPage(msgspec.Struct, frozen=True):
    data: list[UserView]
    total: int
    limit: int
    offset: int


class CreateUser(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: str
    password: str
    role: Role = "user"
    force_password_change: bool = False


class UpdateUser(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    role: Role | None = None
    is_active: bool | None = None
    force_password_change: bool | None = None


def user_view(user: User) -> UserView:
    return UserView(
        id=user.id,
        email=user.email,
        role=user.role,
        is_active=user.is_active,
        force_password_change=user.force_password_change,
        locked_until=user.locked_until,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


@post("/users", status_code=201, opt={"enclava_role": "admin"})
async def create(
    request: Request[Any, Any, Any], data: JSONBody[CreateUser], auth: NamedDependency[AuthService]
) -> UserView:
    """Create a user (admin; a ``super_admin`` only by a super admin)."""
    ctx, principal = caller(request)
    if data.role == "super_admin":
        require_role(principal, "super_admin")
    check_password_policy(data.password, min_length=auth.settings.password_min_length)
    password_hash = await asyncio.to_thread(auth.passwords.hash, data.password)
    user = await create_user(
        auth.kernel.stores.db,
        email=data.email,
        password_hash=password_hash,
        role=data.role,
        force_password_change=data.force_password_change,
    )
    await auth.audit(ctx, "user.create", "success", user_id=user.id, role=user.role)
    return user_view(user)


@get("/users", opt={"enclava_role": "admin"})
async def index(
    auth: NamedDependency[AuthService],
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    offset: Annotated[int, QueryParameter(ge=0, le=2**31 - 1)] = 0,
) -> UserPage:
    """Every user, oldest first, one page at a time (admin)."""
    page, total = await list_users(auth.kernel.stores.db, limit=limit, offset=offset)
    return UserPage(data=[user_view(u) for u in page], total=total, limit=limit, offset=offset)


@get("/users/{user_id:str}")
async def show(
    request: Request[Any, Any, Any], user_id: FromPath[str], auth: NamedDependency[AuthService]
) -> UserView:
    """One user: yourself, or anyone for admins; 404 otherwise."""
    _, principal = caller(request)
    user = None
    if principal.id == user_id or is_admin(principal):
        user = await get_user(auth.kernel.stores.db, user_id)
    if user is None:
        raise NotFoundError("User not found.")
    return user_view(user)


def _authorise_update(principal: Principal, target: User, data: UpdateUser) -> None:
    if target.role == "super_admin" or data.role == "super_admin":
        require_role(principal, "super_admin")
    if target.id == principal.id and data.role not in (None, target.role):
        raise PermissionDeniedError("You can't change your own role.", param="role")
    if target.id == principal.id and data.is_active is False:
        raise PermissionDeniedError("You can't deactivate yourself.", param="is_active")


@patch("/users/{user_id:str}", opt={"enclava_role": "admin"})
async def change(
    request: Request[Any, Any, Any],
    user_id: FromPath[str],
    data: JSONBody[UpdateUser],
    auth: NamedDependency[AuthService],
) -> UserView:
    """Change role, active flag or ``force_password_change`` (admin); deactivation ends sessions."""
    ctx, principal = caller(request)
    db = auth.kernel.stores.db
    target = await get_user(db, user_id)
    if target is None:
        raise NotFoundError("User not found.")
    _authorise_update(principal, target, data)
    values = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not None}
    if not values:
        return user_view(target)
    deactivating = target.is_active and values.get("is_active") is False
    user = await update_user(db, user_id, bump_epoch=deactivating, **values)
    if user is None:
        raise NotFoundError("User not found.")
    await auth.sessions.store_user(user)
    await auth.audit(ctx, "user.update", "success", user_id=user_id, changed=sorted(values))
    return user_view(user)


def user_handlers() -> list[Any]:
    return [create, index, show, change]
