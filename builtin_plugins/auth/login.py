"""Logging in and changing passwords: argon2id verification, lockout, rehash on login.

Unknown emails and wrong passwords get the same answer after the same work (a dummy
verification), so the response never says whether an email is registered.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime

from builtin_plugins.auth.passwords import check_password_policy
from builtin_plugins.auth.service import AuthService, TokenPair
from builtin_plugins.auth.settings import MAX_PASSWORD_LENGTH
from builtin_plugins.auth.users import (
    User,
    get_user,
    get_user_by_email,
    record_failed_login,
    record_login,
    set_password,
)
from kernel.errors import AuthenticationError, InvalidRequestError, NotFoundError
from kernel.types import RequestContext

__all__ = ["BAD_CREDENTIALS", "LOCKED", "change_password", "email_hash", "login"]

BAD_CREDENTIALS = "Incorrect email or password."
LOCKED = "This account is temporarily locked after too many failed logins. Try again later."


def _bad_credentials() -> AuthenticationError:
    return AuthenticationError(BAD_CREDENTIALS, code="invalid_credentials")


def _locked() -> AuthenticationError:
    return AuthenticationError(LOCKED, code="account_locked")


async def _verify(auth: AuthService, user: User | None, password: str) -> bool:
    if user is None:
        await asyncio.to_thread(auth.passwords.dummy_verify, password)
        return False
    return await asyncio.to_thread(auth.passwords.verify, user.password_hash, password)


async def _fail(
    auth: AuthService, ctx: RequestContext | None, user: User, action: str = "auth.login"
) -> AuthenticationError:
    """Count a wrong password towards the lockout; the error login answers with."""
    settings = auth.settings
    locked_until = await record_failed_login(
        auth.kernel.stores.db,
        user.id,
        max_failures=settings.max_failed_logins,
        lockout_seconds=settings.lockout_seconds,
    )
    if locked_until is None:
        await auth.audit(ctx, action, "failure", user_id=user.id, reason="bad_password")
        return _bad_credentials()
    await auth.audit(ctx, "auth.lockout", "denied", user_id=user.id, until=locked_until.isoformat())
    return _locked()


def email_hash(email: str) -> str:
    """SHA-256 hex of the trimmed, lower-cased email: names an account without storing it."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


async def _audit_failure(
    auth: AuthService, ctx: RequestContext | None, user: User | None, email: str, reason: str
) -> None:
    if user is not None:
        await auth.audit(ctx, "auth.login", "failure", user_id=user.id, reason=reason)
    else:
        await auth.audit(ctx, "auth.login", "failure", reason=reason, email_hash=email_hash(email))


async def login(
    auth: AuthService, ctx: RequestContext | None, email: str, password: str
) -> TokenPair:
    """Tokens for valid credentials; one generic 401 otherwise (a distinct one while locked)."""
    db = auth.kernel.stores.db
    user = await get_user_by_email(db, email) if len(email) <= 320 else None
    if len(password) > MAX_PASSWORD_LENGTH:
        await _audit_failure(auth, ctx, user, email, "password_too_long")
        raise _bad_credentials()
    if user is not None and user.locked_until and user.locked_until > datetime.now(UTC):
        await auth.audit(ctx, "auth.login", "denied", user_id=user.id, reason="locked")
        raise _locked()
    if not await _verify(auth, user, password):
        if user is None:
            await _audit_failure(auth, ctx, None, email, "unknown_email")
            raise _bad_credentials()
        raise await _fail(auth, ctx, user)
    assert user is not None
    if not user.is_active:
        await auth.audit(ctx, "auth.login", "denied", user_id=user.id, reason="inactive")
        raise _bad_credentials()
    new_hash = None
    if auth.passwords.needs_rehash(user.password_hash):
        new_hash = await asyncio.to_thread(auth.passwords.hash, password)
    await record_login(db, user.id, new_hash=new_hash)
    state = await auth.sessions.store_user(user)
    pair = await auth.issue_pair(user.id, state)
    await auth.audit(
        ctx, "auth.login", "success", user_id=user.id, actor_id=user.id, rehashed=bool(new_hash)
    )
    return pair


async def change_password(
    auth: AuthService, ctx: RequestContext | None, user_id: str, current: str, new: str
) -> TokenPair:
    """Set a new password, clear ``force_password_change`` and end every earlier session."""
    db = auth.kernel.stores.db
    user = await get_user(db, user_id)
    if user is None:
        raise NotFoundError("User not found.")
    if len(current) > MAX_PASSWORD_LENGTH or not await _verify(auth, user, current):
        await _fail(auth, ctx, user, "auth.password_change")
        raise InvalidRequestError("The current password is incorrect.", param="current_password")
    check_password_policy(new, min_length=auth.settings.password_min_length, param="new_password")
    if new == current:
        raise InvalidRequestError(
            "The new password must differ from the current one.", param="new_password"
        )
    new_hash = await asyncio.to_thread(auth.passwords.hash, new)
    updated = await set_password(db, user_id, new_hash)
    if updated is None:
        raise NotFoundError("User not found.")
    state = await auth.sessions.store_user(updated)
    pair = await auth.issue_pair(user_id, state)
    await auth.audit(ctx, "auth.password_change", "success", user_id=user_id)
    return pair
