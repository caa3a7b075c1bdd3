"""User records: the only code that reads or writes the ``users`` table."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from builtin_plugins.auth.models import users
from kernel.errors import ConflictError, InvalidRequestError
from kernel.roles import ROLES, Role
from kernel.storage.sql import Database

__all__ = [
    "User",
    "create_user",
    "get_user",
    "get_user_by_email",
    "list_users",
    "normalise_email",
    "record_failed_login",
    "record_login",
    "set_password",
    "update_user",
]


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


async def list_users(db: Database, *, limit: int, offset: int) -> tuple[list[User], int]:
    """One page of users, oldest first, and the total count."""
    async with db.session() as session:
        total = (await session.execute(select(func.count()).select_from(users))).scalar_one()
        query = select(users).order_by(users.c.created_at, users.c.id).limit(limit).offset(offset)
        rows = (await session.execute(query)).all()
    return [_user(row) for row in rows], int(total)


async def update_user(
    db: Database, user_id: str, *, bump_epoch: bool = False, **values: Any
) -> User | None:
    """Set columns of one user (``bump_epoch`` invalidates every token it holds); None if absent."""
    changes: dict[str, Any] = {**values, "updated_at": datetime.now(UTC)}
    if bump_epoch:
        changes["token_epoch"] = users.c.token_epoch + 1
    async with db.session() as session:
        await session.execute(update(users).where(users.c.id == user_id).values(**changes))
        row = (await session.execute(select(users).where(users.c.id == user_id))).first()
    return _user(row) if row else None


async def set_password(db: Database, user_id: str, password_hash: str) -> User | None:
    """New hash, ``force_password_change`` cleared, every earlier token invalidated."""
    return await update_user(
        db, user_id, bump_epoch=True, password_hash=password_hash, force_password_change=False
    )


async def record_login(db: Database, user_id: str, *, new_hash: str | None = None) -> None:
    """A successful login: clear the failure count and lock; store a rehashed password if given."""
    values: dict[str, Any] = {"failed_logins": 0, "locked_until": None}
    if new_hash is not None:
        values["password_hash"] = new_hash
    async with db.session() as session:
        await session.execute(update(users).where(users.c.id == user_id).values(**values))


async def record_failed_login(
    db: Database, user_id: str, *, max_failures: int, lockout_seconds: float
) -> datetime | None:
    """Count a failed login atomically; returns the lock expiry when this failure locks the user."""
    async with db.session() as session:
        count = (
            await session.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(failed_logins=users.c.failed_logins + 1)
                .returning(users.c.failed_logins)
            )
        ).scalar_one()
        if count < max_failures:
            return None
        locked_until = datetime.now(UTC) + timedelta(seconds=lockout_seconds)
        await session.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(failed_logins=0, locked_until=locked_until)
        )
    return locked_until
