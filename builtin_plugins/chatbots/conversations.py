"""The ``ConversationStore`` service: conversations with a stable id, messages sealed at rest.

Each message row holds the AES-GCM ciphertext of its content and sources (:mod:`.cipher`), its
role, token count and time; SQL never sees the text. A conversation's ``updated_at`` moves with
every turn, and retention deletes those idle for longer than ``retention_days``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import delete, func, insert, or_, select, update

from builtin_plugins.chatbots.cipher import MessageCipher
from builtin_plugins.chatbots.models import chatbots, conversations
from builtin_plugins.chatbots.models import messages as rows_of_messages
from builtin_plugins.chatbots.payloads import ConversationView
from kernel.errors import NotFoundError
from kernel.services import ConversationMessage, Passage
from kernel.storage.sql import Database

__all__ = ["EncryptedConversations"]


class _Sealed(msgspec.Struct, frozen=True):
    content: str
    sources: list[Passage] = []


_DECODE = msgspec.json.Decoder(_Sealed)


def _aware(stamp: datetime) -> datetime:
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def _recent(conversation_id: str, turns: int) -> Any:
    """The rows of the last ``turns`` user/assistant pairs, newest first."""
    return (
        select(rows_of_messages)
        .where(rows_of_messages.c.conversation_id == conversation_id)
        .where(rows_of_messages.c.role.in_(("user", "assistant")))
        .order_by(rows_of_messages.c.id.desc())
        .limit(turns * 2)
    )


def _view(row: Any) -> ConversationView:
    return ConversationView(
        id=row.id,
        chatbot_id=row.chatbot_id,
        owner_id=row.owner_id,
        created_at=_aware(row.created_at),
        updated_at=_aware(row.updated_at),
    )


class EncryptedConversations:
    """Implements :class:`kernel.services.ConversationStore` (and what the routes need)."""

    def __init__(self, db: Database, cipher: MessageCipher) -> None:
        self._db = db
        self._cipher = cipher

    async def create(self, *, owner_id: str, chatbot_id: str) -> str:
        conversation_id = uuid.uuid4().hex
        await self.start(conversation_id, owner_id=owner_id, chatbot_id=chatbot_id, messages=[])
        return conversation_id

    async def start(
        self,
        conversation_id: str,
        *,
        owner_id: str,
        chatbot_id: str,
        messages: Sequence[ConversationMessage],
    ) -> None:
        """Create the conversation with its first messages in one transaction (a chat's first
        turn pays one commit, and a failed first call leaves no empty conversation)."""
        now = datetime.now(UTC)
        row = {
            "id": conversation_id,
            "chatbot_id": chatbot_id,
            "owner_id": owner_id,
            "created_at": now,
            "updated_at": now,
        }
        rows = self._sealed_rows(conversation_id, messages)
        async with self._db.session() as session:
            await session.execute(insert(conversations).values(**row))
            if rows:
                await session.execute(insert(rows_of_messages), rows)

    def _sealed_rows(
        self, conversation_id: str, messages: Sequence[ConversationMessage]
    ) -> list[dict[str, Any]]:
        rows = []
        for message in messages:
            plain = msgspec.json.encode(_Sealed(content=message.content, sources=message.sources))
            nonce, sealed = self._cipher.seal(
                plain, conversation_id=conversation_id, role=message.role
            )
            rows.append(
                {
                    "conversation_id": conversation_id,
                    "role": message.role,
                    "nonce": nonce,
                    "sealed": sealed,
                    "tokens": message.tokens,
                    "created_at": message.created_at,
                }
            )
        return rows

    async def append(self, conversation_id: str, messages: Sequence[ConversationMessage]) -> None:
        rows = self._sealed_rows(conversation_id, messages)
        if not rows:
            return
        async with self._db.session() as session:
            await session.execute(insert(rows_of_messages), rows)
            await session.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id)
                .values(updated_at=datetime.now(UTC))
            )

    async def recent(self, conversation_id: str, *, turns: int) -> list[ConversationMessage]:
        """The last ``turns`` user/assistant pairs, oldest first."""
        if turns <= 0:
            return []
        async with self._db.session() as session:
            rows = (await session.execute(_recent(conversation_id, turns))).all()
        return self._opened(conversation_id, reversed(rows))

    async def continued(
        self, conversation_id: str, *, turns: int
    ) -> tuple[ConversationView, list[Any]] | None:
        """The conversation and the sealed rows of its last ``turns`` pairs (newest first; open
        them with :meth:`memory` once the caller may), read in one transaction: a turn's whole
        memory load. None when there is no such conversation."""
        query = select(conversations).where(conversations.c.id == conversation_id)
        async with self._db.session() as session:
            row = (await session.execute(query)).first()
            if row is None:
                return None
            rows = [] if turns <= 0 else (await session.execute(_recent(conversation_id, turns)))
            return _view(row), list(rows)

    def memory(self, conversation_id: str, rows: list[Any]) -> list[ConversationMessage]:
        """The messages of rows from :meth:`continued`, oldest first."""
        return self._opened(conversation_id, reversed(rows))

    async def history(self, conversation_id: str) -> list[ConversationMessage]:
        """Every message of the conversation, oldest first."""
        query = (
            select(rows_of_messages)
            .where(rows_of_messages.c.conversation_id == conversation_id)
            .order_by(rows_of_messages.c.id)
        )
        return await self._messages(conversation_id, query)

    async def _messages(self, conversation_id: str, query: Any) -> list[ConversationMessage]:
        async with self._db.session() as session:
            rows = (await session.execute(query)).all()
        return self._opened(conversation_id, rows)

    def _opened(self, conversation_id: str, rows: Iterable[Any]) -> list[ConversationMessage]:
        found = []
        for row in rows:
            plain = self._cipher.open(
                row.nonce, row.sealed, conversation_id=conversation_id, role=row.role
            )
            sealed = _DECODE.decode(plain)
            found.append(
                ConversationMessage(
                    role=row.role,
                    content=sealed.content,
                    created_at=_aware(row.created_at),
                    tokens=row.tokens,
                    sources=sealed.sources,
                )
            )
        return found

    async def get(self, conversation_id: str) -> ConversationView:
        """The conversation's metadata, or NotFoundError."""
        query = select(conversations).where(conversations.c.id == conversation_id)
        async with self._db.session() as session:
            row = (await session.execute(query)).first()
        if row is None:
            raise NotFoundError(f"No conversation with id '{conversation_id}'.")
        return _view(row)

    async def page(
        self, *, viewer: str | None, chatbot_id: str | None, limit: int, offset: int
    ) -> tuple[list[ConversationView], int]:
        """Conversations ``viewer`` may see (theirs and their chatbots'; every one when None),
        most recently active first."""
        where = []
        if viewer is not None:
            own_bots = select(chatbots.c.id).where(chatbots.c.owner_id == viewer)
            where.append(
                or_(conversations.c.owner_id == viewer, conversations.c.chatbot_id.in_(own_bots))
            )
        if chatbot_id is not None:
            where.append(conversations.c.chatbot_id == chatbot_id)
        query = select(conversations).where(*where)
        count = select(func.count()).select_from(conversations).where(*where)
        query = query.order_by(conversations.c.updated_at.desc(), conversations.c.id)
        async with self._db.session() as session:
            total = int((await session.execute(count)).scalar_one())
            rows = (await session.execute(query.limit(limit).offset(offset))).all()
        return [_view(row) for row in rows], total

    async def delete(self, conversation_ids: Sequence[str]) -> None:
        """Delete conversations and their messages."""
        if not conversation_ids:
            return
        async with self._db.session() as session:
            await session.execute(
                delete(rows_of_messages).where(
                    rows_of_messages.c.conversation_id.in_(conversation_ids)
                )
            )
            await session.execute(
                delete(conversations).where(conversations.c.id.in_(conversation_ids))
            )

    async def purge_idle_since(self, cutoff: datetime) -> int:
        """Delete every conversation last active before ``cutoff``; how many went."""
        query = select(conversations.c.id).where(conversations.c.updated_at < cutoff)
        async with self._db.session() as session:
            ids = [str(i) for i in (await session.execute(query)).scalars()]
        for start in range(0, len(ids), 500):
            await self.delete(ids[start : start + 500])
        return len(ids)
