"""Refuses logins to accounts flagged for credential stuffing, for ``block_seconds``.

Separate from auth's own lockout (which counts per user in SQL): this one reacts to failures
spread over many IPs. Only ``POST /api-internal/v1/auth/login`` pays for it: one KV read of the
flagged-account index, and the email lookup only while some account is flagged.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request

from builtin_plugins.threat_detection.blocks import Blocks
from builtin_plugins.threat_detection.rejections import audit_rejection
from kernel.errors import PermissionDeniedError
from kernel.runtime import Kernel
from kernel.services import UserDirectory
from kernel.types import ApiSurface, CheckPhase, RequestContext

__all__ = ["LOGIN_BLOCKED", "LOGIN_PATH", "LoginGuard"]

LOGIN_PATH = "/api-internal/v1/auth/login"
LOGIN_BLOCKED = (
    "Sign-in to this account is temporarily blocked after repeated failures. Try again later."
)
_MAX_EMAIL = 320


class _Credentials(msgspec.Struct):
    email: str = ""


_decode = msgspec.json.Decoder(_Credentials).decode


class LoginGuard:
    """Post-auth check on the login route: 403 ``login_blocked`` for a flagged account."""

    name = "threat_detection.login_guard"
    order = 0
    phase: CheckPhase = "post_auth"
    surfaces: frozenset[ApiSurface] = frozenset({"internal"})

    def __init__(self, kernel: Kernel, blocks: Blocks) -> None:
        self.kernel = kernel
        self.blocks = blocks

    async def check(self, request: Request[Any, Any, Any], context: RequestContext) -> None:
        """Raise when the account the request logs in to is flagged."""
        if request.scope["path"] != LOGIN_PATH or request.scope["method"] != "POST":
            return
        flagged = {entry.subject for entry in await self.blocks.index["account"].entries()}
        if not flagged:
            return
        email = await _email(request)
        if not email:
            return  # the login handler answers malformed bodies
        directory = self.kernel.service(UserDirectory)
        candidates = {directory.email_hash(email)}
        user = await directory.by_email(self.kernel.stores.db, email)
        if user is not None:
            candidates.add(user.id)
        for account in sorted(candidates & flagged):
            if await self.blocks.is_blocked("account", account):
                await audit_rejection(
                    self.kernel,
                    context,
                    action="security.login_blocked",
                    reason="credential_stuffing",
                    resource_type="account",
                    resource_id=account,
                )
                raise PermissionDeniedError(LOGIN_BLOCKED, code="login_blocked")


async def _email(request: Request[Any, Any, Any]) -> str | None:
    try:
        email = _decode(await request.body()).email.strip()
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return email if 0 < len(email) <= _MAX_EMAIL else None
