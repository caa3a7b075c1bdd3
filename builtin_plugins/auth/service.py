"""The auth plugin's shared machinery: settings, token codec, passwords, session state, audit."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Request

from builtin_plugins.auth.passwords import Passwords
from builtin_plugins.auth.sessions import Sessions, UserState
from builtin_plugins.auth.settings import AuthSettings, auth_settings
from builtin_plugins.auth.tokens import TokenCodec
from kernel.audit import event_from_context
from kernel.errors import AuthenticationError
from kernel.gate import request_context
from kernel.runtime import Kernel
from kernel.types import AuditOutcome, Principal, RequestContext

__all__ = ["INVALID_TOKEN", "AuthService", "TokenPair", "caller", "invalid_token"]

INVALID_TOKEN = "Invalid or expired token."  # noqa: S105 (a message)


def invalid_token() -> AuthenticationError:
    """The one error every bad, expired or revoked token gets: it never says why."""
    return AuthenticationError(INVALID_TOKEN, code="invalid_token")


def caller(request: Request[Any, Any, Any]) -> tuple[RequestContext, Principal]:
    """The request's context and principal on an authenticated route."""
    ctx = request_context(request.scope)
    if ctx is None or ctx.principal is None:
        raise AuthenticationError("You didn't provide valid credentials.")
    return ctx, ctx.principal


class TokenPair(msgspec.Struct, frozen=True):
    """What login, refresh and change-password answer."""

    access_token: str
    refresh_token: str
    expires_in: int
    force_password_change: bool
    token_type: str = "bearer"  # noqa: S105 (the OAuth token type)


class AuthService:
    """One per hook call; cheap to build. Reads settings on use, so runtime changes apply."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.passwords = Passwords()
        self._codec: TokenCodec | None = None

    @property
    def settings(self) -> AuthSettings:
        return auth_settings(self.kernel.settings)

    @property
    def codec(self) -> TokenCodec:
        """The codec for the current settings (rebuilt when they change)."""
        settings = self.settings
        if self._codec is None or self._codec.settings is not settings:
            self._codec = TokenCodec(settings, self.kernel.settings.data_dir)
        return self._codec

    @property
    def sessions(self) -> Sessions:
        stores = self.kernel.stores
        return Sessions(stores.kv, stores.db)

    async def issue_pair(self, user_id: str, state: UserState, fam: str | None = None) -> TokenPair:
        """A new access + refresh pair for ``user_id``, in family ``fam`` (new when None)."""
        codec = self.codec
        fam = fam or uuid.uuid4().hex
        common: dict[str, Any] = {"user_id": user_id, "role": state.role, "epoch": state.epoch}
        access, access_claims = codec.issue(typ="access", **common)
        refresh, _ = codec.issue(typ="refresh", fam=fam, **common)
        await self.sessions.track_access(
            fam, access_claims, access_ttl=codec.settings.access_ttl_seconds
        )
        return TokenPair(
            access_token=access,
            refresh_token=refresh,
            expires_in=codec.settings.access_ttl_seconds,
            force_password_change=state.force_password_change,
        )

    async def audit(
        self,
        context: RequestContext | None,
        action: str,
        outcome: AuditOutcome,
        *,
        user_id: str | None = None,
        actor_id: str | None = None,
        **details: Any,
    ) -> None:
        """Record an ``auth.*``/``user.*`` event about ``user_id`` (acting as ``actor_id``)."""
        event = event_from_context(
            context,
            action=action,
            outcome=outcome,
            resource_type="user" if user_id else None,
            resource_id=user_id,
            details=details,
        )
        if actor_id is not None and event.actor_id is None:
            event = msgspec.structs.replace(event, actor_type="user", actor_id=actor_id)
        await self.kernel.audit(event)
