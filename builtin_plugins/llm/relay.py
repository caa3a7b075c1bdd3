"""Relays a provider's SSE stream to the client event by event.

It captures the usage event (always requested upstream) and drops it when the client did not ask
for it, and ends the stream with an SSE error event if the provider fails after bytes went out:
failover is impossible then, and duplicate content must not be sent.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

import msgspec

from kernel.errors import EnclavaError, UpstreamError

__all__ = ["Usage", "relay_sse", "sse_error"]

log = logging.getLogger(__name__)
_USAGE_ONLY = b'"choices":[]'


class Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class _UsageEvent(msgspec.Struct):
    usage: Usage | None = None


_USAGE_DECODER = msgspec.json.Decoder(_UsageEvent)


def sse_error(error: EnclavaError) -> bytes:
    """An SSE event carrying an OpenAI-shaped error (the openai SDK raises on it)."""
    return b"data: " + msgspec.json.encode(error.envelope()) + b"\n\n"


def _usage_of(event: bytes) -> Usage | None:
    if b'"usage"' not in event or not event.startswith(b"data: {"):
        return None
    try:
        return _USAGE_DECODER.decode(event[6:]).usage
    except msgspec.DecodeError:
        return None


async def relay_sse(
    first: bytes,
    upstream: AsyncIterator[bytes],
    *,
    keep_usage: bool,
    on_usage: Callable[[Usage], None],
) -> AsyncIterator[bytes]:
    """Yield complete SSE events from ``first`` + ``upstream``; see the module docstring."""
    pending = first
    try:
        while True:
            *events, pending = pending.split(b"\n\n")
            for event in events:
                usage = _usage_of(event) if b'"usage"' in event else None
                if usage is not None:
                    on_usage(usage)
                    if not keep_usage and _USAGE_ONLY in event.replace(b" ", b""):
                        continue
                yield event + b"\n\n"
            try:
                pending += await anext(upstream)
            except StopAsyncIteration:
                break
        if pending.strip():
            yield pending
    except UpstreamError as exc:
        log.warning("provider %s failed mid-stream: %s", exc.provider, exc.message)
        yield sse_error(
            UpstreamError(
                "The provider failed while streaming; the response is incomplete.",
                provider=exc.provider,
            )
        )
    finally:
        await upstream.aclose()  # type: ignore[attr-defined]
