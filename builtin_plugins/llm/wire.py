"""The few request fields the gateway reads; everything else is forwarded untouched."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from kernel.errors import InvalidRequestError

__all__ = [
    "ChatView",
    "EmbeddingsView",
    "ModelEntry",
    "ModelList",
    "StreamOptions",
    "decode_view",
    "rewrite",
]


T = TypeVar("T")
_FIELD = re.compile(r"field `(\w+)`|at `\$\.(\w+)")


class StreamOptions(msgspec.Struct):
    include_usage: bool = False


class ChatView(msgspec.Struct):
    """What routing needs from a chat request (unknown fields are ignored here, kept upstream)."""

    model: str
    messages: list[Any]
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None


class EmbeddingsView(msgspec.Struct):
    model: str
    input: str | list[Any]


class ModelEntry(msgspec.Struct, kw_only=True):
    """One entry of ``GET /models``: OpenAI's fields plus where and how it is served."""

    id: str
    object: str = "model"
    created: int = 0
    owned_by: str
    providers: list[str]
    regions: list[str]
    tasks: list[str]
    confidential: bool = True


class ModelList(msgspec.Struct):
    data: list[ModelEntry]
    object: str = "list"


def decode_view(body: bytes, view: type[T]) -> T:
    """Decode ``body`` into ``view``; InvalidRequestError (400) for bad JSON or fields."""
    try:
        return msgspec.json.decode(body, type=view)
    except msgspec.ValidationError as exc:
        match = _FIELD.search(str(exc))
        param = next((g for g in match.groups() if g), None) if match else None
        raise InvalidRequestError(f"Invalid request body: {exc}", param=param) from None
    except msgspec.DecodeError:
        raise InvalidRequestError("We could not parse the JSON body of your request.") from None


def rewrite(body: bytes, *, model: str | None, include_usage: bool) -> bytes:
    """``body`` with the provider's model id and/or ``stream_options.include_usage`` set.

    Untouched (no re-encoding) when neither is needed: the common case forwards the client's bytes.
    """
    if model is None and not include_usage:
        return body
    data: dict[str, Any] = msgspec.json.decode(body)
    if model is not None:
        data["model"] = model
    if include_usage:
        options = data.get("stream_options")
        extra = options if isinstance(options, dict) else {}
        data["stream_options"] = {**extra, "include_usage": True}
    return msgspec.json.encode(data)
