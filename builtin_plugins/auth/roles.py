"""Roles and the role check guarding every internal route.

Roles are ordered ``read_only < user < admin < super_admin``. An internal route declares its
minimum role with ``opt={"enclava_role": "admin"}``; without it, reads (GET/HEAD) need
``read_only`` and writes need ``user``. Anonymous internal routes (login) carry
``enclava_anonymous`` and are not role-checked.
"""

from __future__ import annotations

from typing import Any, Literal

from litestar import Request

from kernel.errors import PermissionDeniedError
from kernel.types import ApiSurface, CheckPhase, Principal, RequestContext

__all__ = ["ROLES", "Role", "RoleCheck", "has_role", "is_admin", "require_role"]

Role = Literal["read_only", "user", "admin", "super_admin"]
ROLES: tuple[Role, ...] = ("read_only", "user", "admin", "super_admin")
_RANK: dict[str, int] = {role: rank for rank, role in enumerate(ROLES)}
_READS = frozenset({"GET", "HEAD"})


def has_role(principal: Principal | None, minimum: Role) -> bool:
    """True when ``principal`` is a user whose role is at least ``minimum``."""
    if principal is None or principal.kind != "user":
        return False
    return any(_RANK.get(role, -1) >= _RANK[minimum] for role in principal.roles)


def is_admin(principal: Principal | None) -> bool:
    """Admins see and change every user's resources."""
    return has_role(principal, "admin")


def require_role(principal: Principal | None, minimum: Role) -> None:
    """Raise PermissionDeniedError unless ``principal`` has at least ``minimum``."""
    if not has_role(principal, minimum):
        raise PermissionDeniedError(f"This action needs the '{minimum}' role.")


class RoleCheck:
    """Post-auth check on the internal surface: the route's minimum role, fail closed."""

    name = "auth.roles"
    order = 0
    phase: CheckPhase = "post_auth"
    surfaces: frozenset[ApiSurface] = frozenset({"internal"})

    async def check(self, request: Request[Any, Any, Any], context: RequestContext) -> None:
        opt = request.route_handler.opt
        if context.principal is None and opt.get("enclava_anonymous", False):
            return
        default: Role = "read_only" if request.method in _READS else "user"
        require_role(context.principal, opt.get("enclava_role", default))
