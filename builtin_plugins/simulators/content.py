"""Deterministic "model output" for the simulators: replies, tool calls, JSON, embeddings.

Nothing here is random: the same request always yields the same text, so tests can assert on
it. A reply echoes the last user message (``"Simulated reply to: <words>"``); a token is a
whitespace-separated word, so ``prompt_tokens`` is the number of words in the messages and
``completion_tokens`` the number of words (stream pieces) generated; :class:`AnswerLength`
makes text answers as long as a billing worst case needs (the ``longest`` and ``overrun``
faults). Where the provider docs are silent, request fields follow OpenAI's Chat Completions and
Embeddings references.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

__all__ = [
    "LONGEST_WITHOUT_LIMIT",
    "AnswerLength",
    "ChatPlan",
    "ChoicePlan",
    "ToolCall",
    "count_tokens",
    "embedding_base64",
    "embedding_vector",
    "plan_chat",
    "text_of",
]

MAX_ECHO_WORDS = 48
MAX_CHOICES = 8
LONGEST_WITHOUT_LIMIT = 16_384
"""Tokens of a ``longest`` text answer to a request without ``max_tokens``."""
_PIECE = re.compile(r"\s*\S+")


class AnswerLength(msgspec.Struct, frozen=True, kw_only=True):
    """How long text answers are. ``longest``: every choice uses all the tokens the request
    allows (``max_completion_tokens`` / ``max_tokens``, else :data:`LONGEST_WITHOUT_LIMIT`)
    and no ``stop`` cuts it. ``overrun`` N: N tokens more than that, past any limit (a provider
    that does not honour ``max_tokens``). Tool calls and JSON answers keep their length."""

    longest: bool = False
    overrun: int = 0


NATURAL = AnswerLength()


class ToolCall(msgspec.Struct, frozen=True):
    """A function call the simulated model decided to make."""

    id: str
    name: str
    arguments: str


class ChoicePlan(msgspec.Struct, frozen=True):
    """One choice: text (split into stream pieces) or a tool call, and why it ended."""

    index: int
    pieces: tuple[str, ...]
    finish_reason: str
    tool_call: ToolCall | None = None

    @property
    def content(self) -> str | None:
        return None if self.tool_call else "".join(self.pieces)


class ChatPlan(msgspec.Struct, frozen=True):
    """Everything a chat response needs, computed once from the request."""

    choices: tuple[ChoicePlan, ...]
    prompt_tokens: int

    @property
    def completion_tokens(self) -> int:
        return sum(max(len(c.pieces), 1) for c in self.choices)


def text_of(content: object) -> str:
    """The text of a message ``content``: a string, or the ``text`` parts of a part list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict)]
        return " ".join(p for p in parts if isinstance(p, str))
    return ""


def count_tokens(text: str) -> int:
    """Simulated tokens: whitespace-separated words."""
    return len(text.split())


def _prompt_tokens(messages: Sequence[Mapping[str, Any]]) -> int:
    total = sum(count_tokens(text_of(m.get("content"))) for m in messages)
    return max(total, 1)


def _pieces(text: str) -> tuple[str, ...]:
    pieces = _PIECE.findall(text)
    rest = text[len("".join(pieces)) :]
    return (*pieces, rest) if rest else tuple(pieces)


def _reply_text(messages: Sequence[Mapping[str, Any]], index: int) -> str:
    last = messages[-1] if messages else {}
    words = text_of(last.get("content")).split()[:MAX_ECHO_WORDS]
    lead = (
        "Simulated reply to tool result:" if last.get("role") == "tool" else "Simulated reply to:"
    )
    alternative = f" (alternative {index})" if index else ""
    return (
        f"{lead}{alternative} {' '.join(words)}".rstrip()
        if words
        else f"Simulated reply{alternative}."
    )


def _apply_stop(text: str, stop: object) -> str:
    stops = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    cuts = [text.find(s) for s in stops if isinstance(s, str) and s and s in text]
    return text[: min(cuts)] if cuts else text


