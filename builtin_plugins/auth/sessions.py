"""Session state every replica shares through KV: the user cache, revocations, refresh families.

Keys (under the KV prefix):

- ``auth:user:{id}`` — the user's token epoch, role, active flag and ``force_password_change``;
  written through on every change, 60 s TTL, reloaded from SQL on a miss.
- ``auth:revoked:{jti}`` — a revoked access token, until it would have expired anyway.
- ``auth:refresh:{jti}`` — set once, atomically, when a refresh token is rotated.
- ``auth:family:{fam}:revoked`` — a revoked refresh family (TTL = refresh lifetime).
- ``auth:family:{fam}:access`` — live access tokens issued in a family, so revoking the family
  revokes them too (access tokens themselves carry no family).

An authenticated request reads two keys: its ``jti`` revocation and the cached user.
"""

from __future__ import annotations

import time

import msgspec

from builtin_plugins.auth.tokens import Claims
from builtin_plugins.auth.users import User, get_user
from kernel.storage.kv import KV
from kernel.storage.sql import Database

__all__ = ["USER_CACHE_TTL", "Sessions", "UserState"]

USER_CACHE_TTL = 60.0
_MARK = b"1"


class UserState(msgspec.Struct, frozen=True, array_like=True):
    """What each request needs to know about its user, cached in KV."""

    epoch: int
    role: str
    active: bool
    force_password_change: bool


_encode = msgspec.json.Encoder().encode
_decode_state = msgspec.json.Decoder(UserState).decode
_decode_access = msgspec.json.Decoder(list[tuple[str, int]]).decode


def _remaining(exp: int) -> float:
    return max(1.0, exp - time.time())


class Sessions:
    """Reads and writes the shared session state; KV errors propagate (fail closed)."""

    def __init__(self, kv: KV, db: Database) -> None:
        self.kv = kv
        self.db = db

    async def user_state(self, user_id: str) -> UserState | None:
        """The cached state of ``user_id``, loaded from SQL on a miss; None if no such user."""
        raw = await self.kv.get(f"auth:user:{user_id}")
        if raw is not None:
            try:
                return _decode_state(raw)
            except msgspec.DecodeError:
                pass
        user = await get_user(self.db, user_id)
        return None if user is None else await self.store_user(user)

    async def store_user(self, user: User) -> UserState:
        """Write ``user``'s state through to the cache (call after every change)."""
        state = UserState(user.token_epoch, user.role, user.is_active, user.force_password_change)
        await self.kv.set(f"auth:user:{user.id}", _encode(state), ttl=USER_CACHE_TTL)
        return state

    async def is_revoked(self, jti: str) -> bool:
        return await self.kv.get(f"auth:revoked:{jti}") is not None

    async def revoke_access(self, jti: str, exp: int) -> None:
        await self.kv.set(f"auth:revoked:{jti}", _MARK, ttl=_remaining(exp))

    async def family_revoked(self, fam: str) -> bool:
        return await self.kv.get(f"auth:family:{fam}:revoked") is not None

    async def claim_refresh(self, claims: Claims) -> bool:
        """Mark a refresh token used; True for exactly one caller, however many race."""
        return await self.kv.compare_and_set(
            f"auth:refresh:{claims.jti}", expected=None, value=_MARK, ttl=_remaining(claims.exp)
        )

    async def track_access(self, fam: str, access: Claims, *, access_ttl: float) -> bool:
        """Remember ``access`` as issued in ``fam``; False (and ``access`` revoked) if the family
        was revoked meanwhile."""
        key = f"auth:family:{fam}:access"
        raw = await self.kv.get(key)
        now = time.time()
        live = [(j, e) for j, e in (_decode_access(raw) if raw else []) if e > now]
        live.append((access.jti, access.exp))
        await self.kv.set(key, _encode(live), ttl=access_ttl)
        if await self.family_revoked(fam):
            await self.revoke_access(access.jti, access.exp)
            return False
        return True

    async def revoke_family(self, fam: str, *, refresh_ttl: float) -> None:
        """Revoke every refresh token of ``fam`` and the access tokens issued with them."""
        await self.kv.set(f"auth:family:{fam}:revoked", _MARK, ttl=refresh_ttl)
        raw = await self.kv.get(f"auth:family:{fam}:access")
        for jti, exp in _decode_access(raw) if raw else []:
            if exp > time.time():
                await self.revoke_access(jti, exp)
