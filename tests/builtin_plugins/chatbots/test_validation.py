"""Saving a chatbot: presets fill defaults; an unreachable model is a clear 400."""

from __future__ import annotations

from typing import Any

import pytest
from support.chatbots import create_chatbot, internal, new_owner, public
from support.gateway import SHARED, Gateway

PRIVATEMODE_ONLY = "gemma-3-27b"


async def test_presets_fill_only_what_was_left_out(gateway: Gateway) -> None:
    async with gateway() as env:
        owner = await new_owner(env)
        teacher = await create_chatbot(env, owner, preset="teacher")
        assert teacher["system_prompt"].startswith("You are a patient teacher")
        assert teacher["temperature"] == 0.5
        assert teacher["memory_turns"] == 20
        own = await create_chatbot(
            env, owner, preset="researcher", system_prompt="Mine.", temperature=0.9
        )
        assert (own["system_prompt"], own["temperature"], own["memory_turns"]) == ("Mine.", 0.9, 10)
        async with internal(env) as api:
            presets = (await api.get("/chatbots/presets", headers=owner.headers)).json()
        assert set(presets) == {
            "assistant",
            "customer_support",
            "teacher",
            "researcher",
            "creative_writer",
            "custom",
        }


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"model": "no-such-model"}, "model_not_found"),
        ({"model": PRIVATEMODE_ONLY, "allowed_providers": ["redpill"]}, "model_unreachable"),
        ({"model": PRIVATEMODE_ONLY, "required_region": "us"}, "model_unreachable"),
        ({"model": SHARED, "allowed_providers": ["nobody"]}, None),
        (
            {
                "model": SHARED,
                "allowed_providers": ["redpill"],
                "preferred_providers": ["privatemode"],
            },
            None,
        ),
        ({"model": SHARED, "temperature": 7}, None),
    ],
    ids=["unknown", "not-allowed", "region", "unknown-provider", "preferred-outside", "range"],
)
async def test_unreachable_configs_are_400(
    gateway: Gateway, fields: dict[str, Any], code: str | None
) -> None:
    async with gateway(ENCLAVA_REDPILL_REGION="us") as env:
        owner = await new_owner(env)
        async with internal(env) as api:
            made = await api.post("/chatbots", headers=owner.headers, json={"name": "b", **fields})
        assert made.status_code == 400, made.text
        if code is not None:
            assert made.json()["error"]["code"] == code


async def test_an_update_is_validated_like_a_new_chatbot(gateway: Gateway) -> None:
    async with gateway() as env:
        owner = await new_owner(env)
        bot = await create_chatbot(env, owner, model=PRIVATEMODE_ONLY)
        async with internal(env) as api:
            path = f"/chatbots/{bot['id']}"
            bad = await api.patch(
                path, headers=owner.headers, json={"allowed_providers": ["redpill"]}
            )
            assert bad.status_code == 400
            nan = {"collections": ["c"], "score_threshold": "NaN"}
            bad = await api.patch(path, headers=owner.headers, json={"retrieval": nan})
            assert bad.status_code == 400, bad.text
            assert bad.json()["error"]["param"] == "retrieval.score_threshold"
            good = await api.patch(path, headers=owner.headers, json={"name": "renamed"})
            assert good.status_code == 200
            assert good.json()["name"] == "renamed"
            assert good.json()["model"] == PRIVATEMODE_ONLY


async def test_malformed_chat_bodies_are_400(gateway: Gateway) -> None:
    async with gateway() as env:
        owner = await new_owner(env)
        bot = await create_chatbot(env, owner)
        auth = {"Authorization": f"Bearer {owner.key}"}
        path = f"/chatbots/{bot['id']}/chat/completions"
        user = [{"role": "user", "content": "hi"}]
        async with public(env) as api:
            for body, param in (
                ({"messages": []}, "messages"),
                ({"messages": [{"role": "system", "content": "x"}]}, "messages"),
                ({"messages": user, "stream": "yes"}, "stream"),
                ({"messages": user, "conversation_id": 5}, "conversation_id"),
            ):
                answer = await api.post(path, json=body, headers=auth)
                assert answer.status_code == 400, answer.text
                assert answer.json()["error"]["param"] == param
            both = await api.post(
                path,
                json={"messages": user, "conversation_id": "a"},
                headers={**auth, "x-enclava-conversation-id": "b"},
            )
            assert both.status_code == 400
            assert (await api.post(path, content=b"[1]", headers=auth)).status_code in (400, 415)
