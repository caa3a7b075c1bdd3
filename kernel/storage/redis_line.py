"""One dedicated Redis connection for the hot path's script calls, below redis-py's command layer.

On a single Redis every admission and every batch of settlements is one EVALSHA
(:class:`~kernel.storage.kv_batch.ScriptBatch`). Through redis-py each call took a connection from
the pool and gave it back, dispatched its observability events, and wrote and read through
asyncio streams: ~140 µs of CPU per call (``bench/profile_gateway.py --production``, chat at
c=1), two calls per chat. Here a plain :class:`asyncio.Protocol` owns one connection: a command
is packed by hiredis and written at once, replies are parsed by hiredis as bytes arrive and
answer the oldest waiting call (Redis answers in order), so calls may overlap.

The connection is opened by redis-py (URL, TLS, Unix socket, AUTH, SELECT, HELLO), then taken
over: its transport is handed to this protocol and the redis-py connection forgets it. A lost
connection or a call past ``timeout`` fails every call waiting on the line (callers fail
closed: :class:`redis.exceptions.ConnectionError` / :class:`TimeoutError`) and drops it; the next
call opens a new one. A call is never re-sent: an answer lost in flight may have been applied.
As redis-py's pool does (``health_check_interval``), a line quiet for longer than
``health_check_interval`` is PINGed before the next command is written: a connection a firewall
or NAT dropped silently is replaced then, and no command is lost to it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from typing import Any

import hiredis
import redis.exceptions
from redis._parsers.base import BaseParser
from redis.asyncio.connection import AbstractConnection

from kernel.storage.redis_pool import HEALTH_CHECK_SECONDS

__all__ = ["RedisLine"]

Arg = str | int | bytes
PING = hiredis.pack_command(("PING",))


class _Line(asyncio.Protocol):
    """The protocol on one taken-over transport: replies matched to calls in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop, writer: asyncio.StreamWriter) -> None:
        self.loop = loop
        self.failure: BaseException | None = None
        self._writer = writer  # held: a collected StreamWriter closes its transport
        self._transport: asyncio.WriteTransport = writer.transport
        self._reader = hiredis.Reader()
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self.heard = loop.time()
        """When Redis last answered on this line (or it opened)."""

    def quiet_for(self, seconds: float) -> bool:
        """Whether no call waits and Redis has said nothing for over ``seconds``."""
        return not self._waiting and self.loop.time() - self.heard > seconds

    def send(self, packed: bytes) -> asyncio.Future[Any]:
        future = self.loop.create_future()
        self._transport.write(packed)
        self._waiting.append(future)
        return future

    def data_received(self, data: bytes) -> None:
        self.heard = self.loop.time()
        self._reader.feed(data)
        try:
            while (reply := self._reader.gets()) is not False:
                future = self._waiting.popleft()
                if future.done():  # its caller gave up; the order still holds
                    continue
                if isinstance(reply, hiredis.ReplyError):
                    future.set_exception(_error(reply))
                else:
                    future.set_result(reply)
        except (hiredis.ProtocolError, IndexError):  # garbage, or a reply nobody asked for
            self.fail(redis.exceptions.ConnectionError("unexpected bytes from Redis"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(redis.exceptions.ConnectionError("connection to Redis lost"))

    def fail(self, failure: BaseException) -> None:
        """Close the line; every waiting call raises ``failure``."""
        if self.failure is None:
            self.failure = failure
            self._transport.abort()
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(failure)

    def time_out(self) -> None:
        self.fail(TimeoutError("Redis did not answer in time"))


def _error(reply: hiredis.ReplyError) -> redis.exceptions.ResponseError:
    """The exception redis-py raises for this error reply (NOSCRIPT, OOM, BUSY, ...)."""
    error: redis.exceptions.ResponseError = BaseParser.parse_error(str(reply))  # type: ignore[no-untyped-call]
    return error


class RedisLine:
    """Commands over one connection of the Redis that ``connect`` builds connections for."""

    def __init__(
        self,
        connect: Callable[[], AbstractConnection],
        *,
        timeout: float,
        health_check_interval: float = HEALTH_CHECK_SECONDS,
    ) -> None:
        self._connect = connect
        self._timeout = timeout
        self._quiet = health_check_interval
        self._line: _Line | None = None
        self._opening: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    async def call(self, *args: Arg) -> Any:
        """Send one command; its reply (a Redis error reply raises redis-py's exception)."""
        loop = asyncio.get_running_loop()
        line = self._line
        if line is None or line.failure is not None or line.loop is not loop:
            line = await self._open(loop)
        elif line.quiet_for(self._quiet):
            line = await self._checked(line, loop)
        return await self._ask(line, hiredis.pack_command(args))  # type: ignore[arg-type]  # stub: 1-tuple

    async def _ask(self, line: _Line, packed: bytes) -> Any:
        future = line.send(packed)
        timer = line.loop.call_later(self._timeout, line.time_out)
        try:
            return await future
        finally:
            timer.cancel()

    async def _checked(self, line: _Line, loop: asyncio.AbstractEventLoop) -> _Line:
        """``line`` if it answers a PING, else a new line (the PING failed it)."""
        with contextlib.suppress(redis.exceptions.ConnectionError, TimeoutError):
            await self._ask(line, PING)
        return line if line.failure is None else await self._open(loop)

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Line:
        if self._opening is None or self._opening[0] is not loop:
            self._opening = (loop, asyncio.Lock())
        async with self._opening[1]:
            line = self._line
            if line is not None and line.failure is None and line.loop is loop:
                return line  # another call opened it meanwhile
            self._line = line = await self._take_over(loop)
            return line

    async def _take_over(self, loop: asyncio.AbstractEventLoop) -> _Line:
        connection = self._connect()
        # redis-py: socket, TLS, AUTH, SELECT, HELLO, within its connect timeout and retry.
        await connection.connect()  # type: ignore[no-untyped-call]
        writer, reader = connection._writer, connection._reader
        connection._writer = connection._reader = None  # it must not close the transport
        if writer is None or reader is None:
            raise redis.exceptions.ConnectionError("redis-py opened no stream")
        unread: bytes = getattr(reader, "_buffer", b"")  # every handshake reply was read
        if writer.transport.is_closing() or unread:
            writer.transport.abort()
            raise redis.exceptions.ConnectionError("the Redis connection closed during setup")
        line = _Line(loop, writer)
        writer.transport.set_protocol(line)
        return line

    def close(self) -> None:
        """Close the connection; calls still waiting fail."""
        if self._line is not None:
            self._line.fail(redis.exceptions.ConnectionError("the Redis line is closed"))
            self._line = None
