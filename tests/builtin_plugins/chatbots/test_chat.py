"""The per-chatbot OpenAI endpoint through the real app, with the official SDK."""

from __future__ import annotations

import openai
import pytest
from support.chatbots import Helpers, create_chatbot, new_owner
from support.chatbots import internal as env_internal
from support.gateway import Gateway

from builtin_plugins.chatbots.chat import _events


def _client(base: str, chatbot_id: str, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=f"{base}/chatbots/{chatbot_id}", api_key=key, max_retries=0, timeout=20
    )


async def test_three_turns_keep_one_conversation_with_memory(
    gateway_on: Gateway, helpers: Helpers
) -> None:
    async with gateway_on(extra=[helpers]) as env:
        owner = await new_owner(env)
        bot = await create_chatbot(env, owner, system_prompt="You are Bob.", memory_turns=5)
        client = _client(env.base_url, bot["id"], owner.key)
        raw = await client.chat.completions.with_raw_response.create(
            model="ignored", messages=[{"role": "user", "content": "first question alpha"}]
        )
        conversation = raw.headers["x-enclava-conversation-id"]
        first = raw.parse()
        assert first.choices[0].message.content
        assert first.model_extra is not None
        assert first.model_extra["conversation_id"] == conversation
        for text in ("second question beta", "third question gamma"):
            again = await client.chat.completions.with_raw_response.create(
                model="ignored",
                messages=[{"role": "user", "content": text}],
                extra_body={"conversation_id": conversation},
            )
            assert again.headers["x-enclava-conversation-id"] == conversation
        third = again.parse()
        assert first.usage is not None
        assert third.usage is not None
        # The simulator counts every message it was sent: memory reached the provider.
        assert third.usage.prompt_tokens > first.usage.prompt_tokens + 8
        sent = helpers.filter.requests[-1]
        contents = [m["content"] for m in sent["messages"]]
        assert contents[0] == "You are Bob."
        assert "first question alpha" in contents
        assert "second question beta" in contents
        assert contents[-1] == "third question gamma"
        assert [m["role"] for m in sent["messages"]] == [
            "system",
            "user",
            "assistant",
            "user",
            "assistant",
            "user",
        ]
        assert sent["exchange"].kind == "chatbot"
        assert sent["exchange"].chatbot_id == bot["id"]


async def test_streaming_through_the_sdk_stores_the_turn(
    gateway_on: Gateway, helpers: Helpers
) -> None:
    async with gateway_on(extra=[helpers]) as env:
        owner = await new_owner(env)
        bot = await create_chatbot(env, owner)
        client = _client(env.base_url, bot["id"], owner.key)
        chunks = [
            c
            async for c in await client.chat.completions.create(
                model="x", messages=[{"role": "user", "content": "stream please"}], stream=True
            )
        ]
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text
        last = chunks[-1]
        assert last.choices == []
        assert {c.id for c in chunks} == {chunks[0].id}  # one completion, one chunk id
        assert last.model_extra is not None
        conversation = last.model_extra["conversation_id"]
        async with env_internal(env) as api:
            read = await api.get(f"/conversations/{conversation}", headers=owner.headers)
        assert read.status_code == 200, read.text
        messages = read.json()["messages"]
        assert [m["role"] for m in messages] == ["user", "assistant"]
        assert messages[0]["content"] == "stream please"
        assert messages[1]["content"] == text


async def test_bad_or_oversized_max_tokens_is_a_400_not_a_silent_trim(gateway: Gateway) -> None:
    """A negative cap, or one leaving no room for the prompt, would drop passages and memory
    unseen; the caller gets an OpenAI error naming ``max_tokens`` and nothing is stored."""
    async with gateway() as env:
        owner = await new_owner(env)
        bot = await create_chatbot(env, owner)
        client = _client(env.base_url, bot["id"], owner.key)
        for cap in (-5, 0, 10**20):
            with pytest.raises(openai.BadRequestError) as caught:
                await client.chat.completions.create(
                    model="x", messages=[{"role": "user", "content": "hi"}], max_tokens=cap
                )
            assert caught.value.body["param"] == "max_tokens"  # type: ignore[index]
            assert caught.value.body["type"] == "invalid_request_error"  # type: ignore[index]
        fine = await client.chat.completions.create(
            model="x", messages=[{"role": "user", "content": "hi"}], max_tokens=64
        )
        assert fine.choices[0].message.content
        async with env_internal(env) as api:
            listed = await api.get("/conversations", headers=owner.headers)
        assert listed.json()["total"] == 1


@pytest.mark.parametrize(
    ("chunk", "events"),
    [
        (b"data: 1\n\n", [b"data: 1\n\n"]),
        (b"data: 1\n\ndata: [DONE]\n\n", [b"data: 1\n\n", b"data: [DONE]\n\n"]),
        (b"data: 1\n\ndata: tail", [b"data: 1\n\n", b"data: tail"]),
    ],
    ids=["one", "two", "unterminated-last"],
)
def test_a_relayed_chunk_is_split_into_its_events(chunk: bytes, events: list[bytes]) -> None:
    """The gateway sends the events of one upstream read together; split, the sources chunk
    can go before ``[DONE]`` when both came in one chunk."""
    assert _events(chunk) == events
