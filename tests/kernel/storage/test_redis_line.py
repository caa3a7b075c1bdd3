"""The dedicated script line on a real Redis, under asyncio's loop and uvloop (the gateway's):
overlapping calls answered in order, Redis errors as redis-py's exceptions, the connection's
settings (database) honoured, a lost connection or a late answer failing the waiting calls and
the next call opening a new connection."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis.asyncio as aioredis
import redis.exceptions
import uvloop

from kernel.storage.redis_line import RedisLine

Runner = Callable[[Coroutine[Any, Any, None]], None]
RUNNERS: dict[str, Runner] = {"asyncio": asyncio.run, "uvloop": uvloop.run}


@pytest.fixture(params=sorted(RUNNERS))
def run(request: pytest.FixtureRequest) -> Runner:
    return RUNNERS[request.param]


@contextlib.asynccontextmanager
async def _line(url: str, answer_within: float = 2.0) -> AsyncIterator[RedisLine]:
    pool = aioredis.ConnectionPool.from_url(url)
    line = RedisLine(lambda: pool.connection_class(**pool.connection_kwargs), timeout=answer_within)
    try:
        yield line
    finally:
        line.close()


def _db(url: str, db: int) -> str:
    return urlsplit(url)._replace(path=f"/{db}").geturl()


def test_overlapping_calls_get_their_own_answers(run: Runner, redis_url: str) -> None:
    key = f"enclava-test-line:{uuid.uuid4().hex}"

    async def main() -> None:
        async with _line(redis_url) as line:
            answers = await asyncio.gather(*(line.call("INCR", key) for _ in range(200)))
            assert answers == list(range(1, 201))
            assert await line.call("GET", key) == b"200"
            assert await line.call("GET", key + ":absent") is None
            await line.call("DEL", key)

    run(main())


def test_error_replies_raise_redis_pys_exceptions(run: Runner, redis_url: str) -> None:
    key = f"enclava-test-line:{uuid.uuid4().hex}"

    async def main() -> None:
        async with _line(redis_url) as line:
            with pytest.raises(redis.exceptions.NoScriptError):
                await line.call("EVALSHA", "0" * 40, 0)
            await line.call("SET", key, "text", "PX", 30_000)
            with pytest.raises(redis.exceptions.ResponseError, match="not an integer"):
                await line.call("INCR", key)
            assert await line.call("EVAL", "return ARGV[1]", 0, "still in step") == b"still in step"

    run(main())


def test_the_urls_database_is_selected(run: Runner, redis_url: str) -> None:
    key = f"enclava-test-line:{uuid.uuid4().hex}"

    async def main() -> None:
        other = aioredis.from_url(_db(redis_url, 3))
        try:
            async with _line(_db(redis_url, 3)) as line:
                await line.call("SET", key, b"\x00\xff", "PX", 30_000)
            assert await other.get(key) == b"\x00\xff"
        finally:
            await other.delete(key)
            await other.aclose()

    run(main())


def test_a_killed_connection_fails_its_calls_then_reconnects(run: Runner, redis_url: str) -> None:
    key = f"enclava-test-line:{uuid.uuid4().hex}"

    async def main() -> None:
        admin = aioredis.from_url(redis_url)
        try:
            async with _line(redis_url) as line:
                first = await line.call("CLIENT", "ID")
                waiting = asyncio.ensure_future(line.call("BLPOP", key, 10))
                await asyncio.sleep(0.1)
                await admin.execute_command("CLIENT", "KILL", "ID", first)
                with pytest.raises(redis.exceptions.ConnectionError):
                    await waiting
                assert await line.call("CLIENT", "ID") != first
        finally:
            await admin.aclose()

    run(main())


def test_a_late_answer_times_the_line_out(run: Runner, redis_url: str) -> None:
    key = f"enclava-test-line:{uuid.uuid4().hex}"

    async def main() -> None:
        async with _line(redis_url, answer_within=0.2) as line:
            first = await line.call("CLIENT", "ID")
            blocked = asyncio.ensure_future(line.call("BLPOP", key, 5))
            queued = asyncio.ensure_future(line.call("PING"))  # behind it on the same line
            for call in (blocked, queued):
                with pytest.raises(TimeoutError):
                    await call
            assert await line.call("CLIENT", "ID") != first  # a fresh connection

    run(main())


def test_a_closed_line_fails_waiting_calls(run: Runner, redis_url: str) -> None:
    key = f"enclava-test-line:{uuid.uuid4().hex}"

    async def main() -> None:
        async with _line(redis_url) as line:
            blocked = asyncio.ensure_future(line.call("BLPOP", key, 5))
            await asyncio.sleep(0.05)
        with pytest.raises(redis.exceptions.ConnectionError):
            await blocked

    run(main())
