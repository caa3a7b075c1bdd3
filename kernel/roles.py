"""Roles of users on the internal surface, ordered ``read_only < user < admin < super_admin``.

Every plugin decides ownership with these (an admin sees and changes every user's resources);
the auth plugin's role check enforces each internal route's declared minimum.
"""

from __future__ import annotations

from typing import Literal

from kernel.errors import PermissionDeniedError
from kernel.types import Principal

__all__ = ["ROLES", "Role", "has_role", "is_admin", "require_role"]

Role = Literal["read_only", "user", "admin", "super_admin"]
ROLES: tuple[Role, ...] = ("read_only", "user", "admin", "super_admin")
_RANK: dict[str, int] = {role: rank for rank, role in enumerate(ROLES)}


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
