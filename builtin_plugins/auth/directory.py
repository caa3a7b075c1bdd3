"""The ``UserDirectory`` service: what other plugins may know about accounts."""

from __future__ import annotations

from builtin_plugins.auth.login import email_hash
from builtin_plugins.auth.users import User, get_user, get_user_by_email
from kernel.services import UserRecord
from kernel.storage.sql import Database

__all__ = ["AccountDirectory"]


def _record(user: User | None) -> UserRecord | None:
    if user is None:
        return None
    return UserRecord(
        id=user.id, email=user.email, roles=frozenset({user.role}), active=user.is_active
    )


class AccountDirectory:
    """Implements :class:`kernel.services.UserDirectory` over the ``users`` table."""

    async def by_email(self, db: Database, email: str) -> UserRecord | None:
        return _record(await get_user_by_email(db, email))

    async def by_id(self, db: Database, user_id: str) -> UserRecord | None:
        return _record(await get_user(db, user_id))

    def email_hash(self, email: str) -> str:
        return email_hash(email)
