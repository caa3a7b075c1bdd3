"""BodyStream over real HTTP (uvicorn): every chunk in order, then the background task; a client
that leaves mid-stream cancels the body and the response ends quietly; a cancellation from
elsewhere (the server's shutdown) is not swallowed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from litestar import Litestar, get
from litestar.background_tasks import BackgroundTask
from support.server import serving

from kernel.asgi import http_scope
from kernel.streaming import BodyStream


class Probe:
    """What the stream's body and background saw."""

    def __init__(self) -> None:
        self.sent = 0
        self.ended = ""
        self.background = asyncio.Event()
        self.finished = asyncio.Event()

    async def chunks(self, count: int, pause: float) -> AsyncIterator[bytes]:
        try:
            for index in range(count):
                yield f"data: {index}\n\n".encode()
                self.sent += 1
                await asyncio.sleep(pause)
            self.ended = "complete"
        except asyncio.CancelledError:
            self.ended = "cancelled"
            raise
        finally:
            self.finished.set()

    async def after(self) -> None:
        self.background.set()


def _app(probe: Probe, count: int, pause: float) -> Litestar:
    @get("/events", sync_to_thread=False)
    def events() -> BodyStream:
        return BodyStream(
            probe.chunks(count, pause),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache"},
            background=BackgroundTask(probe.after),
        )

    return Litestar(route_handlers=[events], openapi_config=None, logging_config=None)


async def test_every_chunk_arrives_in_order_then_the_background_runs() -> None:
    probe = Probe()
    async with serving(_app(probe, 5, 0)) as base, httpx.AsyncClient() as client:
        response = await client.get(base + "/events")
        await asyncio.wait_for(probe.background.wait(), 5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.text == "".join(f"data: {i}\n\n" for i in range(5))
    assert probe.ended == "complete"


async def test_a_client_leaving_cancels_the_body_and_the_response_ends_quietly() -> None:
    probe = Probe()
    async with serving(_app(probe, 1000, 0.02)) as base:
        async with (
            httpx.AsyncClient() as client,
            client.stream("GET", base + "/events") as response,
        ):
            async for _ in response.aiter_bytes():
                break  # the first chunk, then the connection closes
        await asyncio.wait_for(probe.finished.wait(), 5)
        await asyncio.wait_for(probe.background.wait(), 5)  # the request went on quietly
    assert probe.ended == "cancelled"
    assert probe.sent < 1000


async def test_a_cancellation_from_elsewhere_propagates() -> None:
    """The server cancelling the request (shutdown grace over) is not taken for the client
    leaving: ``kernel.drain`` needs it to end the stream with its error event."""
    probe = Probe()
    app = _app(probe, 1000, 0.02)
    started = asyncio.Event()
    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)
        started.set()

    async def receive() -> dict[str, object]:
        await asyncio.Event().wait()  # the client never leaves
        raise AssertionError

    scope = http_scope("GET", "/events", [(b"host", b"test")])
    request = asyncio.create_task(app(scope, receive, send))  # type: ignore[arg-type]
    await asyncio.wait_for(started.wait(), 5)
    request.cancel()
    done, _ = await asyncio.wait([request], timeout=5)
    assert done
    assert request.cancelled()
    assert probe.ended == "cancelled"
    assert not probe.background.is_set()
