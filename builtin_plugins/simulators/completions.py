"""OpenAI-shaped bodies both simulators serve: chat completion, chunk stream, embedding list.

Both providers relay vLLM, so the shapes are OpenAI's (``openapi.json`` schemas
``CreateChatCompletionResponse``, ``CreateChatCompletionStreamResponse``,
``CreateEmbeddingResponse``) plus vLLM's extra members where the provider docs show them
(Privatemode's chat example: ``stop_reason``, ``prompt_logprobs``, ``tool_calls: []``; its
embeddings example: ``id`` and ``created``). Stream order follows OpenAI: a role chunk, content
(or tool-call) deltas, a chunk with ``finish_reason``, then with ``stream_options.include_usage``
a usage chunk with empty ``choices`` (every earlier chunk then carries ``"usage": null``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from builtin_plugins.simulators.content import (
    ChatPlan,
    ChoicePlan,
    embedding_base64,
    embedding_vector,
)

__all__ = [
    "chat_chunks",
    "chat_completion",
    "embedding_list",
    "include_usage",
    "new_chat_id",
    "usage",
]

ARGUMENT_SLICE = 16


def new_chat_id() -> str:
    """A fresh ``chatcmpl-<32 hex>`` id, as vLLM makes them."""
    return f"chatcmpl-{uuid.uuid4().hex}"


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    """OpenAI ``CompletionUsage``."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def include_usage(body: Mapping[str, Any]) -> bool:
    """Whether the request asked for the final usage chunk."""
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def _logprobs(pieces: Sequence[str]) -> dict[str, Any]:
    entries = [
        {"token": p, "logprob": 0.0, "bytes": list(p.encode("utf-8")), "top_logprobs": []}
        for p in pieces
    ]
    return {"content": entries, "refusal": None}


def _tool_calls(choice: ChoicePlan) -> list[dict[str, Any]]:
    call = choice.tool_call
    if call is None:
        return []
    function = {"name": call.name, "arguments": call.arguments}
    return [{"id": call.id, "type": "function", "function": function}]


def chat_completion(
    plan: ChatPlan, *, chat_id: str, model: str, logprobs: bool = False
) -> dict[str, Any]:
    """A ``chat.completion`` object for ``plan``."""
    choices = [
        {
            "index": c.index,
            "message": {
                "role": "assistant",
                "content": c.content,
                "refusal": None,
                "tool_calls": _tool_calls(c),
            },
            "logprobs": _logprobs(c.pieces) if logprobs and c.tool_call is None else None,
            "finish_reason": c.finish_reason,
            "stop_reason": None,
        }
        for c in plan.choices
    ]
    return {
        "id": chat_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": usage(plan.prompt_tokens, plan.completion_tokens),
        "prompt_logprobs": None,
    }


def _deltas(choice: ChoicePlan, logprobs: bool) -> Iterator[dict[str, Any]]:
    yield {
        "index": choice.index,
        "delta": {"role": "assistant", "content": ""},
        "logprobs": None,
        "finish_reason": None,
    }
    call = choice.tool_call
    if call is not None:
        head = {
            "index": 0,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        yield {
            "index": choice.index,
            "delta": {"tool_calls": [head]},
            "logprobs": None,
            "finish_reason": None,
        }
        for at in range(0, len(call.arguments), ARGUMENT_SLICE):
            part = {
                "index": 0,
                "function": {"arguments": call.arguments[at : at + ARGUMENT_SLICE]},
            }
            yield {
                "index": choice.index,
                "delta": {"tool_calls": [part]},
                "logprobs": None,
                "finish_reason": None,
            }
    for piece in choice.pieces:
        yield {
            "index": choice.index,
            "delta": {"content": piece},
            "logprobs": _logprobs([piece]) if logprobs else None,
            "finish_reason": None,
        }
    yield {
        "index": choice.index,
        "delta": {},
        "logprobs": None,
        "finish_reason": choice.finish_reason,
        "stop_reason": None,
    }


def chat_chunks(
    plan: ChatPlan,
    *,
    chat_id: str,
    model: str,
    with_usage: bool,
    logprobs: bool = False,
) -> Iterator[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects of a stream, every one with the same ``id``."""
    created = int(time.time())
    head: dict[str, Any] = {
        "id": chat_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
    }
    tail = {"usage": None} if with_usage else {}
    for choice in plan.choices:
        for delta in _deltas(choice, logprobs):
            yield {**head, "choices": [delta], **tail}
    if with_usage:
        yield {**head, "choices": [], "usage": usage(plan.prompt_tokens, plan.completion_tokens)}


def embedding_list(
    texts: Sequence[str],
    *,
    model: str,
    dimensions: int,
    encoding_format: str,
    vllm_members: bool,
) -> dict[str, Any]:
    """An embedding ``list``; ``vllm_members`` adds vLLM's ``id`` and ``created``."""
    data = []
    for index, text in enumerate(texts):
        vector = embedding_vector(text, dimensions)
        value: object = embedding_base64(vector) if encoding_format == "base64" else vector
        data.append({"index": index, "object": "embedding", "embedding": value})
    tokens = max(sum(len(t.split()) for t in texts), 1)
    body: dict[str, Any] = {
        "object": "list",
        "model": model,
        "data": data,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    if vllm_members:
        body = {"id": f"embd-{uuid.uuid4().hex}", "created": int(time.time()), **body}
    return body
