"""Chat filters around the provider call: requests before routing, non-streamed answers after.

Bodies are decoded only when at least one filter is enabled. A filter that raises fails the
request closed — its own :class:`EnclavaError` as is, anything else as ``chat_filter_failed``
naming it — unless the admin marked it ``fail_open``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec

from kernel.errors import EnclavaError, InternalError
from kernel.exchange import ChatFilter, Exchange

__all__ = ["ChatFilterError", "filter_request", "filter_response"]

log = logging.getLogger(__name__)

Step = Callable[[ChatFilter, Exchange, dict[str, Any]], Awaitable[dict[str, Any] | None]]


class ChatFilterError(InternalError):
    """A chat filter failed; nothing was forwarded (request) or released (answer)."""

    default_code = "chat_filter_failed"


async def _request_step(
    chat_filter: ChatFilter, exchange: Exchange, data: dict[str, Any]
) -> dict[str, Any] | None:
    return await chat_filter.on_request(exchange, data)


async def _response_step(
    chat_filter: ChatFilter, exchange: Exchange, data: dict[str, Any]
) -> dict[str, Any] | None:
    return await chat_filter.on_response(exchange, data)


async def _run(
    filters: Sequence[ChatFilter], exchange: Exchange, body: bytes, step: Step, what: str
) -> bytes:
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return body
    if not isinstance(data, dict):
        return body
    changed = False
    for chat_filter in filters:
        try:
            result = await step(chat_filter, exchange, data)
        except Exception as exc:
            if chat_filter.fail_open:
                log.warning(
                    "chat filter %s failed on the %s; skipped (fail_open)", chat_filter.name, what
                )
                continue
            if isinstance(exc, EnclavaError):
                raise
            log.warning(
                "chat filter %s failed on the %s: %s", chat_filter.name, what, type(exc).__name__
            )
            raise ChatFilterError(
                f"The chat filter `{chat_filter.name}` failed on the {what}; nothing was sent."
            ) from None
        if result is not None:
            data, changed = result, True
    return msgspec.json.encode(data) if changed else body


async def filter_request(filters: Sequence[ChatFilter], exchange: Exchange, body: bytes) -> bytes:
    """``body`` as the enabled filters rewrite it (the same bytes when none changes it)."""
    if not filters:
        return body
    return await _run(filters, exchange, body, _request_step, "request")


async def filter_response(filters: Sequence[ChatFilter], exchange: Exchange, body: bytes) -> bytes:
    """A non-streamed chat answer as the enabled filters rewrite it."""
    if not filters:
        return body
    return await _run(filters, exchange, body, _response_step, "response")
