"""Ending cut streams with an error event when ``enclava serve`` stops.

On SIGTERM uvicorn stops accepting connections and lets open requests finish for
``server.shutdown_grace_seconds``; then it cancels what is still running. A Server-Sent Events
stream cancelled that way would just stop, and a client could take the partial answer for a
whole one. :class:`DrainingStreams` catches that cancellation and, if an SSE response is open,
sends one last OpenAI-shaped error event (the openai SDK raises on it) and ends the body
before the cancellation goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, cast

import msgspec
from litestar.enums import ScopeType

from kernel.errors import ServiceUnavailableError

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DrainingStreams", "create_draining_app_from_env", "shutdown_event"]

_SSE = b"text/event-stream"
_FINAL_SEND_TIMEOUT_S = 1.0


def shutdown_event() -> bytes:
    """The SSE event a stream cut by the shutdown grace ends with."""
    error = ServiceUnavailableError(
        "The server is shutting down and ended this stream before it finished; retry the request.",
        code="server_shutdown",
    )
    return b"data: " + msgspec.json.encode(error.envelope()) + b"\n\n"


class _Tracked:
    """Wraps ``send``: whether an SSE response has started and not yet ended."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.open_sse = False

    async def __call__(self, message: Message) -> None:
        event = cast("dict[str, Any]", message)
        kind = event.get("type")
        if kind == "http.response.start":
            headers = event.get("headers") or []
            content_type = next((v for k, v in headers if bytes(k).lower() == b"content-type"), b"")
            self.open_sse = bytes(content_type).split(b";", 1)[0].strip() == _SSE
        elif kind == "http.response.body" and not event.get("more_body", False):
            self.open_sse = False
        await self._send(message)

    async def end_with_error(self) -> None:
        self.open_sse = False
        final: Message = {
            "type": "http.response.body",
            "body": shutdown_event(),
            "more_body": False,
        }
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._send(final), _FINAL_SEND_TIMEOUT_S)


class DrainingStreams:
    """ASGI middleware: a cancelled open SSE response ends with :func:`shutdown_event`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        tracked = _Tracked(send)
        try:
            await self.app(scope, receive, tracked)
        except asyncio.CancelledError:
            if tracked.open_sse:
                await tracked.end_with_error()
            raise


def create_draining_app_from_env() -> DrainingStreams:
    """Uvicorn factory for ``enclava serve``: the gateway app behind :class:`DrainingStreams`."""
    from kernel.app import create_app_from_env

    return DrainingStreams(create_app_from_env())
