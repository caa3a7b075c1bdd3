"""The SSE relay: what one upstream read brings goes out in one chunk of whole events."""

from __future__ import annotations

from collections.abc import AsyncIterator

from builtin_plugins.llm.relay import relay_sse
from kernel.exchange import Exchange

CONTENT = b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
USAGE = b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1}}\n\n'
DONE = b"data: [DONE]\n\n"


def _exchange() -> Exchange:
    return Exchange(
        request_id="req_relay",
        kind="chat",
        endpoint="/chat/completions",
        principal=None,
        model="m",
        body=b"{}",
        stream=True,
    )


async def _reads(*reads: bytes) -> AsyncIterator[bytes]:
    for read in reads:
        yield read


async def _relayed(first: bytes, *reads: bytes, keep_usage: bool) -> tuple[list[bytes], Exchange]:
    exchange = _exchange()
    relay = relay_sse(first, _reads(*reads), exchange, keep_usage=keep_usage)
    return [chunk async for chunk in relay], exchange


async def test_the_events_of_one_read_go_out_together() -> None:
    chunks, _ = await _relayed(CONTENT + CONTENT, CONTENT + DONE, keep_usage=False)
    assert chunks == [CONTENT + CONTENT, CONTENT + DONE]


async def test_an_event_split_across_reads_goes_out_whole_once_complete() -> None:
    cut = len(CONTENT) // 2
    chunks, _ = await _relayed(CONTENT + CONTENT[:cut], CONTENT[cut:], DONE, keep_usage=False)
    assert chunks == [CONTENT, CONTENT, DONE]


async def test_the_usage_event_is_captured_and_dropped_unless_asked_for() -> None:
    dropped, exchange = await _relayed(CONTENT, USAGE + DONE, keep_usage=False)
    assert dropped == [CONTENT, DONE]
    assert exchange.usage is not None
    assert (exchange.usage.prompt_tokens, exchange.usage.completion_tokens) == (3, 1)
    kept, _ = await _relayed(CONTENT, USAGE + DONE, keep_usage=True)
    assert kept == [CONTENT, USAGE + DONE]
