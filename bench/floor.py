"""The bare-Python floor: Litestar forwarding chat completions as bytes with aiohttp, on uvloop.

Usage: ``.venv/bin/python bench/floor.py --port 9200 --upstream http://127.0.0.1:9100/v1``

No authentication, no parsing, no logic: the request body goes upstream as it came (with the
upstream's key), the answer comes back as it came — read whole for a JSON answer, relayed
chunk by chunk (one ASGI send per upstream read) for an event stream. One pooled aiohttp
session, uvicorn with httptools and uvloop, access log off. This is what any Python gateway on
this stack costs before it does anything (shared notes/performance.md), the column every
Enclava figure is compared with.
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

import aiohttp
import uvicorn
from litestar import Litestar, Request, post
from litestar.response import Response, Stream

UPSTREAM_KEY = "sk-mock-upstream"


class Forwarder:
    """The upstream URL and the pooled session (opened at startup)."""

    def __init__(self, upstream: str) -> None:
        self.url = upstream.rstrip("/") + "/chat/completions"
        self.session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None)
        self.session = aiohttp.ClientSession(connector=connector, auto_decompress=False)

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()


def build(upstream: str) -> Litestar:
    forwarder = Forwarder(upstream)
    headers = {"Authorization": f"Bearer {UPSTREAM_KEY}", "Content-Type": "application/json"}

    @post("/v1/chat/completions")
    async def chat(request: Request[object, object, object]) -> Response[bytes] | Stream:
        body = await request.body()
        assert forwarder.session is not None
        upstream = await forwarder.session.post(forwarder.url, data=body, headers=headers)
        media_type = upstream.headers.get("Content-Type", "application/json")
        if not media_type.startswith("text/event-stream"):
            data = await upstream.read()
            upstream.release()
            return Response(data, status_code=upstream.status, media_type=media_type)

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream.content.iter_any():
                    yield chunk
            finally:
                upstream.release()

        return Stream(relay(), status_code=upstream.status, media_type=media_type)

    return Litestar(
        route_handlers=[chat],
        on_startup=[forwarder.open],
        on_shutdown=[forwarder.close],
        openapi_config=None,
        logging_config=None,
        debug=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="base URL ending in /v1")
    args = parser.parse_args()
    uvicorn.run(
        build(args.upstream),
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        server_header=False,
        date_header=False,
    )


if __name__ == "__main__":
    main()
