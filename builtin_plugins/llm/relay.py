"""Relays a provider's SSE stream to the client: the complete events of each upstream read.

It captures the usage event (always requested upstream) into the exchange and drops it when the
client did not ask for it, and ends the stream with an SSE error event if the provider fails
after bytes went out: failover is impossible then, and duplicate content must not be sent.
When the answer must be verified, every raw byte is kept; ``before_done`` (``strict_trailer``
policy) runs before ``[DONE]`` is released and may replace it with an error event.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable

import msgspec

from builtin_plugins.llm.exchange import usage_of
from kernel.errors import EnclavaError, UpstreamError
from kernel.exchange import Exchange

__all__ = ["BeforeDone", "relay_sse", "sse_error"]

log = logging.getLogger(__name__)
_USAGE_ONLY = b'"choices":[]'
_DONE = b"data: [DONE]"

BeforeDone = Callable[[bytes], Awaitable[EnclavaError | None]]
"""Gets every raw byte received; returns an error to send instead of ``[DONE]``, or None."""


def sse_error(error: EnclavaError) -> bytes:
    """An SSE event carrying an OpenAI-shaped error (the openai SDK raises on it)."""
    return b"data: " + msgspec.json.encode(error.envelope()) + b"\n\n"


async def relay_sse(
    first: bytes,
    upstream: AsyncIterator[bytes],
    exchange: Exchange,
    *,
    keep_usage: bool,
    capture: bytearray | None = None,
    before_done: BeforeDone | None = None,
) -> AsyncGenerator[bytes, None]:
    """Yield the complete SSE events from ``first`` + ``upstream``, those of one read together
    (never a partial event); see the module docstring."""
    pending = first
    if capture is not None:
        capture += first
    try:
        while True:
            *events, pending = pending.split(b"\n\n")
            out: list[bytes] = []  # one ASGI send per upstream read, not one per event
            for event in events:
                if b'"usage"' in event and event.startswith(b"data: {"):
                    if not _note_usage(event, exchange, keep_usage):
                        continue
                elif before_done is not None and event.strip() == _DONE:
                    refusal = await before_done(bytes(capture or b""))
                    if refusal is not None:
                        exchange.error_code = refusal.code
                        yield b"".join(out) + sse_error(refusal)
                        return
                out += (event, b"\n\n")
            if out:
                yield b"".join(out)
            try:
                chunk = await anext(upstream)
            except StopAsyncIteration:
                break
            pending += chunk
            if capture is not None:
                capture += chunk
        if pending.strip():
            yield pending
    except UpstreamError as exc:
        yield _mid_stream_error(exc, exchange)
    finally:
        await upstream.aclose()  # type: ignore[attr-defined]


def _note_usage(event: bytes, exchange: Exchange, keep_usage: bool) -> bool:
    """Record the usage a ``data: {...}`` event carries; False when the event is the usage-only
    chunk the client did not ask for (it is dropped)."""
    usage = usage_of(event[6:])
    if usage is None:
        return True
    exchange.usage = usage
    return keep_usage or _USAGE_ONLY not in event.replace(b" ", b"")


def _mid_stream_error(exc: UpstreamError, exchange: Exchange) -> bytes:
    """The error event that ends a stream whose provider failed after bytes went out."""
    log.warning("provider %s failed mid-stream: %s", exc.provider, exc.message)
    exchange.error_code = exc.code
    return sse_error(
        UpstreamError(
            "The provider failed while streaming; the response is incomplete.",
            provider=exc.provider,
        )
    )
