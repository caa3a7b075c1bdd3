"""Per-exchange provider preferences (reorder) and allowed providers (a hard filter, also on
failover), through the gateway service as chatbots call it."""

from __future__ import annotations

import uuid

import msgspec
import pytest
from support.gateway import SHARED, Gateway

from builtin_plugins.llm.router import NoRouteError
from kernel.exchange import Exchange
from kernel.services import ChatGateway

BODY = msgspec.json.encode({"model": SHARED, "messages": [{"role": "user", "content": "hi"}]})


def _exchange(**fields: tuple[str, ...]) -> Exchange:
    return Exchange(
        request_id=uuid.uuid4().hex,
        kind="chatbot",
        endpoint="/chat/completions",
        principal=None,
        model=SHARED,
        body=BODY,
        stream=False,
        **fields,
    )


async def test_priority_order_is_kept_without_preferences(gateway: Gateway) -> None:
    async with gateway() as env:
        answer = await env.kernel.service(ChatGateway).complete(_exchange())
        assert answer.headers["x-enclava-provider"] == "privatemode"


async def test_preferred_provider_goes_first_and_others_still_fail_over(gateway: Gateway) -> None:
    async with gateway() as env:
        service = env.kernel.service(ChatGateway)
        answer = await service.complete(_exchange(preferred_providers=("redpill",)))
        assert answer.headers["x-enclava-provider"] == "redpill"
        await env.redpill.control.set_faults(status=500)
        answer = await service.complete(_exchange(preferred_providers=("redpill",)))
        assert answer.headers["x-enclava-provider"] == "privatemode"


async def test_allowed_providers_hold_through_failover(gateway: Gateway) -> None:
    async with gateway() as env:
        service = env.kernel.service(ChatGateway)
        answer = await service.complete(_exchange(allowed_providers=("redpill",)))
        assert answer.headers["x-enclava-provider"] == "redpill"
        await env.redpill.control.clear_requests()
        await env.privatemode.control.set_faults(status=500)
        before = len(await env.redpill.control.requests("/v1/chat/completions"))
        with pytest.raises(NoRouteError) as failed:
            await service.complete(_exchange(allowed_providers=("privatemode",)))
        assert failed.value.status_code == 503
        after = len(await env.redpill.control.requests("/v1/chat/completions"))
        assert after == before


async def test_no_allowed_provider_serves_the_model(gateway: Gateway) -> None:
    async with gateway() as env:
        with pytest.raises(NoRouteError) as failed:
            await env.kernel.service(ChatGateway).complete(_exchange(allowed_providers=("other",)))
        assert "not among the allowed providers" in failed.value.message
