"""Key records: the only code that reads or writes the ``api_keys`` table."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import RowMapping, bindparam, delete, func, select, update

from builtin_plugins.api_keys.models import api_keys
from kernel.storage.sql import Database

__all__ = [
    "KeyRecord",
    "delete_key",
    "find_by_prefix",
    "get_key",
    "insert_key",
    "list_keys",
    "record_last_used",
    "update_key",
]

_TIMES = ("expires_at", "revoked_at", "created_at", "updated_at", "last_used_at")


class KeyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A stored key: the hash and prefix, never the key itself."""

    id: str
    prefix: str
    key_hash: str
    owner_id: str
    name: str
    scopes: list[str]
    allowed_models: list[str]
    allowed_ips: list[str]
    allowed_chatbots: list[str]
    allowed_collections: list[str]
    required_region: str | None
    response_verification: str | None
    expires_at: datetime | None
    is_active: bool
    revoked_at: datetime | None
    rate_limit_per_minute: int | None
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None


def _record(mapping: RowMapping) -> KeyRecord:
    data = {column.name: mapping[column.name] for column in api_keys.columns}
    for name in _TIMES:
        value = data[name]
        if isinstance(value, datetime) and value.tzinfo is None:
            data[name] = value.replace(tzinfo=UTC)  # SQLite drops the zone
    return KeyRecord(**data)


async def insert_key(db: Database, record: KeyRecord) -> None:
    """Store a new key record."""
    async with db.session() as session:
        await session.execute(api_keys.insert().values(**msgspec.structs.asdict(record)))


async def get_key(db: Database, key_id: str) -> KeyRecord | None:
    """The record with ``key_id``, or None."""
    async with db.session() as session:
        row = (await session.execute(select(api_keys).where(api_keys.c.id == key_id))).first()
    return _record(row._mapping) if row else None


async def find_by_prefix(db: Database, prefix: str) -> KeyRecord | None:
    """The record with lookup ``prefix``, or None."""
    async with db.session() as session:
        row = (await session.execute(select(api_keys).where(api_keys.c.prefix == prefix))).first()
    return _record(row._mapping) if row else None


async def list_keys(
    db: Database, *, owner_id: str | None, limit: int, offset: int
) -> tuple[list[KeyRecord], int]:
    """One page of records (newest first), optionally of one owner, and the total count."""
    where = [] if owner_id is None else [api_keys.c.owner_id == owner_id]
    page = (
        select(api_keys)
        .where(*where)
        .order_by(api_keys.c.created_at.desc(), api_keys.c.id)
        .limit(limit)
        .offset(offset)
    )
    count = select(func.count()).select_from(api_keys).where(*where)
    async with db.session() as session:
        rows = (await session.execute(page)).all()
        total = (await session.execute(count)).scalar_one()
    return [_record(row._mapping) for row in rows], int(total)


async def update_key(db: Database, key_id: str, values: Mapping[str, Any]) -> KeyRecord | None:
    """Apply ``values`` and bump ``updated_at``; the new record, or None if it does not exist."""
    changes = {**values, "updated_at": datetime.now(UTC)}
    async with db.session() as session:
        await session.execute(update(api_keys).where(api_keys.c.id == key_id).values(**changes))
        row = (await session.execute(select(api_keys).where(api_keys.c.id == key_id))).first()
    return _record(row._mapping) if row else None


async def delete_key(db: Database, key_id: str) -> bool:
    """Remove the record; True when it existed."""
    async with db.session() as session:
        result = await session.execute(delete(api_keys).where(api_keys.c.id == key_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def record_last_used(db: Database, stamps: Mapping[str, datetime]) -> None:
    """Set ``last_used_at`` of each key id in ``stamps``, in one transaction."""
    if not stamps:
        return
    statement = (
        update(api_keys)
        .where(api_keys.c.id == bindparam("key_id"))
        .values(last_used_at=bindparam("used_at"))
    )
    rows = [{"key_id": key_id, "used_at": used_at} for key_id, used_at in stamps.items()]
    async with db.session() as session:
        await session.execute(statement, rows)
