"""DrainingStreams on its own: what a cancelled response sends (the process test in
test_serve_processes.py shows it on a real shutdown)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from kernel.drain import DrainingStreams


def _app(content_type: bytes) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", content_type)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"data: {}\n\n", "more_body": True})
        await asyncio.sleep(3600)

    return app


async def _cancelled(content_type: bytes) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    streaming = asyncio.Event()

    async def send(message: Any) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            streaming.set()

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    task = asyncio.create_task(DrainingStreams(_app(content_type))({"type": "http"}, receive, send))
    await streaming.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return sent


async def test_cancelled_sse_ends_with_an_error_event() -> None:
    sent = await _cancelled(b"text/event-stream; charset=utf-8")
    last = sent[-1]
    assert last["more_body"] is False
    body = last["body"].decode()
    assert body.startswith("data: ")
    assert body.endswith("\n\n")
    error = json.loads(body.removeprefix("data: "))["error"]
    assert error["code"] == "server_shutdown"
    assert error["type"] == "service_unavailable"


async def test_cancelled_non_stream_response_gets_nothing_more() -> None:
    sent = await _cancelled(b"application/json")
    assert len(sent) == 2
