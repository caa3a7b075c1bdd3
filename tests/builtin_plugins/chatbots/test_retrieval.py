"""Retrieval through the ``Retriever`` service: numbered sources in the prompt and the answer
(with a fake retriever, and with the real rag plugin on a collection it indexed, on both storage
setups); without an enabled retriever a chatbot with collections fails (503), never answers
blind."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest
from support.chatbots import Helpers, RecordingFilter, create_chatbot, internal, new_owner, public
from support.gateway import Env, Gateway

from kernel.hookspecs import hookimpl
from kernel.runtime import Kernel

RETRIEVAL = {"collections": ["col-1"], "top_k": 2, "mode": "hybrid", "cite_sources": True}


async def test_passages_reach_the_prompt_and_the_answer(gateway: Gateway, helpers: Helpers) -> None:
    async with gateway(extra=[helpers]) as env:
        owner = await new_owner(env)
        bot = await create_chatbot(env, owner, preset="researcher", retrieval=RETRIEVAL)
        client = openai.AsyncOpenAI(
            base_url=f"{env.base_url}/chatbots/{bot['id']}", api_key=owner.key, max_retries=0
        )
        reply = await client.chat.completions.create(
            model="x", messages=[{"role": "user", "content": "When does the office open?"}]
        )
        assert helpers.retriever.calls == [
            {"collections": ["col-1"], "query": "When does the office open?", "top_k": 2}
        ]
        system = helpers.filter.requests[-1]["messages"][0]["content"]
        assert "[1] handbook.pdf (part 3):\nThe office opens at nine o'clock sharp." in system
        assert "[2] faq.md" in system
        assert "cite them as [n]" in system
        assert reply.model_extra is not None
        sources = reply.model_extra["sources"]
        assert [(s["document_name"], s["position"]) for s in sources] == [
            ("handbook.pdf", 3),
            ("faq.md", 0),
        ]
        assert sources[0]["score"] == pytest.approx(0.91)
        async with public(env) as api:
            simple = await api.post(
                f"/chatbots/{bot['id']}/chat",
                json={"message": "And parking?"},
                headers={"Authorization": f"Bearer {owner.key}"},
            )
        assert simple.status_code == 200, simple.text
        body = simple.json()
        assert body["response"]
        assert body["sources"][1]["text"] == "Parking is free on weekends."
        assert body["usage"]["total_tokens"] > 0


async def test_without_a_retriever_retrieval_chatbots_fail_closed(gateway: Gateway) -> None:
    async with gateway() as env:
        owner = await new_owner(env)
        bot = await create_chatbot(env, owner, retrieval=RETRIEVAL)
        plain = await create_chatbot(env, owner)
        auth = {"Authorization": f"Bearer {owner.key}"}
        async with public(env) as api:
            refused = await api.post(
                f"/chatbots/{bot['id']}/chat", json={"message": "hi"}, headers=auth
            )
            assert refused.status_code == 503
            assert refused.json()["error"]["type"] == "service_unavailable"
            ok = await api.post(
                f"/chatbots/{plain['id']}/chat", json={"message": "hi"}, headers=auth
            )
            assert ok.status_code == 200


class Recorder:
    """Only the recording filter: the real rag plugin is the retriever."""

    PLUGIN_NAME = "chatbot_prompt_recorder"

    def __init__(self) -> None:
        self.filter = RecordingFilter()

    @hookimpl
    def enclava_chat_filters(self, kernel: Kernel) -> list[RecordingFilter]:
        return [self.filter]


HANDBOOK = b"""# Office handbook

## Opening hours

The office opens at nine o'clock sharp and closes at five.

## Pets

Dogs are welcome on Fridays; cats stay at home.
"""


async def _indexed_collection(env: Env, headers: dict[str, str]) -> str:
    """A collection holding ``handbook.md``, once it is indexed (local embeddings)."""
    async with internal(env) as client:
        made = await client.post("/rag/collections", json={"name": "handbook"}, headers=headers)
        assert made.status_code == 201, made.text
        collection_id = str(made.json()["id"])
        files = [("files", ("handbook.md", HANDBOOK, "application/octet-stream"))]
        sent = await client.post(
            f"/rag/collections/{collection_id}/documents", files=files, headers=headers
        )
        assert sent.status_code == 202, sent.text
        document_id = sent.json()["documents"][0]["id"]
        for _ in range(1200):
            job: dict[str, Any] = (
                await client.get(f"/rag/documents/{document_id}", headers=headers)
            ).json()["job"]
            if job["state"] in {"indexed", "failed"}:
                break
            await asyncio.sleep(0.05)
    assert job["state"] == "indexed", job
    return collection_id


async def test_a_chatbot_answers_from_a_real_collection(gateway_rag_on: Gateway) -> None:
    recorder = Recorder()
    async with gateway_rag_on(extra=[recorder]) as env:
        owner = await new_owner(env)
        collection_id = await _indexed_collection(env, owner.headers)
        retrieval = {"collections": [collection_id], "top_k": 1, "cite_sources": True}
        bot = await create_chatbot(env, owner, retrieval=retrieval)
        client = openai.AsyncOpenAI(
            base_url=f"{env.base_url}/chatbots/{bot['id']}", api_key=owner.key, max_retries=0
        )
        reply = await client.chat.completions.create(
            model="x", messages=[{"role": "user", "content": "When does the office open?"}]
        )
    assert reply.model_extra is not None
    [source] = reply.model_extra["sources"]
    assert source["document_name"] == "handbook.md"
    assert "nine o'clock" in source["text"]
    system = recorder.filter.requests[-1]["messages"][0]["content"]
    assert "[1] handbook.md" in system
    assert "The office opens at nine o'clock sharp" in system
