"""Stream endings the simulators do not produce, against a small inline upstream: an
``event: error`` after data, a clean close without ``[DONE]``, a redirect; and connection reuse."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from support.providers import Gateway, chat_call, collect, provider_named

from kernel.errors import UpstreamError
from kernel.upstream import ModelInfo

FRAME = b'data: {"id":"c","object":"chat.completion.chunk","choices":[]}\n\n'
ERROR = b'event: error\n\ndata: {"error":{"message":"decrypting: boom","type":""}}\n\n'


async def _chat(request: web.Request) -> web.StreamResponse:
    model = (await request.json())["model"]
    if model == "redirect":
        raise web.HTTPFound("/elsewhere")
    request.app[PEERS].append(
        request.transport.get_extra_info("peername") if request.transport else None
    )
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(FRAME)
    if model == "event-error":
        await response.write(FRAME + ERROR)
    elif model == "complete":
        await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


PEERS = web.AppKey("peers", list)


async def _models(_request: web.Request) -> web.Response:
    return web.json_response({"object": "list", "data": []})


@contextlib.asynccontextmanager
async def upstream() -> AsyncIterator[tuple[str, list[object]]]:
    app = web.Application()
    app[PEERS] = []
    app.router.add_post("/v1/chat/completions", _chat)
    app.router.add_get("/v1/models", _models)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/v1", app[PEERS]
    finally:
        await runner.cleanup()


def info(model: str) -> ModelInfo:
    return ModelInfo(id=model, provider="privatemode", upstream_id=model, region="eu")


@pytest.mark.parametrize(
    ("model", "message", "frames"),
    [
        ("event-error", "the provider reported an error mid-stream", 2),
        ("no-done", r"the stream ended before \[DONE\]", 1),
    ],
)
async def test_stream_endings(gateway: Gateway, model: str, message: str, frames: int) -> None:
    chunks: list[bytes] = []
    async with (
        upstream() as (url, _peers),
        gateway(ENCLAVA_PRIVATEMODE_ENABLED="true", ENCLAVA_PRIVATEMODE_URL=url) as kernel,
    ):
        provider = provider_named(kernel, "privatemode")
        with pytest.raises(UpstreamError, match=message) as caught:
            await collect(provider, chat_call(info(model), stream=True), chunks)
    assert b"".join(chunks) == FRAME * frames
    assert caught.value.retryable


async def test_redirects_are_not_followed(gateway: Gateway) -> None:
    async with (
        upstream() as (url, _peers),
        gateway(ENCLAVA_PRIVATEMODE_ENABLED="true", ENCLAVA_PRIVATEMODE_URL=url) as kernel,
    ):
        provider = provider_named(kernel, "privatemode")
        with pytest.raises(UpstreamError, match="provider answered HTTP 302") as caught:
            await provider.send(chat_call(info("redirect")))
    assert caught.value.retryable


async def test_finished_streams_give_their_connection_back_to_the_pool(gateway: Gateway) -> None:
    async with (
        upstream() as (url, peers),
        gateway(ENCLAVA_PRIVATEMODE_ENABLED="true", ENCLAVA_PRIVATEMODE_URL=url) as kernel,
    ):
        provider = provider_named(kernel, "privatemode")
        async with asyncio.timeout(5):
            while not provider.healthy:  # noqa: ASYNC110 - the discovery task's first run
                await asyncio.sleep(0.01)
        for _ in range(3):
            chunks: list[bytes] = []
            await collect(provider, chat_call(info("complete"), stream=True), chunks)
            assert b"".join(chunks).endswith(b"data: [DONE]\n\n")
    assert len(peers) == 3
    assert len(set(peers)) == 1
