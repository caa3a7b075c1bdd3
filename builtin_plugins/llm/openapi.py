"""OpenAPI declarations of the handlers that forward raw bodies: OpenAI's own schemas.

The schemas are the part of OpenAI's published description these endpoints use
(``openai/components.json``, made by ``scripts/trim_openai_schema.py``); they are read when the
document is first built, never at boot.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kernel.openapi import Body, OperationDoc, schema_ref

__all__ = ["OPENAI_COMPONENTS", "chat_doc", "embeddings_doc", "openai_schemas"]

OPENAI_COMPONENTS = Path(__file__).resolve().parent / "openai" / "components.json"


def openai_schemas() -> dict[str, Any]:
    """OpenAI's component schemas for chat completions and embeddings, by name."""
    schemas: dict[str, Any] = json.loads(OPENAI_COMPONENTS.read_text(encoding="utf-8"))["schemas"]
    return schemas


def chat_doc() -> OperationDoc:
    """``POST /chat/completions``: OpenAI's request; a completion, or SSE chunks when streaming."""
    return OperationDoc(
        request=Body(content={"application/json": schema_ref("CreateChatCompletionRequest")}),
        responses={
            200: Body(
                description=(
                    "A chat completion; with `stream: true`, server-sent events whose `data` is "
                    "a chunk, ending with `data: [DONE]`."
                ),
                content={
                    "application/json": schema_ref("CreateChatCompletionResponse"),
                    "text/event-stream": schema_ref("CreateChatCompletionStreamResponse"),
                },
            )
        },
        components=openai_schemas,
    )


def embeddings_doc() -> OperationDoc:
    """``POST /embeddings``: OpenAI's request and response."""
    return OperationDoc(
        request=Body(content={"application/json": schema_ref("CreateEmbeddingRequest")}),
        responses={
            200: Body(
                description="The embeddings, in input order.",
                content={"application/json": schema_ref("CreateEmbeddingResponse")},
            )
        },
        components=openai_schemas,
    )