def _fill(schema: object, hint: str) -> object:
    if not isinstance(schema, dict):
        return hint
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if kind == "object":
        return {name: _fill(sub, hint) for name, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [_fill(schema.get("items"), hint)]
    return {"integer": 1, "number": 1, "boolean": True, "null": None}.get(str(kind), hint)


def _json_content(body: Mapping[str, Any], reply: str) -> str | None:
    fmt = body.get("response_format")
    if not isinstance(fmt, dict) or fmt.get("type") not in ("json_object", "json_schema"):
        return None
    schema = (fmt.get("json_schema") or {}).get("schema") if fmt["type"] == "json_schema" else None
    value = _fill(schema, reply) if isinstance(schema, dict) else {"reply": reply}
    return json.dumps(value, separators=(",", ":"))


def _wanted_tool(
    body: Mapping[str, Any], messages: Sequence[Mapping[str, Any]]
) -> dict[str, Any] | None:
    tools = [
        t["function"]
        for t in body.get("tools") or []
        if isinstance(t, dict) and isinstance(t.get("function"), dict)
    ]
    choice = body.get("tool_choice", "auto")
    if not tools or choice == "none" or not messages:
        return None
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        forced: dict[str, Any] | None = next((t for t in tools if t.get("name") == name), None)
        return forced
    if messages[-1].get("role") != "user":
        return None
    asked = text_of(messages[-1].get("content")).lower()
    for tool in tools:
        name = str(tool.get("name", "")).lower()
        if name and (name in asked or name.replace("_", " ") in asked):
            found: dict[str, Any] = tool
            return found
    first: dict[str, Any] = tools[0]
    return first if choice == "required" else None


def _tool_call(
    tool: Mapping[str, Any], messages: Sequence[Mapping[str, Any]], index: int
) -> ToolCall:
    hint = " ".join(text_of(messages[-1].get("content")).split()[:8])
    args = _fill(tool.get("parameters") or {"type": "object", "properties": {}}, hint)
    arguments = json.dumps(args)
    name = str(tool.get("name", "function"))
    digest = hashlib.sha256(f"{name}\0{arguments}\0{index}".encode()).hexdigest()
    return ToolCall(id=f"call_{digest[:24]}", name=name, arguments=arguments)


def _limit(body: Mapping[str, Any]) -> int | None:
    value = body.get("max_completion_tokens", body.get("max_tokens"))
    return value if isinstance(value, int) and value > 0 else None


def _stretch(pieces: tuple[str, ...], count: int) -> tuple[str, ...]:
    """``count`` pieces: ``pieces`` cut short, or continued with their words over again."""
    if count <= len(pieces):
        return pieces[:count]
    words = [p.strip() for p in pieces] or ["token"]
    return pieces + tuple(f" {words[i % len(words)]}" for i in range(count - len(pieces)))


def _sized(reply: str, body: Mapping[str, Any], length: AnswerLength) -> ChoicePlan:
    limit = _limit(body)
    if length.longest:
        count, pieces = limit or LONGEST_WITHOUT_LIMIT, _pieces(reply)
    else:
        pieces = _pieces(_apply_stop(reply, body.get("stop")))
        count = len(pieces) if limit is None else min(len(pieces), limit)
    truncated = length.longest or count < len(pieces) or length.overrun > 0
    pieces = _stretch(pieces, count + length.overrun)
    return ChoicePlan(index=0, pieces=pieces, finish_reason="length" if truncated else "stop")


def _plan_choice(
    body: Mapping[str, Any],
    messages: Sequence[Mapping[str, Any]],
    index: int,
    length: AnswerLength,
) -> ChoicePlan:
    tool = _wanted_tool(body, messages)
    if tool is not None:
        call = _tool_call(tool, messages, index)
        return ChoicePlan(index=index, pieces=(), finish_reason="tool_calls", tool_call=call)
    reply = _reply_text(messages, index)
    as_json = _json_content(body, reply)
    if as_json is not None:
        pieces = tuple(as_json[i : i + 12] for i in range(0, len(as_json), 12))
        return ChoicePlan(index=index, pieces=pieces, finish_reason="stop")
    return msgspec.structs.replace(_sized(reply, body, length), index=index)


def plan_chat(body: Mapping[str, Any], length: AnswerLength = NATURAL) -> ChatPlan:
    """The deterministic answer to a (validated) chat completion request body."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    n = body.get("n")
    count = min(max(n, 1), MAX_CHOICES) if isinstance(n, int) else 1
    choices = tuple(_plan_choice(body, messages, i, length) for i in range(count))
    return ChatPlan(choices=choices, prompt_tokens=_prompt_tokens(messages))


def embedding_vector(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector for ``text``, exactly representable as float32.

    Prefixes are stable (matryoshka-like): the first k values of a longer vector, renormalized,
    equal the k-dimensional vector.
    """
    raw = hashlib.shake_256(text.encode("utf-8")).digest(dimensions * 2)
    values = struct.unpack(f"<{dimensions}h", raw)
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    packed = struct.pack(f"<{dimensions}f", *(v / norm for v in values))
    return list(struct.unpack(f"<{dimensions}f", packed))


def embedding_base64(vector: Sequence[float]) -> str:
    """OpenAI's ``encoding_format: base64``: little-endian float32 array, base64."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
