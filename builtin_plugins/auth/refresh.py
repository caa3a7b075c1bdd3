"""Refresh-token rotation with reuse detection, and logout.

Each refresh token is good for one rotation: the first use claims its ``jti`` atomically in KV.
A second use — a replay, or a race with a stolen copy — revokes the whole family, including the
newest refresh token and the access tokens issued with it.
"""

from __future__ import annotations

from builtin_plugins.auth.service import AuthService, TokenPair, invalid_token
from builtin_plugins.auth.tokens import Claims, InvalidToken
from kernel.types import Principal, RequestContext

__all__ = ["logout", "refresh"]


async def refresh(auth: AuthService, ctx: RequestContext | None, token: str) -> TokenPair:
    """A new pair in the same family for a valid, unused refresh token; 401 otherwise."""
    try:
        claims = auth.codec.decode(token, "refresh")
    except InvalidToken:
        await auth.audit(ctx, "auth.refresh", "failure", reason="invalid_token")
        raise invalid_token() from None
    fam = claims.fam or ""
    sessions = auth.sessions
    if await sessions.family_revoked(fam):
        await auth.audit(ctx, "auth.token_reuse", "denied", user_id=claims.sub, reason="revoked")
        raise invalid_token()
    state = await sessions.user_state(claims.sub)
    if state is None or not state.active or state.epoch != claims.epoch:
        await auth.audit(ctx, "auth.refresh", "failure", user_id=claims.sub, reason="stale")
        raise invalid_token()
    if not await sessions.claim_refresh(claims):
        await sessions.revoke_family(fam, refresh_ttl=auth.settings.refresh_ttl_seconds)
        await auth.audit(ctx, "auth.token_reuse", "denied", user_id=claims.sub, reason="reused")
        raise invalid_token()
    pair = await auth.issue_pair(claims.sub, state, fam)
    await auth.audit(ctx, "auth.refresh", "success", user_id=claims.sub, actor_id=claims.sub)
    return pair


def _own_refresh(auth: AuthService, token: str, user_id: str) -> Claims | None:
    try:
        claims = auth.codec.decode(token, "refresh")
    except InvalidToken:
        return None
    return claims if claims.sub == user_id else None


async def logout(
    auth: AuthService, ctx: RequestContext | None, principal: Principal, token: str | None
) -> bool:
    """Revoke the caller's access token, and its refresh family when given; True if it was."""
    sessions = auth.sessions
    await sessions.revoke_access(principal.attributes["jti"], principal.attributes["exp"])
    claims = _own_refresh(auth, token, principal.id) if token else None
    if claims is not None and claims.fam:
        await sessions.revoke_family(claims.fam, refresh_ttl=auth.settings.refresh_ttl_seconds)
    await auth.audit(ctx, "auth.logout", "success", user_id=principal.id, family=claims is not None)
    return claims is not None
