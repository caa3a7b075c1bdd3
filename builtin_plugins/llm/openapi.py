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
    _embedding_may_be_base64(schemas["Embedding"])
    return schemas


def _embedding_may_be_base64(embedding: dict[str, Any]) -> None:
    """OpenAI's description types ``embedding`` as a list of floats only, yet with
    ``encoding_format: "base64"`` it is a string (little-endian float32s, base64) — by OpenAI and
    by the providers. The document must describe the answer clients really get."""
    floats = embedding["properties"]["embedding"]
    embedding["properties"]["embedding"] = {
        "description": floats.get("description", ""),
        "oneOf": [
            {key: value for key, value in floats.items() if key != "description"},
            {"type": "string", "description": 'With `encoding_format: "base64"`.'},
        ],
    }


def chat_doc() -> OperationDoc:
    """``POST /chat/completions``: OpenAI's request; a completion, or SSE chunks when streaming."""
    return OperationDoc(
        request=Body(content={"application/json": schema_ref("CreateChatCompletionRequest")}),
        responses={
            200: Body(
                description=(
                    "A chat completion; with `stream: true`, server-sent events whose `data` is "
                    "a chunk, ending with `data: [DONE]`, or with an `Error` event when the "
                    "provider fails after the stream began (failover is impossible by then)."
                ),
                content={
                    "application/json": schema_ref("CreateChatCompletionResponse"),
                    "text/event-stream": {
                        "oneOf": [
                            schema_ref("CreateChatCompletionStreamResponse"),
                            schema_ref("Error"),
                        ]
                    },
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
