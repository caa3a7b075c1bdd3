"""The ``UserDirectory`` service: what other plugins may know about accounts, and creating one
(the demo's first admin) under the same password policy as the API."""

from __future__ import annotations

import asyncio

from builtin_plugins.auth.login import email_hash
from builtin_plugins.auth.passwords import Passwords, check_password_policy
from builtin_plugins.auth.settings import auth_settings
from builtin_plugins.auth.users import User, create_user, get_user, get_user_by_email
from kernel.errors import InvalidRequestError
from kernel.roles import ROLES
from kernel.runtime import Kernel
from kernel.services import UserRecord
from kernel.storage.sql import Database

__all__ = ["AccountDirectory"]


def _record(user: User) -> UserRecord:
    return UserRecord(
        id=user.id, email=user.email, roles=frozenset({user.role}), active=user.is_active
    )


class AccountDirectory:
    """Implements :class:`kernel.services.UserDirectory` over the ``users`` table."""

    def __init__(self, kernel: Kernel) -> None:
        self._kernel = kernel

    async def by_email(self, db: Database, email: str) -> UserRecord | None:
        user = await get_user_by_email(db, email)
        return None if user is None else _record(user)

    async def by_id(self, db: Database, user_id: str) -> UserRecord | None:
        user = await get_user(db, user_id)
        return None if user is None else _record(user)

    def email_hash(self, email: str) -> str:
        return email_hash(email)

    async def create(
        self,
        db: Database,
        *,
        email: str,
        password: str,
        role: str,
        force_password_change: bool = True,
    ) -> UserRecord:
        if role not in ROLES:
            raise InvalidRequestError(f"Unknown role '{role}'.", param="role")
        minimum = auth_settings(self._kernel.settings).password_min_length
        check_password_policy(password, min_length=minimum)
        password_hash = await asyncio.to_thread(Passwords().hash, password)
        user = await create_user(
            db,
            email=email,
            password_hash=password_hash,
            role=role,
            force_password_change=force_password_change,
        )
        return _record(user)
