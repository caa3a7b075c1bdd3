"""SQL access for collection shares: which users, besides the owner, reach a collection.

A ``reader`` lists, searches and downloads its documents; an ``editor`` also uploads,
reprocesses, cancels and deletes documents. Renaming, deleting and sharing stay with the owner
(and admins); who decides is :mod:`builtin_plugins.rag.access`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

import msgspec
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from builtin_plugins.rag.models import rag_collection_shares
from kernel.errors import NotFoundError
from kernel.storage.sql import Database

__all__ = [
    "ShareRole",
    "ShareRow",
    "delete_share",
    "get_share",
    "list_shares",
    "put_share",
    "share_roles",
]

ShareRole = Literal["reader", "editor"]
_table = rag_collection_shares


class ShareRow(msgspec.Struct, frozen=True, kw_only=True):
    collection_id: str
    user_id: str
    role: ShareRole
    created_by: str | None
    created_at: datetime


async def get_share(db: Database, collection_id: str, user_id: str) -> ShareRow | None:
    async with db.session() as session:
        found = await session.execute(
            select(_table).where(
                _table.c.collection_id == collection_id, _table.c.user_id == user_id
            )
        )
        row = found.first()
    return None if row is None else ShareRow(**dict(row._mapping))


async def list_shares(db: Database, collection_id: str) -> list[ShareRow]:
    """Oldest first."""
    async with db.session() as session:
        rows = await session.execute(
            select(_table)
            .where(_table.c.collection_id == collection_id)
            .order_by(_table.c.created_at, _table.c.user_id)
        )
    return [ShareRow(**dict(row._mapping)) for row in rows]


async def share_roles(
    db: Database, user_id: str, collection_ids: Sequence[str]
) -> dict[str, ShareRole]:
    """The role ``user_id`` was given on each of ``collection_ids`` that is shared with them."""
    if not collection_ids:
        return {}
    async with db.session() as session:
        rows = await session.execute(
            select(_table.c.collection_id, _table.c.role).where(
                _table.c.user_id == user_id, _table.c.collection_id.in_(collection_ids)
            )
        )
    return {str(row.collection_id): row.role for row in rows}


async def put_share(
    db: Database, collection_id: str, user_id: str, role: ShareRole, *, created_by: str
) -> ShareRow:
    """Share (or change the role of an existing share) and return the share."""
    where = (_table.c.collection_id == collection_id, _table.c.user_id == user_id)
    try:
        async with db.session() as session:
            changed = await session.execute(update(_table).where(*where).values(role=role))
            if not getattr(changed, "rowcount", 0):
                await session.execute(
                    insert(_table).values(
                        collection_id=collection_id,
                        user_id=user_id,
                        role=role,
                        created_by=created_by,
                        created_at=datetime.now(UTC),
                    )
                )
    except IntegrityError:  # a concurrent PUT inserted it first: this one changes the role
        async with db.session() as session:
            await session.execute(update(_table).where(*where).values(role=role))
    share = await get_share(db, collection_id, user_id)
    if share is None:  # the collection was deleted meanwhile
        raise NotFoundError(f"No collection with id '{collection_id}'.")
    return share


async def delete_share(db: Database, collection_id: str, user_id: str) -> bool:
    """Remove a share; False when there was none."""
    async with db.session() as session:
        result = await session.execute(
            delete(_table).where(
                _table.c.collection_id == collection_id, _table.c.user_id == user_id
            )
        )
    return bool(getattr(result, "rowcount", 0))
