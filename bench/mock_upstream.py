"""A fast mock OpenAI upstream for the gateway benches (raw asyncio + httptools + uvloop).

Usage: ``.venv/bin/python bench/mock_upstream.py --port 9100 [--cpu 0] [--chunk-delay-ms 0]``

Routes: ``GET /v1/models`` (one model, ``tasks: ["generate"]``); ``POST /v1/chat/completions``
non-streaming (a fixed completion) and streaming (``"stream": true``): exactly 20 content
chunks, a final chunk with ``finish_reason``, a usage chunk when
``stream_options.include_usage``, then ``data: [DONE]`` — 22 events, 23 with usage. Every
response is precomputed bytes; a stream writes one event per write (chunked encoding), yielding
to the event loop between writes (or sleeping ``--chunk-delay-ms``) so events leave as separate
TCP segments, as from a real server. HTTP/1.1 keep-alive; no pipelining (reading pauses while
a stream is written). Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from collections.abc import Sequence
from typing import cast

import httptools
import msgspec
from procs import run_fast

__all__ = ["CHUNKS", "MODEL", "main", "serve"]

MODEL = "bench-model"
CHUNKS = 20
_CREATED = 1_700_000_000
_ID = "chatcmpl-bench0000000000000000"
_USAGE = {"prompt_tokens": 12, "completion_tokens": CHUNKS, "total_tokens": 12 + CHUNKS}


class _StreamOptions(msgspec.Struct):
    include_usage: bool = False


class _ChatRequest(msgspec.Struct):
    stream: bool = False
    stream_options: _StreamOptions | None = None


_DECODER = msgspec.json.Decoder(_ChatRequest)


def _response(status: str, content_type: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _chunk(delta: dict[str, str], finish: str | None = None) -> dict[str, object]:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return {
        "id": _ID,
        "object": "chat.completion.chunk",
        "created": _CREATED,
        "model": MODEL,
        "choices": [choice],
    }


def _frame(payload: bytes) -> bytes:
    """One SSE event in one HTTP chunk."""
    data = b"data: " + payload + b"\n\n"
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _stream_frames(usage: bool) -> list[bytes]:
    events = [_chunk({"role": "assistant", "content": "Hello"})]
    events += [_chunk({"content": f" word{i}"}) for i in range(1, CHUNKS)]
    events.append(_chunk({}, finish="stop"))
    if usage:
        usage_event = {**_chunk({}), "choices": [], "usage": _USAGE}
        events.append(usage_event)
    frames = [_frame(msgspec.json.encode(event)) for event in events]
    return [*frames, _frame(b"[DONE]") + b"0\r\n\r\n"]


def _completion() -> bytes:
    text = "Hello" + "".join(f" word{i}" for i in range(1, CHUNKS))
    body = {
        "id": _ID,
        "object": "chat.completion",
        "created": _CREATED,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": _USAGE,
    }
    return _response("200 OK", "application/json", msgspec.json.encode(body))


def _models() -> bytes:
    entry = {"id": MODEL, "object": "model", "owned_by": "bench", "tasks": ["generate"]}
    body = msgspec.json.encode({"object": "list", "data": [entry]})
    return _response("200 OK", "application/json", body)


_STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)
_COMPLETION = _completion()
_MODELS = _models()
_NOT_FOUND = _response("404 Not Found", "application/json", b'{"error":{"message":"no route"}}')
_BAD = _response("400 Bad Request", "application/json", b'{"error":{"message":"bad JSON"}}')
_FRAMES = {False: _stream_frames(False), True: _stream_frames(True)}


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, delay: float) -> None:
        self._delay = delay
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._body = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.close()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body += body

    def on_message_complete(self) -> None:
        transport = self._transport
        assert transport is not None
        url, body, self._url, self._body = self._url, bytes(self._body), b"", bytearray()
        method = self._parser.get_method()
        if method == b"POST" and url == b"/v1/chat/completions":
            self._chat(transport, body)
        elif method == b"GET" and url == b"/v1/models":
            transport.write(_MODELS)
        else:
            transport.write(_NOT_FOUND)
        if not self._parser.should_keep_alive():
            transport.close()

    def _chat(self, transport: asyncio.Transport, body: bytes) -> None:
        try:
            request = _DECODER.decode(body)
        except msgspec.DecodeError:
            transport.write(_BAD)
            return
        if not request.stream:
            transport.write(_COMPLETION)
            return
        usage = bool(request.stream_options and request.stream_options.include_usage)
        transport.pause_reading()
        asyncio.get_running_loop().create_task(self._stream(transport, _FRAMES[usage]))

    async def _stream(self, transport: asyncio.Transport, frames: Sequence[bytes]) -> None:
        transport.write(_STREAM_HEAD + frames[0])
        for frame in frames[1:]:
            await asyncio.sleep(self._delay)
            if transport.is_closing():
                return
            transport.write(frame)
        transport.resume_reading()


async def serve(port: int, delay: float = 0.0, host: str = "127.0.0.1") -> None:
    """Serve until cancelled."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Connection(delay), host, port, backlog=1024)
    async with server:
        await server.serve_forever()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cpu", type=int, help="pin to this core")
    parser.add_argument("--chunk-delay-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    if args.cpu is not None and args.cpu < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {args.cpu})
    with contextlib.suppress(KeyboardInterrupt):
        run_fast(serve(args.port, args.chunk_delay_ms / 1000))


if __name__ == "__main__":
    main()
