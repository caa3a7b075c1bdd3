"""The conversation store: recent pairs oldest first; a sealed row moved to another
conversation fails to open."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import update
from support.chatbots import create_chatbot, new_owner
from support.gateway import Gateway

from builtin_plugins.chatbots.cipher import MessageIntegrityError
from builtin_plugins.chatbots.models import messages
from builtin_plugins.chatbots.runtime import runtime_for
from kernel.services import ConversationMessage, ConversationStore


def _message(i: int) -> ConversationMessage:
    role = "user" if i % 2 == 0 else "assistant"
    return ConversationMessage(role=role, content=f"{role[0]}{i}", created_at=datetime.now(UTC))


async def test_recent_pairs_and_a_moved_row_fails(gateway: Gateway) -> None:
    async with gateway() as env:
        owner = await new_owner(env)
        bot = await create_chatbot(env, owner)
        store = env.kernel.service(ConversationStore)
        assert isinstance(store, ConversationStore)
        one = await store.create(owner_id=owner.user_id, chatbot_id=bot["id"])
        two = await store.create(owner_id=owner.user_id, chatbot_id=bot["id"])
        await store.append(one, [_message(i) for i in range(6)])
        assert [m.content for m in await store.recent(one, turns=2)] == ["u2", "a3", "u4", "a5"]
        assert await store.recent(one, turns=0) == []
        async with env.kernel.stores.db.session() as session:
            await session.execute(
                update(messages)
                .where(messages.c.conversation_id == one)
                .values(conversation_id=two)
            )
        with pytest.raises(MessageIntegrityError):
            await runtime_for(env.kernel).conversations.history(two)
