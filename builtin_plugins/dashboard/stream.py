"""Streaming calls of the internal API in process: the request body passed on as it arrives
(uploads), the answer read as it is produced (the playground's SSE answer, a document's ingest
events).

``httpx``'s ASGI transport waits for the whole answer, which would hold an SSE stream back until
it ends; this drives the app's ASGI callable directly instead, with the same headers as
:class:`~builtin_plugins.dashboard.api.InternalApi` (the user's token, the browser's address,
request id and user agent), so every rule of the internal API applies unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from litestar import Request

from builtin_plugins.dashboard.api import INTERNAL_PREFIX
from kernel.asgi import http_scope
from kernel.gate import request_context

__all__ = ["StreamedAnswer", "one_chunk", "open_stream"]

_Message = dict[str, Any]


class StreamedAnswer:
    """The status and headers of an answer whose body is still coming (read it once)."""

    def __init__(
        self,
        start: _Message,
        messages: asyncio.Queue[_Message | None],
        stop: asyncio.Event,
        task: asyncio.Task[None],
    ) -> None:
        self.status = int(start["status"])
        self.headers = {
            k.decode("latin-1"): v.decode("latin-1") for k, v in start.get("headers", [])
        }
        self._messages = messages
        self._stop = stop
        self._task = task

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body's chunks as the app sends them; the call ends with the iteration."""
        try:
            while True:
                message = await self._messages.get()
                if message is None or message.get("type") != "http.response.body":
                    return
                body = message.get("body", b"")
                if body:
                    yield body
                if not message.get("more_body", False):
                    return
        finally:
            await self.aclose()

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.chunks()])

    async def aclose(self) -> None:
        """Tell the app the client left and wait for it to stop."""
        self._stop.set()
        if not self._task.done():
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task


def _scope(
    request: Request[Any, Any, Any], method: str, path: str, headers: dict[str, str]
) -> dict[str, Any]:
    client = request.client
    context = request_context(request.scope)
    sent = {"host": "enclava.internal", **headers}
    if context is not None:
        sent["x-request-id"] = context.request_id
    agent = request.headers.get("user-agent")
    if agent:
        sent["user-agent"] = agent
    return http_scope(
        method,
        INTERNAL_PREFIX + path,
        [(k.lower().encode(), v.encode("latin-1")) for k, v in sent.items()],
        client=(client.host, client.port) if client else ("127.0.0.1", 0),
    )


async def open_stream(
    request: Request[Any, Any, Any],
    token: str,
    method: str,
    path: str,
    *,
    body: AsyncIterator[bytes] | None = None,
    content_type: str | None = None,
) -> StreamedAnswer:
    """``method`` ``/api-internal/v1{path}`` with ``body`` streamed in; returns once the app
    has started its answer."""
    headers = {"authorization": f"Bearer {token}"}
    if content_type is not None:
        headers["content-type"] = content_type
    if body is None:
        body = one_chunk(b"")
    scope = _scope(request, method, path, headers)
    messages: asyncio.Queue[_Message | None] = asyncio.Queue()
    stop = asyncio.Event()
    ended = False

    async def receive() -> _Message:
        nonlocal ended
        if not ended:
            chunk = await anext(body, None)
            if chunk is not None:
                return {"type": "http.request", "body": chunk, "more_body": True}
            ended = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await stop.wait()
        return {"type": "http.disconnect"}

    async def send(message: _Message) -> None:
        await messages.put(message)

    async def run() -> None:
        try:
            await request.app(scope, receive, send)  # type: ignore[arg-type]
        finally:
            await messages.put(None)

    task = asyncio.create_task(run())
    start = await messages.get()
    if start is None or start.get("type") != "http.response.start":
        await task  # the app failed before answering: its exception
        raise RuntimeError("the internal API ended without an answer")
    return StreamedAnswer(start, messages, stop, task)


async def one_chunk(data: bytes) -> AsyncIterator[bytes]:
    """A request body of one chunk."""
    yield data
