"""Redis round trips of one chat request on the production path (PostgreSQL, Redis, threat
detection, rate limit, a hard key budget), watched with MONITOR: the block check, the throttle
and the budget reservation are one script before anything is forwarded; the settlement, which
needs the provider's answer, is the only other command (besides the circuit breaker's, which notes
a success at most once a second and re-reads open circuits periodically in the background)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from support.usage import MESSAGES, Env, budget_status, chat, create_budget, records, stack_factory

from kernel.asgi import http_scope

_MARK = "round-trips:mark"


@contextlib.asynccontextmanager
async def _monitor(url: str, prefix: str) -> AsyncIterator[list[tuple[str, ...]]]:
    """Top-level commands (not those a script runs) on keys under ``prefix``, as word tuples."""
    seen: list[tuple[str, ...]] = []
    ready = asyncio.Event()
    client = aioredis.from_url(url)

    async def watch() -> None:
        async with client.monitor() as monitor:
            async for command in monitor.listen():
                text = str(command.get("command", ""))
                if command.get("client_type") == "lua" or prefix not in text:
                    continue
                if _MARK in text:
                    ready.set()
                    continue
                seen.append(tuple(text.split()))

    task = asyncio.create_task(watch())
    marker = aioredis.from_url(url)
    try:
        while not ready.is_set():
            await marker.get(prefix + _MARK)
            await asyncio.sleep(0.05)
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        await marker.aclose()
        await client.aclose()


async def _settled(seen: list[tuple[str, ...]], marker_url: str, prefix: str) -> None:
    """Wait until MONITOR has shown everything sent so far (a marker after it)."""
    count = len(seen)
    client = aioredis.from_url(marker_url)
    try:
        await client.get(prefix + _MARK + ":end")
        for _ in range(100):
            if any(_MARK in " ".join(c) for c in seen[count:]):
                break
            await asyncio.sleep(0.02)
    finally:
        await client.aclose()


def _keys(command: tuple[str, ...], prefix: str) -> list[str]:
    return [word.removeprefix(prefix) for word in command if word.startswith(prefix)]


async def _one_chat(
    env: Env, seen: list[tuple[str, ...]], url: str, prefix: str, **body: Any
) -> list[tuple[str, ...]]:
    await _settled(seen, url, prefix)
    start = len(seen)
    response = await chat(env, **body)
    assert response.status_code == 200, response.text
    await _settled(seen, url, prefix)
    return [c for c in seen[start:] if _MARK not in " ".join(c)]


async def test_one_round_trip_before_forwarding_a_chat(
    make_settings: Any, postgres_url: str, redis_url: str, redis_prefix: str
) -> None:
    run = stack_factory(make_settings, postgres_url, redis_prefix)
    async with run() as env:
        await create_budget(env, limit_micros=10_000_000, hard=True)
        response = await chat(env)  # seeds the budget counters (first use)
        assert response.status_code == 200, response.text
        async with _monitor(redis_url, redis_prefix) as seen:
            for stream in (False, True, False):
                commands = await _one_chat(env, seen, redis_url, redis_prefix, stream=stream)
                commands = [c for c in commands if "llm:circuit:" not in " ".join(c)]
                assert len(commands) == 2, commands
                admission, settlement = commands
                keys = _keys(admission, redis_prefix)
                assert admission[0].strip('"') == "EVALSHA"
                assert keys[0] == "threat:block:127.0.0.1"
                assert keys[1] == f"rl:key:{env.key_id}"
                assert keys[2].startswith(f"usage:budget:{{u:{env.user_id}}}:")
                assert settlement[0].strip('"') == "EVALSHA"
                assert _keys(settlement, redis_prefix) == keys[2:]


async def _post_raw(app: Any, path: str, headers: dict[str, str], body: bytes) -> list[str]:
    """POST through the ASGI app itself; what ``send`` saw, in order: ``start``, ``body``
    (the last body message, with whether that request's settlement was still running then)
    and ``returned`` once the app's call is over."""
    events: list[str] = []
    raw_headers = [(k.encode(), v.encode()) for k, v in headers.items()]
    scope = http_scope("POST", path, [*raw_headers, (b"content-type", b"application/json")])
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # no disconnect while the app runs
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            events.append(f"start {message['status']}")
        elif not message.get("more_body", False):
            settling = [
                t for t in asyncio.all_tasks() if t.get_name().startswith("enclava:settle:")
            ]
            events.append(f"body settling={any(not t.done() for t in settling)}")

    await app(scope, receive, send)
    events.append("returned")
    return events


async def test_the_answer_goes_out_before_its_settlement(stack: Any) -> None:
    """A non-streamed answer is sent first; its reservation is settled right after, within
    the same request (a draining server still waits for it), to the exact cost."""
    async with stack() as env:
        await create_budget(env, limit_micros=10_000_000, hard=True)
        assert (await chat(env)).status_code == 200  # seeds the counters
        before = (await budget_status(env))["data"][0]["spent_micros"]
        body = json.dumps({"model": "gpt-oss-120b", "max_tokens": 8, "messages": MESSAGES})
        events = await _post_raw(
            env.apps[0], "/api/v1/chat/completions", env.bearer(), body.encode()
        )
        await env.flush()
        status = (await budget_status(env))["data"][0]
        rows = await records(env)
    assert events == ["start 200", "body settling=True", "returned"]
    assert status["spent_micros"] - before == rows[-1]["cost_micros"] > 0
