"""One chatbot turn: retrieve, remember, build the prompt, call the gateway, store the turn.

The gateway service does what it does for ``/chat/completions`` (guards and budgets, filters,
routing with the chatbot's provider preferences and hard filter, attestation, verification,
usage under the caller with the chatbot's id). A chatbot with retrieval configured fails with the
kernel's 503 when no retriever is enabled — it never answers without its context. The turn is
stored (sealed) once the answer is complete; a stream stores it before its ``[DONE]``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import msgspec

from builtin_plugins.chatbots.payloads import Chatbot
from builtin_plugins.chatbots.prompt import build_messages, excerpt, text_of
from builtin_plugins.chatbots.runtime import ChatbotsRuntime
from builtin_plugins.chatbots.validation import model_info
from kernel.errors import (
    InvalidRequestError,
    NotFoundError,
    ServiceUnavailableError,
)
from kernel.exchange import Exchange
from kernel.roles import is_admin
from kernel.services import ChatGateway, ConversationMessage, Passage, Retriever
from kernel.types import Principal

__all__ = ["CONVERSATION_HEADER", "ChatTurn", "prepare_turn"]

CONVERSATION_HEADER = "x-enclava-conversation-id"
_ANSWER_RESERVE = 1024
_DONE = b"data: [DONE]"
_STRICTNESS = ("off", "async", "strict_trailer", "strict")


class ChatTurn:
    """A prepared turn: the exchange to send and what to store once it is answered."""

    def __init__(
        self,
        runtime: ChatbotsRuntime,
        exchange: Exchange,
        *,
        conversation_id: str,
        fresh: bool,
        new: list[ConversationMessage],
        sources: list[Passage],
        key_region: str | None,
    ) -> None:
        self.runtime = runtime
        self.exchange = exchange
        self.conversation_id = conversation_id
        self.fresh = fresh
        self.new = new
        self.sources = sources
        self.key_region = key_region

    def headers(self, extra: dict[str, str]) -> dict[str, str]:
        return {**extra, CONVERSATION_HEADER: self.conversation_id}

    def extras(self) -> dict[str, Any]:
        """The fields added to an answer: the conversation id and the sources used."""
        return {
            "conversation_id": self.conversation_id,
            "sources": msgspec.to_builtins(self.sources),
        }

    async def _store(self, answer: str) -> None:
        usage = self.exchange.usage
        reply = ConversationMessage(
            role="assistant",
            content=answer,
            created_at=datetime.now(UTC),
            tokens=usage.completion_tokens if usage else None,
            sources=self.sources,
        )
        store, turn = self.runtime.conversations, [*self.new, reply]
        exchange = self.exchange
        if not self.fresh:
            await store.append(self.conversation_id, turn)
            return
        owner = exchange.principal.owner_id if exchange.principal else ""
        chatbot = exchange.chatbot_id or ""
        await store.start(self.conversation_id, owner_id=owner, chatbot_id=chatbot, messages=turn)
        self.fresh = False

    async def complete(self, gateway: ChatGateway) -> tuple[int, bytes, str, dict[str, str]]:
        """Status, body, content type and headers of a non-streamed answer (turn stored)."""
        answer = await gateway.complete(self.exchange, key_region=self.key_region)
        if answer.status != 200:  # nothing stored: a new conversation does not exist yet
            headers = answer.headers if self.fresh else self.headers(answer.headers)
            return answer.status, answer.body, answer.content_type, headers
        headers = self.headers(answer.headers)
        data: dict[str, Any] = msgspec.json.decode(answer.body)
        choices = data.get("choices") or [{}]
        await self._store(text_of((choices[0].get("message") or {}).get("content")))
        body = msgspec.json.encode({**data, **self.extras()})
        return answer.status, body, answer.content_type, headers

    async def stream(
        self, gateway: ChatGateway, *, keep_usage: bool
    ) -> tuple[AsyncIterator[bytes], dict[str, str]]:
        """The SSE events (the gateway's, then a sources chunk before ``[DONE]``) and headers."""
        start = await gateway.stream(
            self.exchange, keep_usage=keep_usage, key_region=self.key_region
        )
        return self._relay(start.events), self.headers(start.headers)

    async def _relay(self, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        parts: list[str] = []
        stream_id = ""  # the provider's chunk id, which the sources chunk repeats
        async for chunk in events:  # one or more whole events: one send each, as they came
            out: list[bytes] = []
            for event in _events(chunk):
                if event.strip() == _DONE:
                    await self._store("".join(parts))
                    out.append(self._sources_event(stream_id))
                elif event.startswith(b"data: {"):
                    chunk_id, text = _delta(event[6:].rstrip())
                    parts.append(text)
                    stream_id = stream_id or chunk_id
                out.append(event)
            yield b"".join(out)
        if self.fresh:  # cut short: keep the id the client was given usable
            await self.runtime.conversations.start(
                self.conversation_id,
                owner_id=self.exchange.principal.owner_id if self.exchange.principal else "",
                chatbot_id=self.exchange.chatbot_id or "",
                messages=self.new,
            )

    def _sources_event(self, stream_id: str) -> bytes:
        """A chunk with no choices (SDKs accept it) carrying the conversation id and sources;
        it has the id of the stream's other chunks, as every chunk of one completion does."""
        chunk = {
            "id": stream_id or f"chatcmpl-{self.exchange.request_id}",
            "object": "chat.completion.chunk",
            "created": int(datetime.now(UTC).timestamp()),
            "model": self.exchange.model,
            "choices": [],
            **self.extras(),
        }
        return b"data: " + msgspec.json.encode(chunk) + b"\n\n"


def _events(chunk: bytes) -> list[bytes]:
    """The SSE events of ``chunk``, each with its blank line (a final unterminated one as is)."""
    *complete, rest = chunk.split(b"\n\n")
    events = [event + b"\n\n" for event in complete]
    return [*events, rest] if rest else events


def _delta(payload: bytes) -> tuple[str, str]:
    """(chunk id, text of choice 0's delta) of one streamed chunk; empty when unreadable."""
    try:
        data = msgspec.json.decode(payload)
    except msgspec.DecodeError:
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    found = data.get("id")
    chunk_id = found if isinstance(found, str) else ""
    for choice in data.get("choices") or []:
        if choice.get("index", 0) == 0:
            return chunk_id, text_of((choice.get("delta") or {}).get("content"))
    return chunk_id, ""


def _verifying(chatbot: Chatbot, principal: Principal) -> Principal:
    """``principal`` carrying the stricter of its key's and the chatbot's answer verification,
    which the verifiers read through ``KeyPolicy`` (a chatbot never loosens the key's). The
    gateway verifies each answer before (``strict``) or while (``strict_trailer``) the caller
    gets it, whoever the caller is: a user's session (the playground) is held to it too."""
    wanted = chatbot.response_verification
    if wanted is None:
        return principal
    held = principal.attributes.get("response_verification")
    if held in _STRICTNESS and _STRICTNESS.index(held) >= _STRICTNESS.index(wanted):
        return principal
    attributes = {**principal.attributes, "response_verification": wanted}
    return msgspec.structs.replace(principal, attributes=attributes)


def _region(chatbot: Chatbot, principal: Principal) -> str | None:
    key, own = principal.required_region, chatbot.required_region
    if key and own and key != own:
        raise ServiceUnavailableError(
            f"The chatbot requires region {own} and the API key region {key}: no provider can "
            "serve both.",
            code="no_available_provider",
        )
    return own or key


async def _conversation(
    runtime: ChatbotsRuntime, chatbot: Chatbot, principal: Principal, conversation_id: str | None
) -> tuple[str | None, list[ConversationMessage]]:
    """The continued conversation's id and memory (404 unless the caller may continue it; one
    SQL transaction), or None and no memory."""
    store = runtime.conversations
    if conversation_id is None:
        return None, []
    found = await store.continued(conversation_id, turns=chatbot.memory_turns)
    if (
        found is None
        or found[0].chatbot_id != chatbot.id
        or (found[0].owner_id != principal.owner_id and not is_admin(principal))
    ):
        raise NotFoundError(
            f"No conversation with id '{conversation_id}' for this chatbot.",
            param="conversation_id",
        )
    return conversation_id, store.memory(conversation_id, found[1])


async def _passages(
    runtime: ChatbotsRuntime, chatbot: Chatbot, principal: Principal, query: str
) -> list[Passage]:
    retrieval = chatbot.retrieval
    if retrieval is None:
        return []
    retriever = runtime.kernel.service(Retriever)  # 503 naming the plugin when it is off
    return await retriever.retrieve(
        principal,
        collections=retrieval.collections,
        query=query,
        top_k=retrieval.top_k,
        score_threshold=retrieval.score_threshold,
        mode=retrieval.mode,
    )


def _parameters(chatbot: Chatbot, body: dict[str, Any]) -> dict[str, Any]:
    """The forwarded body's parameters: the chatbot's win; the answer cap is the smaller one."""
    out = {k: v for k, v in body.items() if k not in {"conversation_id", "max_completion_tokens"}}
    if chatbot.temperature is not None:
        out["temperature"] = chatbot.temperature
    if chatbot.top_p is not None:
        out["top_p"] = chatbot.top_p
    asked = body.get("max_completion_tokens") or body.get("max_tokens")
    if asked is not None and (isinstance(asked, bool) or not isinstance(asked, int) or asked < 1):
        raise InvalidRequestError("`max_tokens` must be a positive integer.", param="max_tokens")
    caps = [c for c in (asked, chatbot.max_tokens) if c is not None]
    out.pop("max_tokens", None)
    if caps:
        out["max_tokens"] = min(caps)
    return out


def _new_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    new = body.get("messages")
    if not isinstance(new, list) or not new or not all(isinstance(m, dict) for m in new):
        raise InvalidRequestError("`messages` must be a non-empty list.", param="messages")
    if not any(m.get("role") == "user" for m in new):
        raise InvalidRequestError("`messages` must hold a user message.", param="messages")
    if not isinstance(body.get("stream", False), bool):
        raise InvalidRequestError("`stream` must be true or false.", param="stream")
    return new


async def _budget(runtime: ChatbotsRuntime, chatbot: Chatbot, answer: int | None) -> int:
    """Prompt tokens left once the answer is reserved, in the smallest context serving it."""
    infos = await model_info(runtime.kernel, msgspec.structs.asdict(chatbot))
    context = min([i.context_length for i in infos if i.context_length] or [0])
    context = context or runtime.settings.context_tokens
    if answer is not None and answer >= context:
        # Reserving it would leave no room for the prompt: passages and memory would be
        # silently dropped, so the caller is told instead.
        raise InvalidRequestError(
            f"`max_tokens` ({answer}) must be below the model's context of {context} tokens.",
            param="max_tokens",
        )
    return context - (answer or _ANSWER_RESERVE)


def _exchange(
    chatbot: Chatbot, principal: Principal, request_id: str, forwarded: dict[str, Any]
) -> Exchange:
    return Exchange(
        request_id=request_id,
        kind="chatbot",
        endpoint="/chat/completions",
        principal=principal,
        model=chatbot.model,
        body=msgspec.json.encode(forwarded),
        stream=bool(forwarded.get("stream")),
        max_tokens=forwarded.get("max_tokens"),
        chatbot_id=chatbot.id,
        preferred_providers=tuple(chatbot.preferred_providers),
        allowed_providers=tuple(chatbot.allowed_providers),
    )


async def prepare_turn(
    runtime: ChatbotsRuntime,
    chatbot: Chatbot,
    principal: Principal,
    *,
    request_id: str,
    body: dict[str, Any],
    conversation_id: str | None,
) -> ChatTurn:
    """Everything up to the gateway call: conversation, passages, memory, prompt, exchange."""
    new = _new_messages(body)
    key_region = _region(chatbot, principal)
    caller = _verifying(chatbot, principal)
    conversation, memory = await _conversation(runtime, chatbot, principal, conversation_id)
    query = text_of([m for m in new if m.get("role") == "user"][-1].get("content"))
    passages = await _passages(runtime, chatbot, principal, query)
    forwarded = {**_parameters(chatbot, body), "model": chatbot.model}
    forwarded["messages"], kept = build_messages(
        system_prompt=chatbot.system_prompt,
        passages=passages,
        cite=chatbot.retrieval.cite_sources if chatbot.retrieval else False,
        memory=memory,
        new=new,
        budget=await _budget(runtime, chatbot, forwarded.get("max_tokens")),
    )
    now = datetime.now(UTC)
    stored = [
        ConversationMessage(role="user", content=text_of(m.get("content")), created_at=now)
        for m in new
        if m.get("role") == "user"
    ]
    return ChatTurn(
        runtime,
        _exchange(chatbot, caller, request_id, forwarded),
        conversation_id=conversation or uuid.uuid4().hex,
        fresh=conversation is None,
        new=stored,
        sources=[excerpt(p) for p in kept],
        key_region=key_region,
    )
