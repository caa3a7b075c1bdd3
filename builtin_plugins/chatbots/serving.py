"""Turning a prepared chatbot turn into an HTTP answer: JSON, or SSE framed like
``/chat/completions`` (the gateway's events, a sources chunk, ``[DONE]``)."""

from __future__ import annotations

from typing import Any

from litestar import Response
from litestar.response import Stream

from builtin_plugins.chatbots.chat import ChatTurn
from kernel.errors import InvalidRequestError, UpstreamError
from kernel.responses import error_response
from kernel.services import ChatGateway
from kernel.streaming import BodyStream

__all__ = ["answer_turn", "keeps_usage", "stream_turn"]


async def answer_turn(turn: ChatTurn, gateway: ChatGateway) -> Response[bytes]:
    status, body, media, headers = await turn.complete(gateway)
    return Response(content=body, status_code=status, media_type=media, headers=headers)


async def stream_turn(
    turn: ChatTurn, gateway: ChatGateway, *, keep_usage: bool
) -> Stream | Response[bytes]:
    """The SSE answer; a provider's client error before the first byte keeps its status."""
    try:
        events, headers = await turn.stream(gateway, keep_usage=keep_usage)
    except UpstreamError as exc:
        status = exc.upstream_status or 0
        if exc.retryable or not 400 <= status < 500:
            raise
        error = InvalidRequestError(exc.message, param=exc.param, code=exc.code)
        return error_response(error, status=status)
    return BodyStream(
        events, media_type="text/event-stream", headers={**headers, "cache-control": "no-cache"}
    )


def keeps_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))
