"""The dedicated script line on a real Redis, under asyncio's loop and uvloop (the gateway's):
overlapping calls answered in order, Redis errors as redis-py's exceptions, the connection's
settings (database) honoured, a lost connection or a late answer failing the waiting calls and
the next call opening a new connection, a quiet line PINGed before its next call."""

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


class _Relay:
    """A TCP relay to the Redis at ``url``; :meth:`silence` makes the connections relayed so far
    carry nothing while they stay open (a firewall dropping an idle flow: no FIN, no RST)."""

    def __init__(self, url: str) -> None:
        self._target = urlsplit(url)
        self._silenced = False
        self._open: list[tuple[list[bool], list[asyncio.Task[None]]]] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return self._target._replace(netloc=f"127.0.0.1:{port}").geturl()

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
        for _, tasks in self._open:
            for task in tasks:
                task.cancel()

    def silence(self) -> None:
        for muted, _ in self._open:
            muted[0] = True

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = self._target.hostname, self._target.port or 6379
        up_reader, up_writer = await asyncio.open_connection(host, port)
        muted = [False]
        flows = [_pump(reader, up_writer, muted), _pump(up_reader, writer, muted)]
        tasks = [asyncio.ensure_future(flow) for flow in flows]
        self._open.append((muted, tasks))
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        writer.close()
        up_writer.close()


async def _pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, muted: list[bool]) -> None:
    while data := await src.read(65536):
        if not muted[0]:
            dst.write(data)


@pytest.mark.parametrize("quiet_check", [0.05, 30.0])
def test_a_quiet_line_is_pinged_before_a_command(
    run: Runner, redis_url: str, quiet_check: float
) -> None:
    """After a quiet spell the line PINGs first: a connection dropped silently (no FIN, no RST)
    is replaced and the command answered. Within the interval a command is written at once,
    and on such a connection only its timeout ends it."""
    if urlsplit(redis_url).scheme != "redis" or urlsplit(redis_url).password:
        pytest.skip("the relay is for a plain TCP Redis without a password")

    async def main() -> None:
        relay = _Relay(redis_url)
        async with relay as url:
            pool = aioredis.ConnectionPool.from_url(url)
            line = RedisLine(
                lambda: pool.connection_class(**pool.connection_kwargs),
                timeout=0.3,
                health_check_interval=quiet_check,
            )
            try:
                first = await line.call("CLIENT", "ID")
                relay.silence()
                await asyncio.sleep(0.1)
                if quiet_check < 0.1:
                    assert await line.call("CLIENT", "ID") != first
                else:
                    with pytest.raises(TimeoutError):
                        await line.call("CLIENT", "ID")
            finally:
                line.close()

    run(main())
