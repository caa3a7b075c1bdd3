"""Users with ``force_password_change`` may only read themselves, change the password or leave."""

from __future__ import annotations

from typing import Any

from litestar import Request

from kernel.errors import PermissionDeniedError
from kernel.types import ApiSurface, CheckPhase, RequestContext

__all__ = ["EXEMPT_OPT", "PasswordChangeCheck"]

EXEMPT_OPT = "enclava_password_change_exempt"
"""Handler ``opt`` key of the routes a user must reach before changing the password."""


class PasswordChangeCheck:
    """Post-auth check on the internal surface: 403 ``password_change_required`` until changed."""

    name = "auth.password_change"
    order = 1
    phase: CheckPhase = "post_auth"
    surfaces: frozenset[ApiSurface] = frozenset({"internal"})

    async def check(self, request: Request[Any, Any, Any], context: RequestContext) -> None:
        principal = context.principal
        if principal is None or principal.kind != "user":
            return
        if principal.attributes.get("force_password_change") and not request.route_handler.opt.get(
            EXEMPT_OPT, False
        ):
            raise PermissionDeniedError(
                "You must change your password first (POST /api-internal/v1/auth/change-password).",
                code="password_change_required",
            )
