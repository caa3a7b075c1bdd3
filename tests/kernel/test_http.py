"""The outbound HTTP seam: one pooled session per origin, closed with the kernel."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from kernel.http import HttpClients


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    async def hello(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/v1/hello", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/v1"
    await runner.cleanup()


async def test_one_session_per_origin_reused_and_closed(upstream: str) -> None:
    clients = HttpClients()
    first = clients.session(upstream)
    assert clients.session(upstream + "/other") is first
    assert clients.session("http://localhost:1/v1") is not first
    async with first.get(f"{upstream}/hello") as response:
        assert await response.json() == {"ok": True}
    await clients.close()
    assert first.closed
    assert clients.session(upstream) is not first
    await clients.close()
