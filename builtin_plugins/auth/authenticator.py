"""The JWT authenticator of the internal surface.

Per request: one signature check in process, then two KV reads (the token's revocation and the
cached user) and no SQL. A KV outage raises StoreUnavailableError: requests fail closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from litestar import Request
from litestar.openapi.spec import SecurityScheme

from builtin_plugins.auth.service import AuthService, invalid_token
from builtin_plugins.auth.tokens import InvalidToken
from kernel.types import ApiSurface, Principal

__all__ = ["API_KEY_PREFIX", "JwtAuthenticator", "bearer_token"]

API_KEY_PREFIX = "en_"


def bearer_token(request: Request[Any, Any, Any]) -> str | None:
    """The credential of an ``Authorization: Bearer ...`` header, or None."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip()


class JwtAuthenticator:
    """Bearer JWTs → user principals; API keys (``en_...``) are left to their authenticator."""

    name = "auth.jwt"
    surfaces: frozenset[ApiSurface] = frozenset({"internal"})
    security_schemes: ClassVar[Mapping[str, SecurityScheme]] = MappingProxyType(
        {
            "AccessToken": SecurityScheme(
                type="http",
                scheme="bearer",
                bearer_format="JWT",
                description="The access token of `POST /api-internal/v1/auth/login`.",
            )
        }
    )

    def __init__(self, auth: AuthService) -> None:
        self._auth = auth

    async def authenticate(self, request: Request[Any, Any, Any]) -> Principal | None:
        token = bearer_token(request)
        if token is None or token.startswith(API_KEY_PREFIX):
            return None
        try:
            claims = self._auth.codec.decode(token, "access")
        except InvalidToken:
            raise invalid_token() from None
        sessions = self._auth.sessions
        if await sessions.is_revoked(claims.jti):
            raise invalid_token()
        state = await sessions.user_state(claims.sub)
        if state is None or not state.active or state.epoch != claims.epoch:
            raise invalid_token()
        return Principal(
            kind="user",
            id=claims.sub,
            owner_id=claims.sub,
            roles=frozenset({state.role}),
            attributes={
                "jti": claims.jti,
                "exp": claims.exp,
                "force_password_change": state.force_password_change,
            },
        )
