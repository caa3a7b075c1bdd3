"""Conversations: sealed at rest, listed, read, exported, deleted, and expired by retention."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, text, update
from support.chatbots import create_chatbot, internal, new_owner, public
from support.gateway import Gateway

from builtin_plugins.chatbots import enclava_background_tasks
from builtin_plugins.chatbots.models import conversations, messages
from builtin_plugins.usage.models import usage_records
from kernel.services import ConversationStore

SECRET = "PlumTreeWhisper"


async def _say(env_base: str, bot_id: str, key: str, content: str, **extra: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=env_base, timeout=20) as api:
        return await api.post(
            f"/chatbots/{bot_id}/chat/completions",
            json={"model": "x", "messages": [{"role": "user", "content": content}], **extra},
            headers={"Authorization": f"Bearer {key}"},
        )


async def test_messages_are_sealed_at_rest_and_never_logged(
    gateway_on: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with gateway_on() as env:
        owner = await new_owner(env)
        bot = await create_chatbot(env, owner)
        said = await _say(env.base_url, bot["id"], owner.key, f"my word is {SECRET}")
        assert said.status_code == 200
        db = env.kernel.stores.db
        async with db.session() as session:
            rows = (await session.execute(select(messages))).all()
            assert len(rows) == 2
            for row in rows:
                assert SECRET.encode() not in row.sealed
                assert len(row.nonce) == 12
            assert len({row.nonce for row in rows}) == 2
            dump = " ".join(
                str(r)
                for r in (await session.execute(text("SELECT * FROM chatbot_messages"))).all()
            )
            assert SECRET not in dump
        store = env.kernel.service(ConversationStore)
        recent = await store.recent(said.json()["conversation_id"], turns=1)
        assert recent[0].content == f"my word is {SECRET}"
        assert recent[1].tokens is not None
    assert SECRET not in caplog.text


async def test_usage_rows_carry_the_chatbot_id(gateway_on: Gateway) -> None:
    async with gateway_on() as env:
        owner = await new_owner(env)
        bot = await create_chatbot(env, owner)
        await _say(env.base_url, bot["id"], owner.key, "count me")
        db = env.kernel.stores.db
        query = select(usage_records.c.kind).where(usage_records.c.chatbot_id == bot["id"])
        for _ in range(100):
            async with db.session() as session:
                kinds = list((await session.execute(query)).scalars())
            if kinds:
                break
            import asyncio

            await asyncio.sleep(0.05)
        assert kinds == ["chatbot"]


async def test_list_read_export_and_delete(gateway_on: Gateway) -> None:
    async with gateway_on() as env:
        owner = await new_owner(env)
        bot = await create_chatbot(env, owner, name="Helper")
        first = await _say(env.base_url, bot["id"], owner.key, "hello one")
        conversation = first.json()["conversation_id"]
        headers = {"x-enclava-conversation-id": conversation}
        async with httpx.AsyncClient(base_url=env.base_url, timeout=20) as api:
            second = await api.post(
                f"/chatbots/{bot['id']}/chat/completions",
                json={"model": "x", "messages": [{"role": "user", "content": "hello two"}]},
                headers={"Authorization": f"Bearer {owner.key}", **headers},
            )
        assert second.json()["conversation_id"] == conversation
        unknown = await _say(env.base_url, bot["id"], owner.key, "x", conversation_id="nope")
        assert unknown.status_code == 404
        async with internal(env) as api:
            listed = (await api.get("/conversations", headers=owner.headers)).json()
            assert [c["id"] for c in listed["data"]] == [conversation]
            one = (await api.get(f"/conversations/{conversation}", headers=owner.headers)).json()
            assert [m["content"] for m in one["messages"] if m["role"] == "user"] == [
                "hello one",
                "hello two",
            ]
            as_json = await api.get(f"/conversations/{conversation}/export", headers=owner.headers)
            assert as_json.json()["messages"] == one["messages"]
            assert "attachment" in as_json.headers["content-disposition"]
            markdown = await api.get(
                f"/conversations/{conversation}/export?format=markdown", headers=owner.headers
            )
            assert markdown.headers["content-type"] == "text/markdown; charset=utf-8"
            assert f"# Conversation {conversation}" in markdown.text
            assert "### user" in markdown.text
            assert "hello two" in markdown.text
            gone = await api.delete(f"/conversations/{conversation}", headers=owner.headers)
            assert gone.status_code == 204
            missing = await api.get(f"/conversations/{conversation}", headers=owner.headers)
            assert missing.status_code == 404
            admin = await new_owner(env, role="admin")
            audited = await api.get("/audit?action=conversation.delete", headers=admin.headers)
            [event] = audited.json()["data"]
            assert event["resource_id"] == conversation
            assert "hello" not in audited.text


async def test_playground_streams_sse(gateway: Gateway) -> None:
    async with gateway() as env:
        owner = await new_owner(env)
        bot = await create_chatbot(env, owner)
        async with internal(env) as api:
            streamed = await api.post(
                f"/chatbots/{bot['id']}/chat",
                json={"message": "stream to the dashboard", "stream": True},
                headers=owner.headers,
            )
        assert streamed.headers["content-type"].startswith("text/event-stream"), streamed.text
        events = [e for e in streamed.text.split("\n\n") if e]
        assert events[-1] == "data: [DONE]"
        assert '"conversation_id"' in events[-2]
        assert streamed.headers["x-enclava-conversation-id"]


async def test_retention_deletes_idle_conversations(gateway_on: Gateway) -> None:
    async with gateway_on(ENCLAVA_CHATBOTS_RETENTION_DAYS="7") as env:
        owner = await new_owner(env)
        bot = await create_chatbot(env, owner)
        old = (await _say(env.base_url, bot["id"], owner.key, "old")).json()["conversation_id"]
        fresh = (await _say(env.base_url, bot["id"], owner.key, "new")).json()["conversation_id"]
        db = env.kernel.stores.db
        async with db.session() as session:
            await session.execute(
                update(conversations)
                .where(conversations.c.id == old)
                .values(updated_at=datetime.now(UTC) - timedelta(days=8))
            )
        [task] = enclava_background_tasks(env.kernel)
        await task.run()
        async with db.session() as session:
            left = set((await session.execute(select(conversations.c.id))).scalars())
            orphans = (
                await session.execute(select(messages).where(messages.c.conversation_id == old))
            ).all()
        assert left == {fresh}
        assert orphans == []
        async with public(env) as api:
            again = await api.post(
                f"/chatbots/{bot['id']}/chat",
                json={"message": "continue", "conversation_id": old},
                headers={"Authorization": f"Bearer {owner.key}"},
            )
        assert again.status_code == 404
