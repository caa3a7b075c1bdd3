"""A chatbot's preferred providers reorder routing; its allowed providers are a hard filter,
kept through failover (a failing allowed provider is a 503, never a forbidden one)."""

from __future__ import annotations

from typing import Any

from support.chatbots import create_chatbot, new_owner, public
from support.gateway import Gateway

CHAT = {"model": "x", "messages": [{"role": "user", "content": "route me"}]}


async def _count(sim: Any) -> int:
    return len(await sim.control.requests("/v1/chat/completions"))


async def test_preferred_provider_goes_first(gateway_on: Gateway) -> None:
    async with gateway_on() as env:
        owner = await new_owner(env)
        plain = await create_chatbot(env, owner)
        preferring = await create_chatbot(env, owner, preferred_providers=["redpill"])
        auth = {"Authorization": f"Bearer {owner.key}"}
        async with public(env) as api:
            first = await api.post(
                f"/chatbots/{plain['id']}/chat/completions", json=CHAT, headers=auth
            )
            assert first.headers["x-enclava-provider"] == "privatemode"
            path = f"/chatbots/{preferring['id']}/chat/completions"
            second = await api.post(path, json=CHAT, headers=auth)
            assert second.headers["x-enclava-provider"] == "redpill"
            await env.redpill.control.set_faults(status=500)
            failover = await api.post(path, json=CHAT, headers=auth)
            assert failover.status_code == 200
            assert failover.headers["x-enclava-provider"] == "privatemode"


async def test_allowed_providers_never_fail_over_elsewhere(gateway_on: Gateway) -> None:
    async with gateway_on() as env:
        owner = await new_owner(env)
        bot = await create_chatbot(env, owner, allowed_providers=["privatemode"])
        auth = {"Authorization": f"Bearer {owner.key}"}
        path = f"/chatbots/{bot['id']}/chat/completions"
        async with public(env) as api:
            ok = await api.post(path, json=CHAT, headers=auth)
            assert ok.headers["x-enclava-provider"] == "privatemode"
            await env.privatemode.control.set_faults(status=500)
            before = await _count(env.redpill)
            failed = await api.post(path, json=CHAT, headers=auth)
            assert failed.status_code == 503
            assert failed.json()["error"]["code"] == "no_available_provider"
            streamed = await api.post(path, json={**CHAT, "stream": True}, headers=auth)
            assert streamed.status_code == 503
            assert await _count(env.redpill) == before


async def test_required_region_limits_routing(gateway_on: Gateway) -> None:
    async with gateway_on(ENCLAVA_REDPILL_REGION="us") as env:
        owner = await new_owner(env)
        bot = await create_chatbot(env, owner, required_region="us")
        async with public(env) as api:
            said = await api.post(
                f"/chatbots/{bot['id']}/chat/completions",
                json=CHAT,
                headers={"Authorization": f"Bearer {owner.key}"},
            )
        assert said.headers["x-enclava-provider"] == "redpill"
