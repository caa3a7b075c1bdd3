"""OpenAPI declarations of the chat handlers, which read raw bodies and answer raw bytes.

The OpenAI-compatible endpoint is described by Structs of its own (OpenAI's fields that matter
here plus ``conversation_id`` and ``sources``), so the document never depends on another plugin.
"""

from __future__ import annotations

from typing import Any

import msgspec

from builtin_plugins.chatbots.payloads import SimpleChat, SimpleChatAnswer
from kernel.openapi import Body, OperationDoc
from kernel.services import Passage

__all__ = ["completions_doc", "simple_chat_doc"]


class ChatbotCompletionRequest(msgspec.Struct, kw_only=True):
    """OpenAI's chat request; only new messages; ``model`` is ignored (the chatbot's is used);
    other OpenAI fields are forwarded."""

    messages: list[dict[str, Any]]
    model: str | None = None
    stream: bool = False
    max_tokens: int | None = None
    conversation_id: str | None = None


class ChatbotCompletion(msgspec.Struct, kw_only=True):
    """OpenAI's chat completion plus the conversation id and the sources used."""

    id: str
    object: str
    created: int
    model: str
    choices: list[dict[str, Any]]
    usage: dict[str, Any] | None = None
    conversation_id: str
    sources: list[Passage]


class ChatbotCompletionChunk(msgspec.Struct, kw_only=True):
    """One SSE ``data`` chunk; the last before ``[DONE]`` has no choices and carries
    ``conversation_id`` and ``sources``."""

    id: str
    object: str
    created: int
    model: str
    choices: list[dict[str, Any]]
    conversation_id: str | None = None
    sources: list[Passage] | None = None


_STREAM = "Server-sent events framed like `/chat/completions`, ending with `data: [DONE]`."


def completions_doc() -> OperationDoc:
    return OperationDoc(
        request=Body(content={"application/json": ChatbotCompletionRequest}),
        responses={
            200: Body(
                description=f"A chat completion; with `stream: true`: {_STREAM}",
                content={
                    "application/json": ChatbotCompletion,
                    "text/event-stream": ChatbotCompletionChunk,
                },
            )
        },
    )


def simple_chat_doc() -> OperationDoc:
    return OperationDoc(
        request=Body(content={"application/json": SimpleChat}),
        responses={
            200: Body(
                description=f"The answer; with `stream: true`: {_STREAM}",
                content={
                    "application/json": SimpleChatAnswer,
                    "text/event-stream": ChatbotCompletionChunk,
                },
            )
        },
    )
