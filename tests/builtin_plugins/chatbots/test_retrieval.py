"""Retrieval through the ``Retriever`` service: numbered sources in the prompt and the answer;
without an enabled retriever a chatbot with collections fails (503), never answers blind."""

from __future__ import annotations

import openai
import pytest
from support.chatbots import Helpers, create_chatbot, new_owner, public
from support.gateway import Gateway

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
