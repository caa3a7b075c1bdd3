"""The role check guarding every internal route.

An internal route declares its minimum role with ``opt={"enclava_role": "admin"}``; without it,
reads (GET/HEAD) need ``read_only`` and writes need ``user``. Anonymous internal routes (login)
carry ``enclava_anonymous`` and are not role-checked. Roles themselves: :mod:`kernel.roles`.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from kernel.roles import Role, require_role
from kernel.types import ApiSurface, CheckPhase, RequestContext

__all__ = ["RoleCheck"]

_READS = frozenset({"GET", "HEAD"})


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
