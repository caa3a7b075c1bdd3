"""Signing and verifying JWTs: one configured algorithm, nothing else accepted.

The verifier is given exactly the configured algorithm, so ``alg: none``, HS256 tokens on an
EdDSA deployment and HMAC-with-the-public-key confusion all fail to decode.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any, Literal

import jwt
import msgspec

from builtin_plugins.auth.settings import AuthSettings, load_ed25519_key
from kernel.errors import ConfigError
from kernel.secrets import ensure_secret

__all__ = ["REQUIRED_CLAIMS", "Claims", "InvalidToken", "TokenCodec", "TokenType"]

TokenType = Literal["access", "refresh"]
REQUIRED_CLAIMS = ("exp", "iat", "jti", "sub", "typ")
SECRET_NAME = "jwt.key"  # noqa: S105 (a file name)
VERIFIED_CACHE_SIZE = 10_000


class InvalidToken(Exception):
    """The token is not one we issued, or no longer valid; the reason is never shown."""


class Claims(msgspec.Struct, frozen=True):
    """The claims of a token we issued."""

    sub: str
    role: str
    typ: TokenType
    jti: str
    iat: int
    exp: int
    iss: str
    epoch: int
    fam: str | None = None


def _signing_keys(settings: AuthSettings, data_dir: Path) -> tuple[Any, Any]:
    if settings.jwt_algorithm == "HS256":
        secret = settings.jwt_secret.encode() or ensure_secret(data_dir, SECRET_NAME, nbytes=64)
        return secret, secret
    try:
        key = load_ed25519_key(settings.jwt_private_key_file)
    except ValueError as exc:  # the file changed since the settings were validated
        raise ConfigError(f"auth.{exc}") from None
    return key, key.public_key()


class TokenCodec:
    """Issues and decodes access and refresh tokens for one settings snapshot."""

    def __init__(self, settings: AuthSettings, data_dir: Path) -> None:
        self.settings = settings
        self._algorithm = settings.jwt_algorithm
        self._signing_key, self._verifying_key = _signing_keys(settings, data_dir)
        self._decoder = jwt.PyJWT(options={"require": list(REQUIRED_CLAIMS)})
        # Access tokens whose signature and claims were verified, by their exact text: a repeat
        # costs a dict lookup and an expiry check instead of a full decode (~60 µs with pyjwt).
        # Revocation is not cached; it is read from KV on every request.
        self._verified: dict[str, Claims] = {}

    def issue(
        self, *, user_id: str, role: str, epoch: int, typ: TokenType, fam: str | None = None
    ) -> tuple[str, Claims]:
        """A signed token and its claims; refresh tokens carry their family ``fam``."""
        now = int(time.time())
        settings = self.settings
        ttl = settings.access_ttl_seconds if typ == "access" else settings.refresh_ttl_seconds
        claims = Claims(
            sub=user_id,
            role=role,
            typ=typ,
            jti=uuid.uuid4().hex,
            iat=now,
            exp=now + ttl,
            iss=self.settings.issuer,
            epoch=epoch,
            fam=fam if typ == "refresh" else None,
        )
        payload = {k: v for k, v in msgspec.structs.asdict(claims).items() if v is not None}
        token = jwt.encode(payload, self._signing_key, algorithm=self._algorithm)
        return token, claims

    def decode(self, token: str, typ: TokenType) -> Claims:
        """The claims of a valid, unexpired token of type ``typ``; InvalidToken otherwise."""
        cached = self._verified.get(token) if typ == "access" else None
        if cached is not None:
            if cached.exp > time.time():
                return cached
            del self._verified[token]
        try:
            payload = self._decoder.decode(
                token,
                self._verifying_key,
                algorithms=[self._algorithm],
                issuer=self.settings.issuer,
            )
            claims = msgspec.convert(payload, Claims)
        except (jwt.PyJWTError, msgspec.ValidationError, ValueError, TypeError):
            raise InvalidToken from None
        if claims.typ != typ or (typ == "refresh" and not claims.fam):
            raise InvalidToken
        if typ == "access":
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                del self._verified[next(iter(self._verified))]
            self._verified[token] = claims
        return claims
