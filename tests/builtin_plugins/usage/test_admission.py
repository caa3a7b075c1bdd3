"""A chat's block check, throttle and budget reservation answered together
(:mod:`kernel.admission`), through the real app on SQLite+memory and PostgreSQL+Redis: each
refusal answers as the check alone would, and what a refusal stops is not done."""

from __future__ import annotations

import gc
from typing import Any

from support.usage import Env, chat, create_budget

from kernel.admission import Admission
from kernel.dependencies import kernel_of
from kernel.types import RequestContext

BLOCK_KEY = "threat:block:127.0.0.1"
JSON = {"content-type": "application/json"}


async def _spent(env: Env, budget: dict[str, Any]) -> int:
    """The budget's counter, read by the admin (another rate-limit bucket than the key's)."""
    async with env.client() as client:
        view = await client.get(
            f"/api-internal/v1/budgets/{budget['budget']['id']}", headers=env.admin
        )
    assert view.status_code == 200, view.text
    return int(view.json()["status"]["spent_micros"])


async def test_a_blocked_client_is_refused_before_its_budget(stack: object) -> None:
    async with stack() as env:  # type: ignore[operator]
        budget = await create_budget(env, limit_micros=10_000_000, hard=True)
        assert (await chat(env)).status_code == 200
        spent = await _spent(env, budget)
        kv = kernel_of(env.apps[0]).stores.kv
        await kv.set(BLOCK_KEY, b"blocked for the test", ttl=60)
        refused = await chat(env)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "ip_blocked"
        assert "x-ratelimit-remaining" not in refused.headers
        async with env.client() as client:  # a wrong key from a blocked IP learns nothing
            wrong = await client.post(
                "/api/v1/chat/completions", headers=env.bearer("sk-wrong"), json={}
            )
            bad_body = await client.post(
                "/api/v1/chat/completions", headers=JSON | env.bearer(), content=b"{not json"
            )
        assert wrong.status_code == 403, wrong.text
        assert bad_body.status_code == 403, bad_body.text
        await kv.delete(BLOCK_KEY)
        assert await _spent(env, budget) == spent


async def test_a_throttled_key_reserves_nothing_and_bad_requests_count(stack: object) -> None:
    async with stack(ENCLAVA_RATE_LIMIT_PUBLIC_PER_MINUTE="6") as env:  # type: ignore[operator]
        budget = await create_budget(env, limit_micros=10_000_000, hard=True)
        async with env.client() as client:
            bad = await client.post(
                "/api/v1/chat/completions", headers=JSON | env.bearer(), content=b"{not json"
            )
        assert bad.status_code == 400, bad.text
        left = int(bad.headers["x-ratelimit-remaining"])  # listing models took some already
        assert left >= 2
        ok = await chat(env)  # the invalid request took its token: one fewer now
        assert ok.status_code == 200, ok.text
        assert ok.headers["x-ratelimit-remaining"] == str(left - 1)
        for remaining in range(left - 2, -1, -1):
            streamed = await chat(env, stream=True)
            assert streamed.status_code == 200, streamed.text
            assert streamed.headers["x-ratelimit-remaining"] == str(remaining)
        spent = await _spent(env, budget)
        throttled = await chat(env)
        assert throttled.status_code == 429, throttled.text
        assert throttled.headers["x-ratelimit-remaining"] == "0"
        assert int(throttled.headers["retry-after"]) >= 1
        assert await _spent(env, budget) == spent


async def test_a_chat_leaves_no_reference_cycle(stack: object) -> None:
    """Reference counting frees each chat's (plain or streamed) request context and admission
    (its deferred handlers hold the context), so the collector can stay rare (kernel.runtime)."""
    async with stack() as env:  # type: ignore[operator]
        await create_budget(env, limit_micros=10_000_000, hard=True)
        assert (await chat(env)).status_code == 200
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for fields in ({}, {}, {"stream": True}, {"stream": True}):
                assert (await chat(env, **fields)).status_code == 200
            gc.collect()
            cycles = [o for o in gc.garbage if isinstance(o, RequestContext | Admission)]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
        assert cycles == []
