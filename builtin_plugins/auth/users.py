"""User records: the only code that reads or writes the ``users`` table."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from builtin_plugins.auth.models import users
from builtin_plugins.auth.roles import ROLES, Role
from kernel.errors import ConflictError, InvalidRequestError
from kernel.storage.sql import Database

__all__ = ["User", "create_user", "get_user", "get_user_by_email", "normalise_email"]


class User(msgspec.Struct, frozen=True):
    """A user as stored (the password hash never leaves the auth plugin's responses)."""

    id: str
    email: str
    password_hash: str
    role: Role
    is_active: bool
    force_password_change: bool
    failed_logins: int
    locked_until: datetime | None
    token_epoch: int
    created_at: datetime
    updated_at: datetime


def normalise_email(email: str) -> str:
    """Trimmed, lower-cased; InvalidRequestError if it is not an address."""
    value = email.strip().lower()
    local, _, domain = value.partition("@")
    if not local or "." not in domain or len(value) > 320 or " " in value:
        raise InvalidRequestError("A valid email address is required.", param="email")
    return value


def _user(row: Any) -> User:
    data = dict(row._mapping)
    for key in ("locked_until", "created_at", "updated_at"):
        value = data[key]
        if isinstance(value, datetime) and value.tzinfo is None:
            data[key] = value.replace(tzinfo=UTC)  # SQLite drops the zone
    return User(**data)


async def create_user(
    db: Database,
    *,
    email: str,
    password_hash: str,
    role: Role = "user",
    force_password_change: bool = False,
) -> User:
    """Insert a user; ConflictError when the email is taken."""
    if role not in ROLES:
        raise InvalidRequestError(f"Unknown role '{role}'.", param="role")
    now = datetime.now(UTC)
    values = {
        "id": uuid.uuid4().hex,
        "email": normalise_email(email),
        "password_hash": password_hash,
        "role": role,
        "is_active": True,
        "force_password_change": force_password_change,
        "failed_logins": 0,
        "locked_until": None,
        "token_epoch": 0,
        "created_at": now,
        "updated_at": now,
    }
    try:
        async with db.session() as session:
            await session.execute(users.insert().values(**values))
    except IntegrityError:
        raise ConflictError("A user with this email already exists.", param="email") from None
    return User(**values)  # type: ignore[arg-type]


async def get_user(db: Database, user_id: str) -> User | None:
    async with db.session() as session:
        row = (await session.execute(select(users).where(users.c.id == user_id))).first()
    return _user(row) if row else None


async def get_user_by_email(db: Database, email: str) -> User | None:
    async with db.session() as session:
        query = select(users).where(func.lower(users.c.email) == email.strip().lower())
        row = (await session.execute(query)).first()
    return _user(row) if row else None
