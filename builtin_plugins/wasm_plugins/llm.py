"""``llm-chat``: a sandboxed plugin's chat call through the gateway, as the plugin itself.

The call is an ``Exchange`` of kind ``plugin`` with a ``plugin`` principal, so it passes the
same guards as any other (the plugin's own budget, a usage record naming the plugin), routing,
attestation and verification. Streaming is not offered; the answer comes back whole.
"""

from __future__ import annotations

import uuid

import msgspec

from builtin_plugins.llm.exchange import error_code_of
from builtin_plugins.llm.gateway import GATEWAY
from builtin_plugins.llm.wire import ChatView, decode_view
from kernel.errors import EnclavaError
from kernel.exchange import Exchange
from kernel.runtime import Kernel
from kernel.sandbox.imports import LlmChat, LlmRefused
from kernel.types import Principal

__all__ = ["plugin_chat", "plugin_principal"]


class _Message(msgspec.Struct):
    message: str = ""


class _Error(msgspec.Struct):
    error: _Message | None = None


def _message_of(body: bytes) -> str:
    try:
        detail = msgspec.json.decode(body, type=_Error).error
    except msgspec.DecodeError:
        return "the provider refused the request"
    return detail.message if detail else ""


def plugin_principal(plugin: str) -> Principal:
    """Who a plugin's own calls run as: ``plugin`` principal owned by ``plugin:<name>``."""
    return Principal(kind="plugin", id=plugin, owner_id=f"plugin:{plugin}")


def plugin_chat(kernel: Kernel) -> LlmChat:
    """The ``llm-chat`` implementation for ``kernel``'s plugins."""

    async def chat(plugin: str, body: bytes) -> bytes:
        gateway = kernel.stash.get(GATEWAY)
        if gateway is None or "llm" not in kernel.components.enabled:
            raise LlmRefused("the gateway's llm plugin is disabled")
        try:
            view = decode_view(body, ChatView)
            exchange = Exchange(
                request_id=f"req_{uuid.uuid4().hex}",
                kind="plugin",
                endpoint="/chat/completions",
                principal=plugin_principal(plugin),
                model=view.model,
                body=body,
                stream=False,
                max_tokens=view.max_completion_tokens or view.max_tokens,
                plugin=plugin,
            )
            answer = await gateway.complete(exchange)
        except EnclavaError as exc:
            raise LlmRefused(f"{exc.code or exc.error_type}: {exc.message}") from None
        if answer.status != 200:
            code = error_code_of(answer.status, answer.body)
            raise LlmRefused(f"{code}: {_message_of(answer.body)}")
        return answer.body

    return chat
