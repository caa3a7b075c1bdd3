"""Chatbot configs in SQL: insert, read, list, update, delete (conversations go with them)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import delete, insert, select, update

from builtin_plugins.chatbots.models import chatbots, conversations, messages
from builtin_plugins.chatbots.payloads import Chatbot, Retrieval
from kernel.storage.sql import Database

__all__ = [
    "chatbot_ids_owned_by",
    "delete_chatbot",
    "get_chatbot",
    "insert_chatbot",
    "list_chatbots",
    "owner_of",
    "update_chatbot",
]


def _row_to_chatbot(row: Mapping[Any, Any]) -> Chatbot:
    values = dict(row)
    if values["retrieval"] is not None:
        values["retrieval"] = msgspec.convert(values["retrieval"], Retrieval)
    for stamp in ("created_at", "updated_at"):
        if values[stamp].tzinfo is None:  # SQLite returns naive datetimes
            values[stamp] = values[stamp].replace(tzinfo=UTC)
    return Chatbot(**values)


def _column_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    values = dict(fields)
    if isinstance(values.get("retrieval"), Retrieval):
        values["retrieval"] = msgspec.to_builtins(values["retrieval"])
    return values


async def insert_chatbot(db: Database, *, owner_id: str, fields: Mapping[str, Any]) -> Chatbot:
    """Store a new chatbot for ``owner_id`` (``fields`` are complete and validated)."""
    now = datetime.now(UTC)
    values = {
        "id": uuid.uuid4().hex,
        "owner_id": owner_id,
        **_column_values(fields),
        "created_at": now,
        "updated_at": now,
    }
    async with db.session() as session:
        await session.execute(insert(chatbots).values(**values))
    return _row_to_chatbot(values)


async def get_chatbot(db: Database, chatbot_id: str) -> Chatbot | None:
    async with db.session() as session:
        row = (
            (await session.execute(select(chatbots).where(chatbots.c.id == chatbot_id)))
            .mappings()
            .first()
        )
    return None if row is None else _row_to_chatbot(row)


async def list_chatbots(db: Database, *, owner_id: str | None) -> list[Chatbot]:
    """Chatbots of ``owner_id`` (every owner's when None), newest first."""
    query = select(chatbots).order_by(chatbots.c.created_at.desc(), chatbots.c.id)
    if owner_id is not None:
        query = query.where(chatbots.c.owner_id == owner_id)
    async with db.session() as session:
        rows = (await session.execute(query)).mappings().all()
    return [_row_to_chatbot(row) for row in rows]


async def owner_of(db: Database, chatbot_id: str) -> str | None:
    """The owner of ``chatbot_id``, or None when there is no such chatbot."""
    async with db.session() as session:
        found = await session.execute(
            select(chatbots.c.owner_id).where(chatbots.c.id == chatbot_id)
        )
    owner: str | None = found.scalar_one_or_none()
    return owner


async def chatbot_ids_owned_by(db: Database, owner_id: str) -> list[str]:
    async with db.session() as session:
        found = await session.execute(select(chatbots.c.id).where(chatbots.c.owner_id == owner_id))
    return list(found.scalars())


async def update_chatbot(db: Database, chatbot_id: str, fields: Mapping[str, Any]) -> None:
    values = {**_column_values(fields), "updated_at": datetime.now(UTC)}
    async with db.session() as session:
        await session.execute(update(chatbots).where(chatbots.c.id == chatbot_id).values(**values))


async def delete_chatbot(db: Database, chatbot_id: str) -> None:
    """Delete the chatbot with its conversations and messages (explicitly: SQLite may not
    enforce cascades)."""
    ids = select(conversations.c.id).where(conversations.c.chatbot_id == chatbot_id)
    async with db.session() as session:
        await session.execute(delete(messages).where(messages.c.conversation_id.in_(ids)))
        await session.execute(delete(conversations).where(conversations.c.chatbot_id == chatbot_id))
        await session.execute(delete(chatbots).where(chatbots.c.id == chatbot_id))
